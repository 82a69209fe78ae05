"""How long each notebook of the book takes and how much memory it needs, in a profile.

    python bench/budgets.py                                  # every notebook in _toc.yml, smoke profile
    python bench/budgets.py --notebooks book/introduction/generative_models.ipynb --output /tmp/b.json

Each notebook runs top to bottom on a fresh kernel, in its own folder, on a copy (the file is not
touched), in the profile given (default smoke, on the synthetic digits unless --dataset says
otherwise). Its wall time and its kernel's peak resident memory (Linux's VmHWM, read after every
cell: `gentut.notebooks.PeakMemory`) are printed against the book's targets (all notebooks in the
smoke profile under 3 minutes together, none above 2 GB), beside the cpu profile's figures that
`make execute` recorded in each notebook's metadata (seconds always; peak memory for runs made
since it is recorded). The table goes to bench/results/budgets_<profile>.json with its
provenance and, for each notebook, the SHA-256 of its code cells (`gentut.notebooks.code_sha256`):
tests/test_results.py calls a row stale when the notebook's code has changed since, and checks the
runtime box at the top of each chapter against these files and the stored run records. With
--notebooks, the rows of those notebooks replace theirs in an existing file and the others stay,
each with the date it was measured.

    python bench/budgets.py --profile cpu --dataset fashion-mnist   # the cpu profile (~40 min)
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gentut.notebooks import PeakMemory, code_sha256, environment, toc_notebooks  # noqa: E402
from gentut.results import read_results, results_path, write_results  # noqa: E402

SMOKE_TOTAL_SECONDS = 180  # the book's targets (issue 16)
CPU_TOTAL_SECONDS = 45 * 60
PEAK_MB = 2048


def output_path(profile: str) -> Path:
    """Where the budgets of `profile` are kept."""
    return results_path(f"budgets_{profile}.json")


def run(path: Path, profile: str, dataset: str) -> tuple[float, float | None]:
    """Seconds and peak kernel memory (MB) of one run of the notebook at `path`."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    peak = PeakMemory()
    client = NotebookClient(nb, timeout=3600, kernel_name="python3", on_cell_executed=peak,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    peak.client = client
    with environment(GENTUT_PROFILE=profile, GENTUT_DATASET=dataset):
        start = time.perf_counter()
        client.execute()
        return time.perf_counter() - start, peak.mb


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke", choices=["smoke", "cpu", "gpu"])
    parser.add_argument("--dataset", default="synthetic-digits")
    parser.add_argument("--notebooks", nargs="+", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=None, help="default bench/results/budgets_<profile>.json")
    args = parser.parse_args(argv)
    output = args.output or output_path(args.profile)
    notebooks = args.notebooks or [ROOT / p for p in toc_notebooks(ROOT)]
    started = time.perf_counter()
    rows: dict[str, dict] = {}
    if args.notebooks is not None and output.is_file():  # keep the rows of the notebooks not run now
        earlier = read_results(output)
        for name, row in earlier["results"]["notebooks"].items():
            rows[name] = {**row, "date": row.get("date", earlier["date"])}
    print(f"{args.profile} profile on {args.dataset}; cpu columns: the stored outputs' run records")
    print(f"{'notebook':<44} {'seconds':>8} {'peak MB':>8}   {'cpu s':>6} {'cpu MB':>7}")
    for path in notebooks:
        path = Path(path).resolve()
        name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        nb = json.loads(path.read_text())  # before the run: an edit made meanwhile then shows as stale
        stored = nb["metadata"].get("gentut", {}).get("run", {})
        seconds, peak = run(path, args.profile, args.dataset)
        rows[name] = {"seconds": round(seconds, 1), "code_sha256": code_sha256(nb), "date": time.strftime("%Y-%m-%d"),
                      "peak_memory_mb": None if peak is None else round(peak),
                      "cpu_seconds": stored.get("seconds") if stored.get("profile") == "cpu" else None,
                      "cpu_peak_memory_mb": stored.get("peak_memory_mb") if stored.get("profile") == "cpu" else None}
        r = rows[name]
        print(f"{name:<44} {r['seconds']:8.1f} {r['peak_memory_mb'] or '-':>8}   {r['cpu_seconds'] or '-':>6} "
              f"{r['cpu_peak_memory_mb'] or '-':>7}", flush=True)
    total = sum(r["seconds"] for r in rows.values())
    peaks = [r["peak_memory_mb"] for r in rows.values() if r["peak_memory_mb"] is not None]
    cpu_total = sum(r["cpu_seconds"] or 0 for r in rows.values())
    print(f"total {total:.0f} s in the {args.profile} profile"
          + (f" (target under {SMOKE_TOTAL_SECONDS} s)" if args.profile == "smoke" else "")
          + (f" (target under {CPU_TOTAL_SECONDS} s)" if args.profile == "cpu" else "")
          + (f"; largest peak {max(peaks):,} MB (target under {PEAK_MB:,})" if peaks else "")
          + f"; the stored cpu runs: {cpu_total:.0f} s together")
    summary = {"total_seconds": round(total, 1), "largest_peak_mb": max(peaks) if peaks else None,
               "cpu_total_seconds": round(cpu_total, 1), "profile": args.profile, "dataset": args.dataset}
    command = "python bench/budgets.py" + ("" if args.profile == "smoke" else f" --profile {args.profile}") \
        + ("" if args.dataset == "synthetic-digits" else f" --dataset {args.dataset}") \
        + ("" if args.notebooks is None else " --notebooks " + " ".join(map(str, args.notebooks)))
    write_results(output, {"notebooks": rows, "summary": summary}, command=command, seeds=[0],
                  seconds=time.perf_counter() - started, sources=[])
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
