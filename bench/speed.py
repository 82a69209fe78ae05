"""Training speed of the book's models three ways: gentut's Trainer, a plain loop, a DataLoader loop.

    python bench/speed.py [--steps 30] [--repeats 3] [--families autoencoder vae ...]
    python bench/speed.py --smoke          # toy size: proves the code path (CI)
    python bench/speed.py --device cuda    # on a GPU (the data starts on the host, as in the chapters)

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
fused Adam, channels_last (convolutional models), autocast (the Trainer's mixed precision: bf16
on a CPU with bf16 units only; on a GPU bf16 where it has it, else fp16 with a gradient scaler) and
``torch.compile`` of each network (its first two steps timed apart, from a cold start: a fresh
kernel cache for the run and no graph compiled for an earlier family). An option a model cannot use is reported
with the error, not dropped silently. The CPU's bf16
units are read from ``torch.cpu.get_capabilities()`` (AMX-BF16, AVX512-BF16): without them a bf16
matmul is emulated and slower than fp32, so bf16 is not a speed option there. Each option ends
with a verdict, printed and recorded: a gain (at least 10% on some family, the noise of this
machine's repeated runs being about that) or dropped, the families it slows by as much, and whether
gentut turns it on by default.

On a GPU (``--device cuda``) every way runs there, timed to the end of the device's work
(``torch.cuda.synchronize``); the batches start on the host, as the chapters' data does, and go
over in pinned memory with non-blocking copies (the DataLoader loop with ``pin_memory=True``, as
pytorch/examples runs on CUDA). Writes everything, with the provenance, to bench/results/speed.json
(``--output`` for another file: a GPU's table beside this machine's).
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
from gentut.device import pick_device, pick_precision  # noqa: E402
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
OPTIONS = ("foreach Adam", "fused Adam", "channels_last", "autocast", "compile")
# A gain smaller than this is within what repeated runs of the suite differ by on this machine
# (README: the same option measured 1.00 and 1.12 on two days).
GAIN = 1.10
# Options gentut's Trainer and specs turn on by default, and why the others with a gain are not
# (yet): printed with the verdicts so that the table says what a reader's run uses.
DEFAULTS: dict[str, str] = {}
NOT_DEFAULT = {
    "fused Adam": "same arithmetic as Adam in another order, so every trained number moves a little; "
                  "it waits for the next re-run of the book's results and shipped models (issue 16)",
    "channels_last": "as fused Adam: it waits for the next re-run of the convolutional chapters' results",
    "autocast": "the Trainer's default on a GPU; on a CPU with bf16 units what bf16 does to the chapters' "
                "numbers is not measured yet",
    "compile": "its compiling (the first two steps, in brackets) is paid again in every fresh kernel",
    "foreach Adam": "torch already picks it for tensors on a GPU; on the CPU it moves the numbers as fused Adam "
                    "does, for a smaller gain",
}


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer read afterwards includes it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def to_device(batch: Batch, device: torch.device) -> Batch:
    """`batch` on `device`; from the host to a GPU through pinned memory, without blocking."""
    if device.type == "cuda" and batch.x.device.type == "cpu":
        batch = Batch(batch.x.pin_memory(), None if batch.y is None else batch.y.pin_memory())
    return batch.to(device, non_blocking=True)


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


def applies(option: str, family: str, bf16_units: list[str], device: torch.device) -> str | None:
    """None if `option` can be tried on `family` here, else why not."""
    if option == "channels_last" and family not in ("dcgan", "vaegan"):
        return "no convolutions"
    if option == "autocast" and device.type == "cpu" and not bf16_units:
        return "no bf16 units on this CPU"
    return None


def bf16_units_of(device: torch.device) -> list[str]:
    """The device's bf16 matrix units: read from torch, not assumed."""
    if device.type == "cuda":
        return ["cuda bf16"] if torch.cuda.is_bf16_supported() else []
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    return [name for name in ("amx_bf16", "avx512_bf16") if caps.get(name)]


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5, device: torch.device | str = "cpu") -> float:
    """FLOP/s of an n x n matmul in `dtype` on `device` (median of `repeats`, after a warm-up)."""
    device = torch.device(device)
    a, b = torch.randn(n, n, device=device).to(dtype), torch.randn(n, n, device=device).to(dtype)
    torch.mm(a, b)
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times)


