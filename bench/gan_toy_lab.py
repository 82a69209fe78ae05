"""The 2-D GAN laboratory over more seeds than the chapter runs: modes covered and the share of
high-quality samples per variant, mean and spread over seeds.

    python bench/gan_toy_lab.py [--seeds 0 1 2 3 4] [--data ring grid] [--processes 2]

It trains exactly the chapter's models (`gentut.lab2d.book_variants`, the same steps and batch
size) through `gentut.trainer.Trainer`, plus the chapter's "fast discriminator" variant that
collapses on purpose, and prints one table per data set. Each run is seeded on its own, so a seed
gives the same numbers here and in the book. Runs go side by side in `--processes` processes of
one CPU thread each (tiny MLPs gain nothing from more threads).
"""
from __future__ import annotations

import argparse
import os
import time

from gentut.data.toy2d import grid_of_gaussians, ring_of_gaussians
from gentut.lab2d import FAST_DISCRIMINATOR, LAB_BATCH, LAB_STEPS, book_variants, compare, format_comparison

# The chapter's settings (book/gan/gan.ipynb, cpu profile), defined once in gentut.lab2d
STEPS, BATCH_SIZE = LAB_STEPS, LAB_BATCH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--data", nargs="+", choices=list(STEPS), default=list(STEPS))
    parser.add_argument("--processes", type=int, default=min(4, os.cpu_count() or 1))
    args = parser.parse_args()

    variants = [FAST_DISCRIMINATOR, *book_variants()]
    started = time.perf_counter()
    for name in args.data:
        data = (ring_of_gaussians if name == "ring" else grid_of_gaussians)(50_000, seed=0)
        results = compare(variants, data, seeds=args.seeds, steps=STEPS[name], batch_size=BATCH_SIZE,
                          processes=args.processes)
        print(f"\n{name}: {len(data.centres)} modes, std {data.std}; {STEPS[name]} discriminator updates, "
              f"batch {BATCH_SIZE}; seeds {args.seeds}; 2500 samples scored per run")
        print(format_comparison(results, modes=len(data.centres)), flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s in all, {args.processes} processes")


if __name__ == "__main__":
    main()
