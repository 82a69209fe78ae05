"""The 2-D laboratory trained as ensembles: how much faster than separate runs, and the same results?

    python bench/lab_ensemble.py [--data ring grid]  # seeds 0-4; ring about 10 minutes, grid 20 more on 2 cores
    python bench/lab_ensemble.py --smoke --output /tmp/lab_ensemble.json   # toy size (CI)

Speed: for each variant of the chapter's comparison, SPEED_STEPS steps of five separate runs one
after another (`gentut.lab2d.train_variant`, seeds 0-4), then the same five seeds as one ensemble
(`gentut.lab2d_ensemble.train_ensemble`), both on one thread, interleaved variant by variant, the
whole alternation REPEATS times; the ratio of the medians.

Results: `gentut.lab2d_ensemble.compare_ensemble` at the lab's budget (`gentut.lab2d.LAB_STEPS`)
for the seeds, in --processes processes, against the separate runs of the same seeds stored in
bench/results/gan_toy_lab.json (`bench/gan_toy_lab.py`): per variant, modes covered and the share
of high-quality samples, mean and standard deviation over seeds, and Welch's t for the difference
of the means. The ensembles draw other noise than the separate runs, so single seeds differ; the
question is whether the distributions over seeds do.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gentut.lab2d import FAST_DISCRIMINATOR, LAB_BATCH, LAB_DATA, LAB_RESULTS, LAB_STEPS, book_variants, train_variant  # noqa: E402
from gentut.lab2d_ensemble import compare_ensemble, train_ensemble  # noqa: E402
from gentut.results import fingerprint, read_results, results_path, write_results  # noqa: E402

OUTPUT = results_path("lab_ensemble.json")
SOURCES = ["bench/lab_ensemble.py", "gentut/lab2d_ensemble.py", "gentut/models/ensemble.py", "gentut/lab2d.py",
           "gentut/models/gan.py", "gentut/models/networks.py", "gentut/losses.py", "gentut/trainer.py",
           "gentut/step.py", "gentut/spec.py", "gentut/data/toy2d.py", "gentut/data/loader.py",
           "gentut/metrics/modes.py"]
SPEED_STEPS, REPEATS = 200, 2


def speed(variants, seeds, steps: int, repeats: int) -> dict[str, dict[str, float]]:
    """Seconds of `steps` steps for `seeds` as separate runs and as one ensemble, per variant."""
    data = LAB_DATA["ring"](50_000, seed=0)
    times = {v.name: {"separate": [], "ensemble": []} for v in variants}
    for _ in range(repeats):
        for variant in variants:
            n = max(1, steps // variant.discriminator_steps)
            start = time.perf_counter()
            for seed in seeds:
                train_variant(variant, data, seed=seed, steps=n)
            middle = time.perf_counter()
            train_ensemble(variant, data, seeds=seeds, steps=n)
            times[variant.name]["separate"].append(middle - start)
            times[variant.name]["ensemble"].append(time.perf_counter() - middle)
    out = {}
    for name, t in times.items():
        separate, ensemble = statistics.median(t["separate"]), statistics.median(t["ensemble"])
        out[name] = {"separate_seconds": separate, "ensemble_seconds": ensemble, "speedup": separate / ensemble}
    return out


def welch_t(a: list[float], b: list[float]) -> float | None:
    """Welch's t of mean(a) - mean(b); 0 when both sets are constant and equal, None (undefined)
    when both are constant and differ."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    difference = statistics.mean(a) - statistics.mean(b)
    if va + vb == 0:
        return 0.0 if difference == 0 else None
    return difference / math.sqrt(va + vb)


def _t(value: float | None) -> str:
    return "     -" if value is None else f"{value:6.2f}"


def agreement(ensemble_runs, separate_runs) -> dict[str, dict[str, float]]:
    """Per variant: mean and sd over seeds of modes and quality, both ways, and Welch's t."""
    rows = {}
    for name in dict.fromkeys(r.variant for r in ensemble_runs):
        e = [r for r in ensemble_runs if r.variant == name]
        s = [r for r in separate_runs if r.variant == name]
        row = {}
        for key, get in (("modes", lambda r: r.modes_covered), ("quality", lambda r: 100 * r.high_quality_share)):
            a, b = [float(get(r)) for r in e], [float(get(r)) for r in s]
            row.update({f"{key}_ensemble": statistics.mean(a), f"{key}_ensemble_sd": statistics.stdev(a),
                        f"{key}_separate": statistics.mean(b), f"{key}_separate_sd": statistics.stdev(b),
                        f"{key}_t": welch_t(a, b)})
        rows[name] = row
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--data", nargs="+", choices=list(LAB_STEPS), default=list(LAB_STEPS))
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--smoke", action="store_true", help="toy size: a few steps, the code path only")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the lab's setting: one thread per run (per process)
    code = fingerprint(SOURCES)
    started = time.perf_counter()
    variants = [FAST_DISCRIMINATOR, *book_variants()]
    speed_steps, repeats = (20, 1) if args.smoke else (SPEED_STEPS, REPEATS)
    timing = speed(variants, args.seeds, speed_steps, repeats)
    print(f"{speed_steps} steps of seeds {args.seeds}, one thread, medians of {repeats}: separate runs one after "
          "another against one ensemble")
    for name, t in timing.items():
        print(f"  {name:<26} separate {t['separate_seconds']:6.2f} s  ensemble {t['ensemble_seconds']:6.2f} s  "
              f"speed-up {t['speedup']:.2f}x")
    stored = read_results(LAB_RESULTS)
    from gentut.lab2d import stored_runs

    results = {"speed": {"steps": speed_steps, "repeats": repeats, "variants": timing}, "agreement": {}}
    for name in args.data:
        data = LAB_DATA[name](50_000, seed=0)
        steps = 20 if args.smoke else LAB_STEPS[name]
        start = time.perf_counter()
        runs = compare_ensemble(variants, data, seeds=args.seeds, steps=steps, batch_size=LAB_BATCH,
                                processes=1 if args.smoke else args.processes)
        seconds = time.perf_counter() - start
        separate = [r for r in stored_runs(stored["results"], name) if r.seed in args.seeds]
        rows = agreement(runs, separate)
        results["agreement"][name] = {"steps": steps, "seconds": seconds, "stored_steps": stored["results"][name]["steps"],
                                      "variants": rows,
                                      "per_seed": {v.name: [r.modes_covered for r in runs if r.variant == v.name]
                                                   for v in variants}}
        print(f"\n{name}: {steps} discriminator updates, seeds {args.seeds}, ensembles in {seconds:.0f} s; "
              f"separate runs from {LAB_RESULTS.name} ({stored['results'][name]['steps']} updates)")
        print(f"  {'variant':<26} {'modes: ensemble':>16} {'separate':>12} {'t':>6}  {'quality %: ensemble':>20} "
              f"{'separate':>12} {'t':>6}")
        for variant, row in rows.items():
            print(f"  {variant:<26} {row['modes_ensemble']:9.1f} ± {row['modes_ensemble_sd']:.1f} "
                  f"{row['modes_separate']:7.1f} ± {row['modes_separate_sd']:.1f} {_t(row['modes_t'])}  "
                  f"{row['quality_ensemble']:13.0f} ± {row['quality_ensemble_sd']:.0f} "
                  f"{row['quality_separate']:7.0f} ± {row['quality_separate_sd']:.0f} {_t(row['quality_t'])}")
    command = "python bench/lab_ensemble.py" + (" --smoke" if args.smoke else "")
    write_results(args.output, results, command=command, seeds=args.seeds, seconds=time.perf_counter() - started,
                  sources=code)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