def verdict(option: str, multiples: dict[str, float]) -> str:
    """Whether `option` gained (by `GAIN` or more on some family) and whether it is a default."""
    if not multiples:
        return "not tried here"
    gains = ", ".join(f"{NAMES[f]} {m:.2f}x" for f, m in multiples.items() if m >= GAIN)
    losses = ", ".join(f"{NAMES[f]} {m:.2f}x" for f, m in multiples.items() if m <= 1 / GAIN)
    slows = f"; slower on {losses}" if losses else ""
    if not gains:
        return f"dropped: no family gains {100 * (GAIN - 1):.0f}% (best {max(multiples.values()):.2f}x){slows}"
    if option in DEFAULTS:
        return f"kept, on by default: {gains}{slows}; {DEFAULTS[option]}"
    return f"gains ({gains}){slows}; not a default: {NOT_DEFAULT[option]}"


def step_flops(make, data: torch.Tensor, batch_size: int, device: torch.device) -> int:
    model, optimizers = make()
    model.to(device)
    step = TrainStep(optimizers)
    with FlopCounterMode(display=False) as counter:
        model.train()
        model.training_step(Batch(data[:batch_size]).to(device), step)
    return counter.get_total_flops()


def trainer_run(make, data, batch_size, steps, device, mixed_precision=False):
    model, optimizers = make()
    loader = InMemoryLoader(data, batch_size=batch_size, seed=0)
    trainer = Trainer(model, optimizers, device=device, mixed_precision=mixed_precision, progress=False)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.fit(loader, steps=steps)
    sync(device)
    return time.perf_counter() - start


