"""The 2-D laboratory's runs over seeds trained at once, as one ensemble.

`train_ensemble` trains one `LabVariant` for several seeds in one pass: a `GAN` whose generator
and discriminator are `gentut.models.ensemble.EnsembleMLP`s of the seeds' networks, trained by
the same `GAN.training_step` and `Trainer` as `gentut.lab2d.train_variant`. `compare_ensemble`
is `gentut.lab2d.compare` with each variant's seeds trained together. ``bench/lab_ensemble.py``
measures both ways side by side: speed, and the modes and quality they reach over seeds.

What is the same as separate runs: each member starts from the weights its seed gives and sees
the batches of its seed's loader. What differs: the noise of all members comes from one stream,
so a member draws other noise than its separate run would (a one-seed ensemble draws exactly the
same, and trains to the same weights: tests/test_ensemble.py); and each member's loss enters the
mean over all members, 1/E of its own, which Adam's update divides out up to its eps.
"""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Iterable, Iterator, Sequence

import torch

from gentut.data.loader import Batch, InMemoryLoader
from gentut.data.toy2d import ToyData
from gentut.hooks import Hook, LinearDecay
from gentut.lab2d import HIDDEN, LAB_BATCH, LATENT_DIM, N_EVAL, LabResult, LabVariant, _samples, variant_spec
from gentut.metrics.modes import mode_coverage
from gentut.models.ensemble import EnsembleMLP
from gentut.models.gan import GAN
from gentut.spec import build_model, build_optimizers
from gentut.trainer import Trainer

__all__ = ["EnsembleLoader", "train_ensemble", "compare_ensemble"]


class EnsembleLoader:
    """Batches for an ensemble: member e's batch from its own `InMemoryLoader` (its own seed, so
    the same order as a separate run with that seed), stacked as rows ``[e * B, (e + 1) * B)``."""

    def __init__(self, loaders: Sequence[InMemoryLoader]) -> None:
        if not loaders or len({loader.batch_size for loader in loaders}) != 1:
            raise ValueError("loaders must be a non-empty list of InMemoryLoaders with one batch size")
        self.loaders = list(loaders)

    def __len__(self) -> int:
        return min(len(loader) for loader in self.loaders)

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[Batch]:
        for batches in zip(*(loader.epoch(epoch, start) for loader in self.loaders)):
            yield Batch(torch.cat([batch.x for batch in batches]))


def train_ensemble(
    variant: LabVariant,
    data: ToyData,
    *,
    seeds: Sequence[int],
    steps: int,
    batch_size: int = LAB_BATCH,
    hooks: Iterable[Hook] = (),
    device: str | torch.device = "cpu",
    latent_dim: int = LATENT_DIM,
    hidden: Sequence[int] = HIDDEN,
) -> tuple[list[GAN], Trainer]:
    """`gentut.lab2d.train_variant` for every seed in `seeds` at once.

    Member e starts from the weights `train_variant` builds with ``seeds[e]`` and sees the
    batches of that seed's loader; the noise of all members comes from the global stream after
    the last member is built (so a one-seed ensemble draws exactly the noise of `train_variant`).
    Returns one trained GAN per seed, split out of the ensemble, and the ensemble's trainer (its
    history holds the losses averaged over members).
    """
    if not isinstance(data, ToyData) or data.points.ndim != 2 or data.points.shape[1] != 2:
        raise ValueError("data must be a ToyData of 2-D points, e.g. ring_of_gaussians(n)")
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {seeds}")
    spec = variant_spec(variant, latent_dim=latent_dim, hidden=hidden)
    members = []
    for seed in seeds:  # each member initialised as its separate run would be
        torch.manual_seed(seed)
        members.append(build_model(spec))
    template = members[0]
    gan = GAN(EnsembleMLP.stack([m.generator for m in members]),
              EnsembleMLP.stack([m.discriminator for m in members]), config=template.config)
    optimizers = build_optimizers(spec, gan)  # Adam is elementwise: one over stacked weights is one per member
    hooks = list(hooks)
    if variant.decay_to is not None:
        hooks.append(LinearDecay(steps, final=variant.decay_to))
    trainer = Trainer(gan, optimizers, device=device, progress=False, log_every=max(1, steps // 100), hooks=hooks)
    loader = EnsembleLoader([InMemoryLoader(data.points, batch_size=batch_size, seed=seed, drop_last=True)
                             for seed in seeds])
    trainer.fit(loader, steps=steps)
    generators = gan.generator.unstack(template.generator)
    discriminators = gan.discriminator.unstack(template.discriminator)
    trained = [GAN(g, d, config=template.config).to(device) for g, d in zip(generators, discriminators)]
    return trained, trainer


def _run_ensemble(
    variant: LabVariant, data: ToyData, seeds: Sequence[int], steps: int, batch_size: int, device: str,
    threads: int | None,
) -> list[LabResult]:
    """Train `variant` for `seeds` together and score each member as `gentut.lab2d.compare`
    scores a separate run; each run's seconds are its share of the ensemble's time."""
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    gans, _ = train_ensemble(variant, data, seeds=seeds, steps=steps, batch_size=batch_size, device=device)
    seconds = (time.perf_counter() - start) / len(seeds)
    results = []
    for seed, gan in zip(seeds, gans):
        samples = _samples(gan, N_EVAL, seed=10_000 + seed)  # the noise compare's runs are scored with
        covered, share = mode_coverage(samples, data.centres, data.std)
        results.append(LabResult(variant.name, seed, covered, share, seconds, samples))
    return results


def compare_ensemble(
    variants: Sequence[LabVariant],
    data: ToyData,
    *,
    seeds: Sequence[int],
    steps: int,
    batch_size: int = LAB_BATCH,
    device: str | torch.device = "cpu",
    processes: int = 1,
) -> list[LabResult]:
    """`gentut.lab2d.compare` with each variant's seeds trained as one ensemble; one `LabResult`
    per run, in the order of `variants`, then `seeds`. The same budget rule (`steps` counts
    discriminator updates). With `processes` > 1 the seeds are shared out among that many
    processes of one thread each, one ensemble per process."""
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f"processes must be a positive int, got {processes!r}")
    groups = [list(seeds)[i::processes] for i in range(min(processes, len(seeds)))]
    jobs = [(variant, data, group, max(1, steps // variant.discriminator_steps), batch_size, str(device))
            for variant in variants for group in groups]
    if processes == 1:
        done = [_run_ensemble(*job, None) for job in jobs]
    else:
        context = multiprocessing.get_context("spawn")  # as in gentut.lab2d.compare
        with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            done = [future.result() for future in [pool.submit(_run_ensemble, *job, 1) for job in jobs]]
    by_run = {(r.variant, r.seed): r for results in done for r in results}
    return [by_run[variant.name, seed] for variant in variants for seed in seeds]
