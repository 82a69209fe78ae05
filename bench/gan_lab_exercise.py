"""The worked solution of the GAN chapter's exercise gan-ex-lab: three extensions of the 2-D
laboratory on the 25-mode grid, over the chapter's five seeds.

    python bench/gan_lab_exercise.py [--seeds 0 1 2 3 4] [--processes 2] [--output PATH]
    python bench/gan_lab_exercise.py --smoke --output /tmp/ex.json   # toy size: proves the code path

(a) spectral normalisation with the hinge loss (SN-GAN's combination); (b) packing with m = 4;
(c) the chapter's packing variant (m = 2, the grid's best on modes and high-quality share
together) trained twice as long, 2 * LAB_STEPS["grid"] discriminator updates. Every run uses the
chapter's batch, networks and seeds (`gentut.lab2d.compare`), so its rows can be set beside the
chapter's table in bench/results/gan_toy_lab.json. Writes the tables, the runs and their
provenance to bench/results/gan_lab_exercise.json, which the solution reads.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from gentut.lab2d import LAB_BATCH, LAB_DATA, LAB_STEPS, LabVariant, compare, format_comparison
from gentut.results import fingerprint, results_path, write_results

OUTPUT = results_path("gan_lab_exercise.json")
SOURCES = [
    "bench/gan_lab_exercise.py",
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
BALANCED = dict(lr_generator=1e-3, lr_discriminator=1e-3, decay_to=0.01)  # the chapter's GAN rows
PARTS = {
    "a": [LabVariant("SN + hinge", loss="hinge", spectral_norm=True, **BALANCED)],
    "b": [LabVariant("GAN + packing (m = 4)", packing=4, **BALANCED)],
    "c": [LabVariant("GAN + packing (m = 2), twice as long", packing=2, **BALANCED)],
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--processes", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the results (JSON)")
    parser.add_argument("--smoke", action="store_true",
                        help=f"toy size ({SMOKE_STEPS} steps, one process) to check that the code runs")
    args = parser.parse_args(argv)

    sources = fingerprint(SOURCES)  # the code as it is when the run starts
    processes = 1 if args.smoke else args.processes
    data = LAB_DATA["grid"](50_000, seed=0)
    budget = SMOKE_STEPS if args.smoke else LAB_STEPS["grid"]
    started = time.perf_counter()
    results = {}
    for part, variants in PARTS.items():
        steps = 2 * budget if part == "c" else budget
        runs = compare(variants, data, seeds=args.seeds, steps=steps, batch_size=LAB_BATCH, processes=processes)
        results[part] = {
            "steps": steps,
            "table": format_comparison(runs, modes=len(data.centres)),
            "runs": [{"variant": r.variant, "seed": r.seed, "modes_covered": r.modes_covered,
                      "high_quality_share": r.high_quality_share, "seconds": round(r.seconds, 1)} for r in runs],
        }
        print(f"\n({part}) {steps} discriminator updates\n{results[part]['table']}", flush=True)
    seconds = time.perf_counter() - started
    print(f"\n{seconds:.0f} s in all, {processes} processes")
    command = " ".join(["python bench/gan_lab_exercise.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    path = write_results(args.output, results, command=command, seeds=args.seeds, seconds=seconds, sources=sources)
    print(f"results written to {path}")


if __name__ == "__main__":
    main()
