"""Images per second of the command line's training for 1 and 2 processes on this machine.

    python bench/distributed_scaling.py [--models vae dcgan] [--images 8192] [--epochs 2] [--repeats 2]
    python bench/distributed_scaling.py --smoke --output /tmp/scaling.json   # toy size: proves the code path

Each run is ``python -m gentut train MODEL`` on the synthetic digits with the same global batch
(the model's own), once in one process with every core, once under ``torchrun --standalone
--nproc_per_node=2`` with the cores shared (each process takes cores / 2 threads, as
`gentut.distributed.setup` sets). The time is the wall clock of the training loop as the
command prints it when done (without the start-up: imports, data, building the model), so the
figures compare the training, not Python's start-up. Runs alternate (1, 2, 1, 2, ...) so a machine that slows down
affects both; the median is reported, with the efficiency: (speed with 2) / (2 x speed with 1).
Writes the times, the speeds and the provenance to bench/results/distributed_scaling.json.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gentut.results import fingerprint, results_path, write_results

OUTPUT = results_path("distributed_scaling.json")
SOURCES = ["bench/distributed_scaling.py", "gentut/distributed.py", "gentut/cli.py", "gentut/config.py",
           "gentut/trainer.py", "gentut/step.py", "gentut/data/loader.py", "gentut/models/vae.py",
           "gentut/models/gan.py", "gentut/models/dcgan.py", "gentut/models/networks.py", "gentut/losses.py"]


def run(model: str, processes: int, images: int, epochs: int, folder: Path) -> float:
    """Seconds of training (the fit, without start-up) the command reports when done."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] \
        if processes > 1 else [sys.executable]
    out = folder / f"{model}-{processes}-{len(list(folder.iterdir()))}"
    command = [*launcher, "-m", "gentut", "train", model, "--out", str(out), "--data", "synthetic-digits",
               "--set", f"train.train_images={images}", "--set", f"train.epochs={epochs}",
               "--set", "train.samples_every_epoch=0"]
    env = {**os.environ, "GENTUT_PROFILE": "smoke"}
    env.pop("OMP_NUM_THREADS", None)
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    seconds = re.search(r"^done: \d+ steps.* in ([\d.]+) s;", result.stdout, flags=re.M)
    if not seconds:
        raise RuntimeError(f"no 'done' line in the output of {' '.join(command)}:\n{result.stdout[-2000:]}")
    return float(seconds.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vae", "dcgan"])
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the results (JSON)")
    parser.add_argument("--smoke", action="store_true", help="toy size (256 images, one epoch, one run each)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.images, args.epochs, args.repeats = 256, 1, 1
    code = fingerprint(SOURCES)
    started = time.perf_counter()
    rows = {}
    print(f"{os.cpu_count()} cores; {args.images:,} images x {args.epochs} epochs per run, {args.repeats} runs each")
    with tempfile.TemporaryDirectory() as scratch:
        for model in args.models:
            times: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.repeats):
                for processes in (1, 2):
                    times[processes].append(run(model, processes, args.images, args.epochs, Path(scratch)))
            speed = {p: args.images * args.epochs / statistics.median(t) for p, t in times.items()}
            print(f"{model:6s} 1 process: {speed[1]:7.0f} images/s   2 processes: {speed[2]:7.0f} images/s   "
                  f"efficiency {speed[2] / (2 * speed[1]):.2f}   (times {times})", flush=True)
            rows[model] = {"seconds_1": times[1], "seconds_2": times[2], "images_per_second_1": speed[1],
                           "images_per_second_2": speed[2], "efficiency": speed[2] / (2 * speed[1])}
    record = {"cores": os.cpu_count(), "images": args.images, "epochs": args.epochs, "repeats": args.repeats,
              "data": "synthetic-digits", "rows": rows}
    command = " ".join(["python bench/distributed_scaling.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    path = write_results(args.output, record, command=command, seeds=[0], seconds=time.perf_counter() - started,
                         sources=code)
    print(f"results written to {path}")


if __name__ == "__main__":
    main()
