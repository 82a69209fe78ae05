"""Training speed of the book's models three ways: gentut's Trainer, a plain loop, a DataLoader loop.

    python bench/speed.py [--steps 30] [--repeats 3] [--families autoencoder vae ...]
    python bench/speed.py --smoke          # toy size: proves the code path (CI)

For each model family of the book (the models and batch sizes of `python -m gentut train`, whose
specs are the chapters', and the 2-D laboratory's GAN), the same number of training steps from
the same initial weights, three ways, in one process and interleaved (Trainer, plain,
DataLoader, then rotated) so that a machine that speeds up or slows down affects all alike:

- **Trainer**: ``Trainer(model, optimizers).fit(InMemoryLoader(...), steps=...)``, fp32.
- **plain**: a hand-written loop over the same in-memory batches calling the model's
  ``training_step`` with a bare `gentut.step.TrainStep` (no logging, hooks or checks).
- **DataLoader**: the pytorch/examples loop, ``DataLoader(TensorDataset(x), batch_size,
  shuffle=True)``, batches collated from single images, into the same ``training_step``.

It prints images per second (median of the repeats), the ratios, and the achieved arithmetic
rate: the floating-point operations of one step (forward and backward, counted by
``torch.utils.flop_counter``) times steps per second, as a share of this machine's matmul peaks,
measured here in fp32 and in bf16 (a 2048 x 2048 ``torch.mm``, median of five). Then each speed
option on the Trainer, as a multiple of its fp32 speed in the same interleaved runs: foreach and
fused Adam, channels_last (convolutional models), bf16 autocast (only with bf16 units) and
``torch.compile`` of each network (its first two steps timed apart, from a cold start: a fresh
kernel cache for the run and no graph compiled for an earlier family). An option a model cannot use is reported
with the error, not dropped silently. The CPU's bf16
units are read from ``torch.cpu.get_capabilities()`` (AMX-BF16, AVX512-BF16): without them a bf16
matmul is emulated and slower than fp32, so bf16 is not a speed option there. Writes everything,
with the provenance, to bench/results/speed.json.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

# A reader's first compile pays in full: nothing compiled by an earlier run is reused (a fresh
# cache folder for inductor's kernels, no graph caches).
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="gentut-inductor-"))
os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "0")
os.environ.setdefault("TORCHINDUCTOR_AUTOGRAD_CACHE", "0")

import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from gentut.data.loader import Batch, InMemoryLoader  # noqa: E402
from gentut.results import fingerprint, results_path, write_results  # noqa: E402
from gentut.step import TrainStep  # noqa: E402
from gentut.trainer import Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = results_path("speed.json")
FAMILIES = ("autoencoder", "vae", "gan-2d", "gan", "dcgan", "vaegan")
NAMES = {"autoencoder": "Autoencoder", "vae": "VAE", "gan-2d": "2-D GAN (laboratory)", "gan": "MLP GAN",
         "dcgan": "DCGAN", "vaegan": "VAE-GAN"}
SOURCES = ["bench/speed.py", "gentut/trainer.py", "gentut/step.py", "gentut/data/loader.py", "gentut/spec.py",
           "gentut/models/autoencoder.py", "gentut/models/vae.py", "gentut/models/gan.py",
           "gentut/models/dcgan.py", "gentut/models/vaegan.py", "gentut/models/networks.py", "gentut/losses.py",
           "gentut/lab2d.py", "gentut/cli.py", "gentut/comparison.py"]


def build(family: str) -> tuple[dict, int, tuple[int, ...]]:
    """The family's spec (the chapter's), its batch size, and the shape of one example."""
    from gentut.spec import build_model

    if family == "gan-2d":
        from gentut.lab2d import LAB_BATCH, LabVariant, variant_spec

        return variant_spec(LabVariant("GAN")), LAB_BATCH, (2,)
    from gentut.cli import _image_shape, default_config

    config = default_config(family)
    return config["model"], config["train"]["batch_size"], _image_shape(build_model(config["model"]))


# Speed options, each tried on the Trainer against its fp32 default in the same interleaved runs.
ADAM_FLAGS = {"foreach Adam": {"foreach": True}, "fused Adam": {"fused": True}}
OPTIONS = ("foreach Adam", "fused Adam", "channels_last", "bf16 autocast", "compile")


def maker(spec: dict, option: str | None = None) -> Callable[[], tuple[torch.nn.Module, dict]]:
    """A function making the model and its optimizers afresh (same seed), with `option` applied."""
    from gentut.spec import build_model, build_optimizers

    if option in ADAM_FLAGS:
        spec = copy.deepcopy(spec)
        for entry in spec["optimizers"].values():
            entry["options"] = {**entry.get("options", {}), **ADAM_FLAGS[option]}

    def make():
        torch.manual_seed(0)
        model = build_model(spec)
        optimizers = build_optimizers(spec, model)
        if option == "channels_last":
            model.to(memory_format=torch.channels_last)
        if option == "compile":
            for network in model.children():  # each network's forward, compiled by inductor
                network.compile()
        return model, optimizers

    return make


def applies(option: str, family: str, bf16_units: list[str]) -> str | None:
    """None if `option` can be tried on `family` here, else why not."""
    if option == "channels_last" and family not in ("dcgan", "vaegan"):
        return "no convolutions"
    if option == "bf16 autocast" and not bf16_units:
        return "no bf16 units on this CPU"
    return None


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of an n x n matmul in `dtype` (median of `repeats`, after a warm-up)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times)


def step_flops(make, data: torch.Tensor, batch_size: int) -> int:
    model, optimizers = make()
    step = TrainStep(optimizers)
    with FlopCounterMode(display=False) as counter:
        model.train()
        model.training_step(Batch(data[:batch_size]), step)
    return counter.get_total_flops()


def trainer_run(make, data, batch_size, steps, mixed_precision=False):
    model, optimizers = make()
    loader = InMemoryLoader(data, batch_size=batch_size, seed=0)
    trainer = Trainer(model, optimizers, device="cpu", mixed_precision=mixed_precision, progress=False)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.fit(loader, steps=steps)
    return time.perf_counter() - start


def plain_run(make, data, batch_size, steps):
    model, optimizers = make()
    model.train()
    loader = InMemoryLoader(data, batch_size=batch_size, seed=0)
    step, done = TrainStep(optimizers), 0
    start = time.perf_counter()
    while done < steps:
        for batch in loader.epoch(done // len(loader)):
            step.begin(done)
            model.training_step(batch, step)
            done += 1
            if done == steps:
                break
    return time.perf_counter() - start


def dataloader_run(make, data, batch_size, steps):
    model, optimizers = make()
    model.train()
    loader = DataLoader(TensorDataset(data), batch_size=batch_size, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(0))
    step, done = TrainStep(optimizers), 0
    start = time.perf_counter()
    while done < steps:
        for (x,) in loader:
            step.begin(done)
            model.training_step(Batch(x), step)
            done += 1
            if done == steps:
                break
    return time.perf_counter() - start


WAYS = {"Trainer": trainer_run, "plain": plain_run, "DataLoader": dataloader_run}


def measure(family: str, steps: int, repeats: int, options: list[str], bf16_units: list[str]) -> dict[str, Any]:
    spec, batch_size, shape = build(family)
    make = maker(spec)
    torch.manual_seed(1)
    data = torch.rand(batch_size * 8, *shape)  # (N, ...) in [0, 1]: eight batches, reused
    runs: dict[str, Callable[[], float]] = {way: (lambda run=run: run(make, data, batch_size, steps))
                                            for way, run in WAYS.items()}
    skipped, first_steps = {}, {}
    for option in options:
        why = applies(option, family, bf16_units)
        if why:
            skipped[option] = why
            continue
        option_make = maker(spec, option)
        mixed = option == "bf16 autocast"
        if option == "compile":
            torch._dynamo.reset()  # nothing compiled for an earlier family is reused
        # The first two steps pay for compiling (or first-call set-up): timed apart, then warm.
        try:
            first_steps[option] = trainer_run(option_make, data, batch_size, 2, mixed)
        except Exception as error:  # an option this model cannot use: recorded, not fatal
            skipped[option] = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
            continue
        runs[f"Trainer + {option}"] = lambda m=option_make, x=mixed: trainer_run(m, data, batch_size, steps, x)
    for name, run in runs.items():  # warm-up: allocator, thread pool, first-call paths
        if not name.startswith("Trainer + "):
            WAYS[name](make, data, batch_size, 2)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(runs[name]())
    speed = {name: batch_size * steps / statistics.median(t) for name, t in seconds.items()}
    flops = step_flops(make, data, batch_size)
    return {"batch_size": batch_size, "steps": steps, "repeats": repeats, "seconds": seconds,
            "images_per_second": speed, "flops_per_step": flops,
            "flop_per_second": flops * speed["Trainer"] / batch_size,
            "first_two_steps_seconds": first_steps, "skipped": skipped}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--options", nargs="*", default=list(OPTIONS), choices=OPTIONS,
                        help="speed options to try on the Trainer (none: fp32 only)")
    parser.add_argument("--smoke", action="store_true",
                        help="2 steps, 1 repeat, small peaks, no compile: the code path only")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.repeats = 2, 1
        args.options = [o for o in args.options if o != "compile"]  # minutes of C++ compiling
    code = fingerprint(SOURCES)
    start = time.perf_counter()
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    bf16_units = [name for name in ("amx_bf16", "avx512_bf16") if caps.get(name)]
    n = 256 if args.smoke else 2048
    peaks = {"fp32": matmul_peak(torch.float32, n), "bf16": matmul_peak(torch.bfloat16, n)}
    machine = {"cpu": caps.get("cpu_name", "unknown"), "cores": caps.get("num_physical_cores"),
               "threads": torch.get_num_threads(), "bf16_units": bf16_units, "torch": torch.__version__,
               "peak_flop_per_second": peaks}
    print(f"{machine['cpu']}, {machine['cores']} cores, {machine['threads']} torch threads, torch {torch.__version__}")
    print(f"matmul peaks ({n} x {n}): fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s; "
          f"bf16 units: {', '.join(bf16_units) or 'none (bf16 is emulated: not a speed option here)'}")
    results = {}
    for family in args.families:
        results[family] = measure(family, args.steps, args.repeats, args.options, bf16_units)
    header = (f"{'model':22} {'batch':>5} {'Trainer img/s':>13} {'plain':>8} {'DataLoader':>10} "
              f"{'T/plain':>7} {'T/DL':>5} {'GFLOP/s':>8} {'% fp32':>6} {'% bf16':>6}")
    print(f"\n{args.steps} steps x {args.repeats} interleaved repeats, fp32, medians; % of the matmul peaks"
          + ("" if bf16_units else " (no bf16 column: this CPU has no bf16 units)") + f"\n{header}")
    for family, r in results.items():
        s = r["images_per_second"]
        rate = r["flop_per_second"]
        print(f"{NAMES[family]:22} {r['batch_size']:5d} {s['Trainer']:13,.0f} {s['plain']:8,.0f} {s['DataLoader']:10,.0f} "
              f"{s['Trainer'] / s['plain']:7.2f} {s['Trainer'] / s['DataLoader']:5.2f} {rate / 1e9:8.1f} "
              f"{100 * rate / peaks['fp32']:6.1f} " + (f"{100 * rate / peaks['bf16']:6.1f}" if bf16_units else f"{'-':>6}"))
    if args.options:
        print(f"\nSpeed options: the Trainer's images per second with each, as a multiple of its fp32 default "
              f"in the same runs;\nin brackets, the first two steps' seconds (compiling, first calls)")
        print(f"{'model':22} " + " ".join(f"{o:>15}" for o in args.options))
        for family, r in results.items():
            s = r["images_per_second"]
            cells = []
            for option in args.options:
                if option in r["skipped"]:
                    cells.append(f"{'-':>15}")
                else:
                    cells.append(f"{s['Trainer + ' + option] / s['Trainer']:5.2f} ({r['first_two_steps_seconds'][option]:5.1f} s)")
            print(f"{NAMES[family]:22} " + " ".join(f"{c:>15}" for c in cells))
        reasons = sorted({f"{o}: {why}" for r in results.values() for o, why in r["skipped"].items()
                          if not why.startswith("failed")})
        print("not tried (-): " + "; ".join(reasons) if reasons else "")
        for family, r in results.items():
            for option, why in r["skipped"].items():
                if why.startswith("failed"):
                    print(f"{NAMES[family]}, {option}: {why}")
    command = "python bench/speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    write_results(args.output, {"machine": machine, "families": results}, command=command.strip(), seeds=[0, 1],
                  seconds=time.perf_counter() - start, sources=code)
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