def plain_run(make, data, batch_size, steps, device):
    model, optimizers = make()
    model.to(device).train()  # .to() moves the parameters in place: the optimizers keep them
    loader = InMemoryLoader(data, batch_size=batch_size, seed=0)
    step, done = TrainStep(optimizers), 0
    start = time.perf_counter()
    while done < steps:
        for batch in loader.epoch(done // len(loader)):
            step.begin(done)
            model.training_step(to_device(batch, device), step)
            done += 1
            if done == steps:
                break
    sync(device)
    return time.perf_counter() - start


def dataloader_run(make, data, batch_size, steps, device):
    model, optimizers = make()
    model.to(device).train()
    loader = DataLoader(TensorDataset(data), batch_size=batch_size, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(0), pin_memory=device.type == "cuda")
    step, done = TrainStep(optimizers), 0
    start = time.perf_counter()
    while done < steps:
        for (x,) in loader:
            step.begin(done)
            model.training_step(Batch(x.to(device, non_blocking=True)), step)
            done += 1
            if done == steps:
                break
    sync(device)
    return time.perf_counter() - start


WAYS = {"Trainer": trainer_run, "plain": plain_run, "DataLoader": dataloader_run}


def measure(family: str, steps: int, repeats: int, options: list[str], bf16_units: list[str],
            device: torch.device) -> dict[str, Any]:
    spec, batch_size, shape = build(family)
    make = maker(spec)
    torch.manual_seed(1)
    data = torch.rand(batch_size * 8, *shape)  # (N, ...) in [0, 1] on the host: eight batches, reused
    runs: dict[str, Callable[[], float]] = {way: (lambda run=run: run(make, data, batch_size, steps, device))
                                            for way, run in WAYS.items()}
    skipped, first_steps = {}, {}
    for option in options:
        why = applies(option, family, bf16_units, device)
        if why:
            skipped[option] = why
            continue
        option_make = maker(spec, option)
        mixed = option == "autocast"
        if option == "compile":
            torch._dynamo.reset()  # nothing compiled for an earlier family is reused
        # The first two steps pay for compiling (or first-call set-up): timed apart, then warm.
        try:
            first_steps[option] = trainer_run(option_make, data, batch_size, 2, device, mixed)
        except Exception as error:  # an option this model cannot use: recorded, not fatal
            skipped[option] = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
            continue
        runs[f"Trainer + {option}"] = lambda m=option_make, x=mixed: trainer_run(m, data, batch_size, steps, device, x)
    for name, run in runs.items():  # warm-up: allocator, thread pool, first-call paths
        if not name.startswith("Trainer + "):
            WAYS[name](make, data, batch_size, 2, device)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(runs[name]())
    speed = {name: batch_size * steps / statistics.median(t) for name, t in seconds.items()}
    flops = step_flops(make, data, batch_size, device)
    return {"batch_size": batch_size, "steps": steps, "repeats": repeats, "seconds": seconds,
            "images_per_second": speed, "flops_per_step": flops,
            "flop_per_second": flops * speed["Trainer"] / batch_size,
            "first_two_steps_seconds": first_steps, "skipped": skipped,
            "autocast": pick_precision(device, True).label if "autocast" not in skipped else None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--options", nargs="*", default=list(OPTIONS), choices=OPTIONS,
                        help="speed options to try on the Trainer (none: fp32 only)")
    parser.add_argument("--smoke", action="store_true",
                        help="2 steps, 1 repeat, small peaks, no compile: the code path only")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda: where every way trains")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    device = pick_device(args.device)  # a clear error where it is missing
    if args.smoke:
        args.steps, args.repeats = 2, 1
        args.options = [o for o in args.options if o != "compile"]  # minutes of C++ compiling
    code = fingerprint(SOURCES)
    start = time.perf_counter()
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    bf16_units = bf16_units_of(device)
    n = 256 if args.smoke else (8192 if device.type == "cuda" else 2048)
    peaks = {"fp32": matmul_peak(torch.float32, n, device=device), "bf16": matmul_peak(torch.bfloat16, n, device=device)}
    machine = {"cpu": caps.get("cpu_name", "unknown"), "cores": caps.get("num_physical_cores"),
               "threads": torch.get_num_threads(), "device": str(device),
               "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
               "bf16_units": bf16_units, "torch": torch.__version__, "peak_flop_per_second": peaks}
    print(f"{machine['cpu']}, {machine['cores']} cores, {machine['threads']} torch threads, torch {torch.__version__}"
          + (f"; training on {machine['gpu']}" if machine["gpu"] else ""))
    print(f"matmul peaks ({n} x {n}): fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s; "
          f"bf16 units: {', '.join(bf16_units) or 'none (bf16 is emulated: not a speed option here)'}")
    results = {}
    for family in args.families:
        results[family] = measure(family, args.steps, args.repeats, args.options, bf16_units, device)
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
    verdicts: dict[str, str] = {}
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
        autocast = sorted({r["autocast"] for r in results.values() if r["autocast"]})
        if autocast:
            print(f"autocast ran in {', '.join(autocast)}")
        print("\nVerdicts (kept or dropped):")
        for option in args.options:
            multiples = {f: r["images_per_second"][f"Trainer + {option}"] / r["images_per_second"]["Trainer"]
                         for f, r in results.items() if option not in r["skipped"]}
            verdicts[option] = verdict(option, multiples)
            print(f"  {option}: {verdicts[option]}")
        print(f"  on by default in gentut: {', '.join(DEFAULTS) or 'none'}")
    command = "python bench/speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    write_results(args.output, {"machine": machine, "families": results,
                                "verdicts": verdicts, "defaults": sorted(DEFAULTS)},
                  command=command.strip(), seeds=[0, 1],
                  seconds=time.perf_counter() - start, sources=code)
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
