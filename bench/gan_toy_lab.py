"""The 2-D GAN laboratory over more seeds than the chapter runs: modes covered and the share of
high-quality samples per variant, mean and spread over seeds.

    python bench/gan_toy_lab.py [--seeds 0 1 2 3 4] [--processes 2] [--output PATH]
    python bench/gan_toy_lab.py --smoke --output /tmp/lab.json   # toy size: proves the code path

It runs `gentut.lab2d.run_lab`: the chapter's models (`gentut.lab2d.book_variants`, the steps and
batch size defined once in `gentut.lab2d`) trained through `gentut.trainer.Trainer`, plus the
chapter's "fast discriminator" variant that collapses on purpose; prints one table per data set,
and writes them, with the first seed's samples for the chapter's figure, and their provenance (command, version, commit, seeds, date, seconds and the hashes of the
sources they depend on; `gentut.results`) to ``bench/results/gan_toy_lab.json``, which the GAN
chapter reads. Each run is seeded on its own, so a seed gives the same numbers here and in the
book. Runs go side by side in `--processes` processes of one CPU thread each (tiny MLPs gain
nothing from more threads).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from gentut.lab2d import LAB_RESULTS, LAB_STEPS, run_lab
from gentut.results import fingerprint, write_results

OUTPUT = LAB_RESULTS  # bench/results/gan_toy_lab.json
# What the numbers depend on: change one of these and the results file is stale.
SOURCES = [
    "bench/gan_toy_lab.py",
    "gentut/lab2d.py",
    "gentut/models/gan.py",
    "gentut/models/networks.py",
    "gentut/losses.py",
    "gentut/step.py",
    "gentut/trainer.py",
    "gentut/hooks.py",
    "gentut/spec.py",
    "gentut/data/toy2d.py",
    "gentut/data/loader.py",
    "gentut/metrics/modes.py",
]
SMOKE_STEPS = 40


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--data", nargs="+", choices=list(LAB_STEPS), default=list(LAB_STEPS))
    parser.add_argument("--processes", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the results (JSON)")
    parser.add_argument("--smoke", action="store_true",
                        help=f"toy size ({SMOKE_STEPS} steps, one process) to check that the code runs")
    args = parser.parse_args(argv)

    sources = fingerprint(SOURCES)  # the code as it is when the run starts
    processes = 1 if args.smoke else args.processes
    started = time.perf_counter()
    results = run_lab(args.seeds, data_names=args.data, steps=SMOKE_STEPS if args.smoke else None,
                      processes=processes)
    for name, result in results.items():
        print(f"\n{result['heading']}\n{result['table']}", flush=True)
    seconds = time.perf_counter() - started
    print(f"\n{seconds:.0f} s in all, {processes} processes")
    command = " ".join(["python bench/gan_toy_lab.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    path = write_results(args.output, results, command=command, seeds=args.seeds, seconds=seconds, sources=sources)
    print(f"results written to {path}")


if __name__ == "__main__":
    main()
