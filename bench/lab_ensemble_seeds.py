"""More seeds for one laboratory variant: do its ensembles and its separate runs agree?

    python bench/lab_ensemble_seeds.py                   # the fast discriminator on the grid, seeds 5-19 (~15 min)
    python bench/lab_ensemble_seeds.py --smoke --output /tmp/seeds.json   # toy size (CI)

`bench/lab_ensemble.py` compared five seeds of every variant trained as ensembles with the five
separate runs of bench/results/gan_toy_lab.json. One difference stood out there: on the grid, the
fast discriminator's ensembles covered 12 and 13 modes on two seeds of five, its separate runs 2
to 5 (Welch's t = 2.0). Five seeds cannot tell chance from a systematic difference, so this script
trains new seeds of that variant both ways at the lab's budget, the separate runs with
`gentut.lab2d.compare` and the ensembles with `gentut.lab2d_ensemble.compare_ensemble`, each in
--processes processes of one thread, and reports modes covered and the share of high-quality
samples per seed, their means, and Welch's t on the new seeds alone and pooled with seeds 0-4
(modes only: the two stored files keep per-seed modes, not per-seed quality for the ensembles).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.lab_ensemble import OUTPUT as ENSEMBLE_RESULTS  # noqa: E402
from bench.lab_ensemble import SOURCES as ENSEMBLE_SOURCES  # noqa: E402
from bench.lab_ensemble import welch_t  # noqa: E402
from gentut.lab2d import FAST_DISCRIMINATOR, LAB_BATCH, LAB_DATA, LAB_RESULTS, LAB_STEPS, book_variants, compare  # noqa: E402
from gentut.lab2d import stored_runs  # noqa: E402
from gentut.lab2d_ensemble import compare_ensemble  # noqa: E402
from gentut.results import fingerprint, read_results, results_path, write_results  # noqa: E402

OUTPUT = results_path("lab_ensemble_seeds.json")
SOURCES = ["bench/lab_ensemble_seeds.py", *ENSEMBLE_SOURCES]


def _variant(name: str):
    for variant in [FAST_DISCRIMINATOR, *book_variants()]:
        if variant.name == name:
            return variant
    raise SystemExit(f"no laboratory variant named {name!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default=FAST_DISCRIMINATOR.name)
    parser.add_argument("--data", choices=list(LAB_STEPS), default="grid")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(5, 20)))
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--smoke", action="store_true", help="toy size: a few steps and seeds, the code path only")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds = args.seeds[:2]
    torch.set_num_threads(1)  # the lab's setting: one thread per run (per process)
    code = fingerprint(SOURCES)
    started = time.perf_counter()
    variant = _variant(args.variant)
    data = LAB_DATA[args.data](50_000, seed=0)
    steps = 20 if args.smoke else LAB_STEPS[args.data]
    processes = 1 if args.smoke else args.processes
    runs = {}
    for way, function in (("separate", compare), ("ensemble", compare_ensemble)):
        start = time.perf_counter()
        runs[way] = function([variant], data, seeds=args.seeds, steps=steps, batch_size=LAB_BATCH, processes=processes)
        print(f"{way}: {len(args.seeds)} runs in {time.perf_counter() - start:.0f} s", flush=True)
    per_seed = {way: {r.seed: {"modes": r.modes_covered, "quality": 100 * r.high_quality_share} for r in rs}
                for way, rs in runs.items()}
    summary = {}
    for key in ("modes", "quality"):
        a = [per_seed["ensemble"][s][key] for s in args.seeds]
        b = [per_seed["separate"][s][key] for s in args.seeds]
        summary[key] = {"ensemble": statistics.mean(a), "ensemble_sd": statistics.stdev(a),
                        "separate": statistics.mean(b), "separate_sd": statistics.stdev(b), "t": welch_t(a, b)}
    # pooled with the five seeds of the earlier comparison (modes: kept per seed in both files)
    earlier = read_results(ENSEMBLE_RESULTS)["results"]["agreement"].get(args.data, {})
    earlier_ensemble = earlier.get("per_seed", {}).get(variant.name, [])
    earlier_separate = [r.modes_covered for r in stored_runs(read_results(LAB_RESULTS)["results"], args.data)
                        if r.variant == variant.name]
    if earlier_ensemble and earlier_separate and not args.smoke:
        a = earlier_ensemble + [per_seed["ensemble"][s]["modes"] for s in args.seeds]
        b = earlier_separate + [per_seed["separate"][s]["modes"] for s in args.seeds]
        summary["modes_pooled"] = {"seeds": len(a), "ensemble": statistics.mean(a), "ensemble_sd": statistics.stdev(a),
                                   "separate": statistics.mean(b), "separate_sd": statistics.stdev(b),
                                   "t": welch_t(a, b)}
    print(f"\n{variant.name} on the {args.data}, {steps} discriminator updates, seeds {args.seeds[0]}-{args.seeds[-1]}")
    print(f"{'seed':>6} {'modes: separate':>16} {'ensemble':>9} {'quality %: separate':>20} {'ensemble':>9}")
    for s in args.seeds:
        print(f"{s:6d} {per_seed['separate'][s]['modes']:16d} {per_seed['ensemble'][s]['modes']:9d} "
              f"{per_seed['separate'][s]['quality']:20.0f} {per_seed['ensemble'][s]['quality']:9.0f}")
    for key, row in summary.items():
        t = "-" if row["t"] is None else f"{row['t']:.2f}"
        label = f"{key} ({row['seeds']} seeds, with 0-4)" if key == "modes_pooled" else key
        print(f"{label:<26} separate {row['separate']:6.1f} ± {row['separate_sd']:.1f}   "
              f"ensemble {row['ensemble']:6.1f} ± {row['ensemble_sd']:.1f}   Welch's t {t}")
    command = "python bench/lab_ensemble_seeds.py" + (" --smoke" if args.smoke else "")
    write_results(args.output, {"variant": variant.name, "data": args.data, "steps": steps, "per_seed": per_seed,
                                "summary": summary}, command=command, seeds=args.seeds,
                  seconds=time.perf_counter() - started, sources=code)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
