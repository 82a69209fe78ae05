"""SIGKILL a training run, at random and during checkpoint writes, and resume it: the end is the
same, bit for bit, as a run never interrupted (bench/kill_and_resume.py at toy size)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "kill_and_resume.py"


def test_a_run_killed_mid_step_and_mid_save_resumes_to_the_same_bits():
    result = subprocess.run([sys.executable, str(SCRIPT), "--kills", "2", "--steps", "60"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "equals the uninterrupted one bit for bit" in summary and "temporary files left: 0" in summary
    assert summary.startswith("2 SIGKILLs") or summary.startswith("1 SIGKILLs"), summary  # a fast run may finish first
