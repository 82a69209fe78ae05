"""How much time does gentut's Trainer add over a plain hand-written training loop?

Both train the same MLP autoencoder (784-512-32-512-784, binary cross-entropy with logits, Adam)
on the same random data in [0, 1], batch 128, from the same initial weights, in one process. The
plain loop keeps its losses on the device and syncs once every 50 steps, like the Trainer's
default ``log_every``, so the comparison isolates the Trainer's bookkeeping. Runs are interleaved
(plain, Trainer, Trainer with a progress bar, then rotated) after a warm-up, so a machine that
speeds up or slows down affects all alike; we report medians (and minima, the least disturbed
runs, which matter on a shared machine).

    python bench/trainer_overhead.py [--steps N] [--repeats R] [--threads T]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from gentut.data.loader import Batch, InMemoryLoader
from gentut.trainer import Trainer, TrainStep

LOG_EVERY = 50
BATCH_SIZE = 128


class AutoencoderMLP(nn.Module):
    """784-512-32-512-784; the decoder returns logits."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 32))
        self.decoder = nn.Sequential(nn.Linear(32, 512), nn.ReLU(), nn.Linear(512, 784))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))  # (B, 784) logits

    def training_step(self, batch: Batch, step: TrainStep) -> dict[str, torch.Tensor]:
        with step.autocast():
            loss = F.binary_cross_entropy_with_logits(self(batch.x), batch.x)
        step.update(loss)
        return {"loss": loss.detach()}


class OneParameter(nn.Module):
    """Almost no arithmetic, so the time per step is nearly all loop bookkeeping."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x

    training_step = AutoencoderMLP.training_step


def plain_loop(model: nn.Module, loader: InMemoryLoader, steps: int) -> list[float]:
    """The loop a reader would write by hand, with the same logging frequency."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history, pending, step = [], [], 0
    while step < steps:
        for batch in loader.epoch(step // len(loader), start=step % len(loader)):
            loss = F.binary_cross_entropy_with_logits(model(batch.x), batch.x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            pending.append(loss.detach())
            step += 1
            if step % LOG_EVERY == 0 or step % len(loader) == 0 or step == steps:
                history.append(torch.stack(pending).mean().item())
                pending = []
            if step == steps:
                break
    return history


def trainer_loop(model: nn.Module, loader: InMemoryLoader, steps: int, progress: bool) -> list[float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    trainer = Trainer(model, optimizer, device="cpu", log_every=LOG_EVERY, progress=progress)
    with contextlib.redirect_stdout(io.StringIO()):  # the bar's cost counts, its text does not
        history = trainer.fit(loader, steps=steps)
    return history.series("loss")[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50, help="training steps per timed run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each loop")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    data = torch.rand(BATCH_SIZE * 50, 784)  # (N, 784) in [0, 1]
    loader = InMemoryLoader(data, batch_size=BATCH_SIZE, seed=0)
    model = AutoencoderMLP()
    initial = {k: v.clone() for k, v in model.state_dict().items()}

    loops = {
        "plain loop": lambda: plain_loop(model, loader, args.steps),
        "Trainer(progress=False)": lambda: trainer_loop(model, loader, args.steps, progress=False),
        "Trainer(progress=True)": lambda: trainer_loop(model, loader, args.steps, progress=True),
    }

    def timed(run) -> float:
        model.load_state_dict(initial)  # every run does the same arithmetic
        start = time.perf_counter()
        run()
        return (time.perf_counter() - start) / args.steps

    # Same weights, same batches: the two loops must compute the same losses.
    model.load_state_dict(initial)
    reference = plain_loop(model, loader, LOG_EVERY)
    model.load_state_dict(initial)
    assert trainer_loop(model, loader, LOG_EVERY, progress=False) == reference, "loops disagree"

    for run in loops.values():  # warm-up: allocator, thread pool, first-call paths
        timed(run)
    times: dict[str, list[float]] = {name: [] for name in loops}
    names = list(loops)
    for repeat in range(args.repeats):
        for name in names[repeat % 3:] + names[: repeat % 3]:  # rotate, so no loop always goes first
            times[name].append(timed(loops[name]))

    # The Trainer's absolute cost per step, from a model with almost no arithmetic; minima are
    # the least disturbed runs. Overhead in percent = this / the MLP's time per step.
    tiny, tiny_loader, tiny_steps = OneParameter(), InMemoryLoader(data[:, :4], batch_size=BATCH_SIZE), 1000
    tiny_times: dict[str, list[float]] = {"plain": [], "Trainer": []}
    for _ in range(args.repeats + 1):
        for name, run in (("plain", plain_loop), ("Trainer", trainer_loop)):
            extra = {} if name == "plain" else {"progress": True}
            start = time.perf_counter()
            run(tiny, tiny_loader, tiny_steps, **extra)
            tiny_times[name].append((time.perf_counter() - start) / tiny_steps)
    bookkeeping = min(tiny_times["Trainer"][1:]) - min(tiny_times["plain"][1:])

    plain = times["plain loop"]
    print(
        f"MLP autoencoder 784-512-32-512-784, batch {BATCH_SIZE}, Adam, BCE with logits; "
        f"{args.steps} steps x {args.repeats} interleaved repeats; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}"
    )
    for name, values in times.items():
        line = f"{name:<24} median {1e3 * statistics.median(values):7.3f} ms/step, min {1e3 * min(values):7.3f}"
        if name != "plain loop":
            paired = statistics.median(v / p for v, p in zip(values, plain))
            line += (
                f"   Trainer/plain: medians {statistics.median(values) / statistics.median(plain):.3f}, "
                f"paired runs {paired:.3f}, minima {min(values) / min(plain):.3f}"
            )
        print(line)
    print(
        f"Trainer bookkeeping per step (1-parameter model, progress bar on, minima of {args.repeats} "
        f"runs of {tiny_steps} steps): {1e6 * min(tiny_times['Trainer'][1:]):.1f} us - "
        f"{1e6 * min(tiny_times['plain'][1:]):.1f} us = {1e6 * bookkeeping:.1f} us = "
        f"{100 * bookkeeping / min(plain):.2f}% of the MLP's fastest plain step"
    )


if __name__ == "__main__":
    main()
