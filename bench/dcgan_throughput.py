"""DCGAN training throughput on this machine: the Trainer against hand-written loops, and what
each speed option does.

    python bench/dcgan_throughput.py [--batch-sizes 64 256] [--steps 12] [--repeats 3] [--no-compile]

One DCGAN (`gentut.models.dcgan.build_dcgan`, width 64, 28x28 grey images) is trained on random
images in [0, 1] (the speed does not depend on what the pixels show), from the same initial
weights in every run. Loops, all doing the same arithmetic per step (one discriminator and one
generator update, non-saturating loss, Adam 2e-4 / beta1 0.5):

* ``DataLoader loop``: the pytorch/examples DCGAN style, a hand-written loop over a
  ``torch.utils.data.DataLoader(TensorDataset(...), shuffle=True)``;
* ``plain loop``: the same hand-written loop over gentut's in-memory loader;
* ``Trainer``: `gentut.trainer.Trainer` on `GAN.training_step`;

and, each changing one thing of the plain loop: ``channels_last`` (model and batches in NHWC),
``bf16 autocast``, ``torch.compile`` (both networks; compile time reported apart), and ``1 thread``
instead of all. Runs are interleaved and rotated after a warm-up, and each figure is given as a
ratio to the plain loop measured in the same round, so a machine that speeds up or slows down
affects all alike. Prints images per second (median over repeats) and the ratios.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from gentut.data.loader import InMemoryLoader
from gentut.models.dcgan import build_dcgan, dcgan_optimizers
from gentut.trainer import Trainer

LATENT_DIM, WIDTH = 100, 64


def _hand_written_step(gan, optimizers, real: torch.Tensor, *, memory_format=None, bf16: bool = False) -> None:
    """One D update then one G update, as pytorch/examples' dcgan/main.py writes them."""
    if memory_format is not None:
        real = real.contiguous(memory_format=memory_format)
    context = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    z = torch.randn(len(real), LATENT_DIM)
    with context:
        fake = gan.generator(z)
        real_logits, fake_logits = gan.discriminator(real).squeeze(1), gan.discriminator(fake.detach()).squeeze(1)
        d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                  + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
    optimizers["discriminator"].zero_grad(set_to_none=True)
    d_loss.backward()
    optimizers["discriminator"].step()
    with context:
        fooled = gan.discriminator(fake).squeeze(1)
        g_loss = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
    optimizers["generator"].zero_grad(set_to_none=True)
    g_loss.backward()
    optimizers["generator"].step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--steps", type=int, default=12, help="training steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each loop")
    parser.add_argument("--no-compile", action="store_true", help="leave out torch.compile")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    print(f"DCGAN width {WIDTH}, 28x28x1, z {LATENT_DIM}; {args.steps} steps x {args.repeats} interleaved repeats; "
          f"torch {torch.__version__}, {threads} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")

    for batch_size in args.batch_sizes:
        torch.manual_seed(0)
        images = torch.rand(batch_size * args.steps, 1, 28, 28)
        gan = build_dcgan(LATENT_DIM, width=WIDTH)
        initial = {k: v.clone() for k, v in gan.state_dict().items()}
        memory = InMemoryLoader(images, batch_size=batch_size, seed=0)
        torch_loader = DataLoader(TensorDataset(images), batch_size=batch_size, shuffle=True, drop_last=True)

        def fresh(model=gan, memory_format=None):
            if model is gan:  # the compiled copy keeps its weights: same arithmetic, other values
                gan.load_state_dict(initial)
                gan.to(memory_format=memory_format or torch.contiguous_format)
            return dcgan_optimizers(model)

        def plain(memory_format=None, bf16=False, model=gan):
            def run():
                optimizers = fresh(model, memory_format)
                for batch in memory.epoch(0):
                    _hand_written_step(model, optimizers, batch.x, memory_format=memory_format, bf16=bf16)
            return run

        def with_torch_loader():
            optimizers = fresh()
            for (real,) in torch_loader:
                _hand_written_step(gan, optimizers, real)

        def with_trainer():
            optimizers = fresh()
            with contextlib.redirect_stdout(io.StringIO()):
                Trainer(gan, optimizers, device="cpu", mixed_precision=False, progress=False).fit(memory, epochs=1)

        def one_thread():
            torch.set_num_threads(1)
            try:
                plain()()
            finally:
                torch.set_num_threads(threads)

        loops: dict[str, Callable[[], None]] = {
            "plain loop": plain(),
            "DataLoader loop": with_torch_loader,
            "Trainer": with_trainer,
            "channels_last": plain(memory_format=torch.channels_last),
            "bf16 autocast": plain(bf16=True),
            "1 thread": one_thread,
        }
        if not args.no_compile:
            compiled = build_dcgan(LATENT_DIM, width=WIDTH)
            compiled.load_state_dict(initial)  # before wrapping: compiled modules rename their keys
            compiled.generator, compiled.discriminator = (torch.compile(compiled.generator),
                                                          torch.compile(compiled.discriminator))
            start = time.perf_counter()
            try:
                plain(model=compiled)()  # the first run compiles
                print(f"batch {batch_size}: torch.compile's first run took {time.perf_counter() - start:.0f} s")
                loops["torch.compile"] = plain(model=compiled)
            except Exception as error:  # a machine without a working compiler: say so, go on
                print(f"batch {batch_size}: torch.compile failed ({type(error).__name__}: {str(error)[:200]})")

        for run in loops.values():  # warm-up
            run()
        times: dict[str, list[float]] = {name: [] for name in loops}
        names = list(loops)
        for repeat in range(args.repeats):
            shift = repeat % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                loops[name]()
                times[name].append(time.perf_counter() - start)
        gan.to(memory_format=torch.contiguous_format)

        print(f"\nbatch {batch_size}: images per second (median of {args.repeats}), and the ratio to the plain loop "
              "of the same round (median)")
        for name, values in times.items():
            speed = batch_size * args.steps / statistics.median(values)
            ratio = statistics.median(p / v for v, p in zip(values, times["plain loop"]))
            print(f"  {name:<16} {speed:8.0f} images/s   {ratio:5.2f}x the plain loop")


if __name__ == "__main__":
    main()
