"""The 2-D GAN laboratory: GAN variants trained and scored on the toy mixtures, over seeds.

A `LabVariant` names one way to train the same two small MLPs: the loss, packing, spectral
normalisation, discriminator steps and the optimiser. `train_variant` trains it through the
book's `Trainer` (so through `GAN.training_step`), `score` measures the samples with the
modes-covered / high-quality metric of `gentut.data.toy2d`, and `compare` does both for several
variants and seeds and `format_comparison` prints the table. `run_lab` runs the whole
comparison of the chapter; ``bench/gan_toy_lab.py`` calls it and writes its results (with their
provenance) to `LAB_RESULTS`, which the GAN chapter reads, so the book quotes and the benchmark
trains the same models.
"""
from __future__ import annotations

import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

import torch

from gentut.data.loader import InMemoryLoader
from gentut.data.toy2d import ToyData, grid_of_gaussians, ring_of_gaussians
from gentut.metrics.modes import ModeCoverage, mode_counts, mode_coverage
from gentut.metrics.tables import format_table
from gentut.hooks import Hook, LinearDecay
from gentut.models.gan import LOSSES, GAN
from gentut.spec import SPEC_VERSION, build_model, build_optimizers
from gentut.trainer import Trainer
from gentut.validation import is_number

__all__ = [
    "LabVariant",
    "LabResult",
    "ModeTrace",
    "variant_spec",
    "build_gan",
    "train_variant",
    "score",
    "compare",
    "format_comparison",
    "book_variants",
    "run_lab",
    "stored_runs",
    "LAB_BATCH",
    "LAB_DATA",
    "LAB_RESULTS",
    "LAB_STEPS",
    "FAST_DISCRIMINATOR",
]

LATENT_DIM = 16
HIDDEN = (128, 128)
N_EVAL = 2500  # samples scored, as in VEEGAN and PacGAN
# The chapter's budget, used by it and by bench/gan_toy_lab.py: discriminator updates per run on
# each mixture and the batch size. The grid needs 20,000 updates for the fixed model to put most
# samples within 3 std of its 25 modes (at 10,000, packing covered 23 modes, 36% high quality).
LAB_BATCH = 512
LAB_STEPS = {"ring": 6_000, "grid": 20_000}
LAB_DATA = {"ring": ring_of_gaussians, "grid": grid_of_gaussians}  # 50,000 points each, seed 0
# Where bench/gan_toy_lab.py writes the comparison over seeds, in a clone of the book's repository.
LAB_RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "gan_toy_lab.json"
STORED_SAMPLES = 1_000  # samples kept per variant (first seed only), for the chapter's scatter plots


def _positive_number(value: object) -> bool:
    return is_number(value) and value > 0


@dataclass(frozen=True)
class LabVariant:
    """One way to train the lab's GAN.

    Attributes:
        name: the row label in tables.
        loss, packing, discriminator_steps: as in `GANConfig`.
        spectral_norm: normalise every layer of the discriminator (`with_spectral_norm`).
        lr_generator, lr_discriminator, betas: Adam's settings for each player.
        decay_to: if set, both learning rates fall linearly to this fraction of their start
            value over the run (`gentut.hooks.LinearDecay`); None keeps them constant.
    """

    name: str
    loss: str = "non_saturating"
    packing: int = 1
    spectral_norm: bool = False
    discriminator_steps: int = 1
    lr_generator: float = 1e-3
    lr_discriminator: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    decay_to: float | None = None

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("lr_generator", "lr_discriminator"):
            if not _positive_number(getattr(self, name)):
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")
        if (
            not isinstance(self.betas, tuple)
            or len(self.betas) != 2
            or not all(is_number(b) and 0 <= b < 1 for b in self.betas)
        ):
            # ints are numbers too: (0, 0.9) is Adam's betas as often written
            raise ValueError(f"betas must be a tuple of two numbers in [0, 1), got {self.betas!r}")
        if self.decay_to is not None and not (_positive_number(self.decay_to) and self.decay_to <= 1):
            raise ValueError(f"decay_to must be None or a fraction in (0, 1], got {self.decay_to!r}")
        # packing and discriminator_steps are checked by GANConfig when the GAN is built


def book_variants() -> list[LabVariant]:
    """The variants the GAN chapter compares, all trained for the same number of
    discriminator updates (see `compare`)."""
    # Both players at Adam 1e-3, decayed to 1% by the end: fast enough to find the modes in a
    # few thousand steps, slow enough at the end to put samples within 3 std of them.
    balanced = dict(lr_generator=1e-3, lr_discriminator=1e-3, decay_to=0.01)
    return [
        LabVariant("GAN", **balanced),
        LabVariant("GAN + packing (m = 2)", packing=2, **balanced),  # Lin et al. 2018
        LabVariant("GAN + spectral norm", spectral_norm=True, **balanced),  # Miyato et al. 2018
        # Gulrajani et al. 2017's settings: lambda 10, 5 critic updates per generator update,
        # Adam 1e-4 with betas (0, 0.9), constant
        LabVariant("WGAN-GP", loss="wasserstein_gp", discriminator_steps=5,
                   lr_generator=1e-4, lr_discriminator=1e-4, betas=(0.0, 0.9)),
    ]


# A discriminator that learns ten times faster than its generator: the chapter's collapse on purpose.
FAST_DISCRIMINATOR = LabVariant("GAN, fast discriminator", lr_generator=1e-4, lr_discriminator=1e-3)


class LabResult(NamedTuple):
    variant: str
    seed: int
    modes_covered: int
    high_quality_share: float
    seconds: float
    samples: torch.Tensor | None = None  # the N_EVAL scored samples (N_EVAL, 2), on the CPU


def variant_spec(
    variant: LabVariant, *, latent_dim: int = LATENT_DIM, hidden: Sequence[int] = HIDDEN
) -> dict:
    """The `gentut.spec` of `variant`: a generator MLP(latent_dim -> 2) and a discriminator
    MLP(2 * packing -> 1), both with ReLU hidden layers of widths `hidden`, and one Adam per
    player."""
    adam = {"betas": variant.betas}
    return {
        "version": SPEC_VERSION,
        "model": "gan",
        "config": {"latent_dim": latent_dim, "loss": variant.loss, "packing": variant.packing,
                   "discriminator_steps": variant.discriminator_steps},
        "networks": {
            "generator": {"type": "MLP", "options": {"in_dim": latent_dim, "out_dim": 2, "hidden": tuple(hidden)}},
            # a pack of m points is one input of the discriminator
            "discriminator": {"type": "MLP", "options": {"in_dim": 2 * variant.packing, "out_dim": 1,
                                                         "hidden": tuple(hidden),
                                                         "spectral_norm": variant.spectral_norm}},
        },
        "optimizers": {
            "discriminator": {"type": "Adam", "parameters": "discriminator",
                              "options": {"lr": variant.lr_discriminator, **adam}},
            "generator": {"type": "Adam", "parameters": "generator",
                          "options": {"lr": variant.lr_generator, **adam}},
        },
    }


def build_gan(variant: LabVariant, *, latent_dim: int = LATENT_DIM, hidden: Sequence[int] = HIDDEN) -> GAN:
    """The lab's GAN for `variant`, freshly initialised from `variant_spec`."""
    return build_model(variant_spec(variant, latent_dim=latent_dim, hidden=hidden))


def train_variant(
    variant: LabVariant,
    data: ToyData,
    *,
    seed: int,
    steps: int,
    batch_size: int = LAB_BATCH,
    hooks: Iterable[Hook] = (),
    device: str | torch.device = "cpu",
    latent_dim: int = LATENT_DIM,
    hidden: Sequence[int] = HIDDEN,
) -> tuple[GAN, Trainer]:
    """Build and train `variant` on `data.points` for `steps` generator steps.

    `seed` fixes the initial weights, the noise and the batch order, so a (variant, seed) pair is
    one reproducible run; the same seeds give every variant the same start where their networks
    agree. Returns the trained GAN and its trainer (whose history holds the losses).
    """
    if not isinstance(data, ToyData) or data.points.ndim != 2 or data.points.shape[1] != 2:
        raise ValueError("data must be a ToyData of 2-D points, e.g. ring_of_gaussians(n)")
    torch.manual_seed(seed)
    spec = variant_spec(variant, latent_dim=latent_dim, hidden=hidden)
    gan = build_model(spec)
    optimizers = build_optimizers(spec, gan)
    hooks = list(hooks)
    if variant.decay_to is not None:
        hooks.append(LinearDecay(steps, final=variant.decay_to))
    trainer = Trainer(gan, optimizers, device=device, progress=False, log_every=max(1, steps // 100), hooks=hooks)
    # drop_last: packing needs every batch divisible by m, and equal batches keep steps comparable
    loader = InMemoryLoader(data.points, batch_size=batch_size, seed=seed, drop_last=True)
    trainer.fit(loader, steps=steps)
    return gan, trainer


def score(gan: GAN, data: ToyData, *, n: int = N_EVAL, seed: int = 0) -> ModeCoverage:
    """(modes covered, high-quality share) of `n` samples with fixed noise (`seed`)."""
    if data.centres is None or data.std is None:
        raise ValueError("data must be a mixture with centres and std (ring_of_gaussians or grid_of_gaussians)")
    return mode_coverage(_samples(gan, n, seed=seed), data.centres, data.std)


def _samples(gan: GAN, n: int, *, seed: int) -> torch.Tensor:
    device = next(gan.generator.parameters()).device
    return gan.sample(n, generator=torch.Generator(device).manual_seed(seed)).cpu()


class ModeTrace(Hook):
    """Every `every` steps, record which mode holds most of `n` samples of the trainer's GAN
    (fixed noise) and how many modes are covered: ``self.records`` is a list of (step, dominant
    mode or -1 if no sample is near any mode, modes covered). A generator that hops between
    modes shows up as a dominant mode that keeps changing."""

    def __init__(self, data: ToyData, *, every: int = 250, n: int = N_EVAL, seed: int = 1234) -> None:
        if data.centres is None or data.std is None:
            raise ValueError("data must be a mixture with centres and std")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.data, self.every, self.n, self.seed = data, every, n, seed
        self.records: list[tuple[int, int, int]] = []

    def on_step_end(self, trainer: Trainer) -> None:
        if trainer.global_step % self.every:
            return
        samples = _samples(trainer.model, self.n, seed=self.seed)
        counts = mode_counts(samples, self.data.centres, self.data.std)
        dominant = int(counts.argmax()) if counts.sum() > 0 else -1
        self.records.append((trainer.global_step, dominant, int((counts > 0).sum())))

    @property
    def hops(self) -> int:
        """How often the dominant mode changed between consecutive records."""
        modes = [mode for _, mode, _ in self.records]
        return sum(a != b for a, b in zip(modes, modes[1:]))


def _run_one(
    variant: LabVariant, data: ToyData, seed: int, steps: int, batch_size: int, device: str, threads: int | None
) -> LabResult:
    """One (variant, seed) run of `compare`: train, then score N_EVAL samples with fixed noise."""
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    gan, _ = train_variant(variant, data, seed=seed, steps=steps, batch_size=batch_size, device=device)
    seconds = time.perf_counter() - start
    samples = _samples(gan, N_EVAL, seed=10_000 + seed)
    covered, share = mode_coverage(samples, data.centres, data.std)
    return LabResult(variant.name, seed, covered, share, seconds, samples)


def compare(
    variants: Sequence[LabVariant],
    data: ToyData,
    *,
    seeds: Sequence[int],
    steps: int,
    batch_size: int = LAB_BATCH,
    device: str | torch.device = "cpu",
    processes: int = 1,
) -> list[LabResult]:
    """Train every variant on every seed and score it; one `LabResult` per run, in the order
    of `variants`, then `seeds`.

    `steps` counts discriminator updates: a variant with ``discriminator_steps = k`` gets
    ``steps // k`` generator steps, so every variant sees the same number of real batches and
    its discriminator the same number of updates (WGAN-GP's 5 critic steps would otherwise cost
    five times as much).

    `processes` > 1 runs that many trainings at once in separate processes, each on one CPU
    thread: the lab's MLPs are too small for several threads to speed up one run, so on a
    machine with several cores parallel runs are the way to use them. Every run is seeded on
    its own, so the results are the same as with ``processes=1``. Use 1 on a GPU.
    """
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f"processes must be a positive int, got {processes!r}")
    jobs = [
        (variant, data, seed, max(1, steps // variant.discriminator_steps), batch_size, str(device))
        for variant in variants
        for seed in seeds
    ]
    if processes == 1:
        return [_run_one(*job, None) for job in jobs]
    # "spawn" works the same on Linux, macOS and Windows and inside Jupyter; the worker function
    # lives in this module, so a fresh interpreter can import it.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures = [pool.submit(_run_one, *job, 1) for job in jobs]
        return [future.result() for future in futures]


def _mean_spread(values: list[float], fmt: str) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{format(statistics.mean(values), fmt)} ± {format(spread, fmt)}"


def format_comparison(results: Sequence[LabResult], modes: int) -> str:
    """A table, one row per variant: modes covered per seed, mean ± standard deviation over
    seeds of the modes covered and of the high-quality share, and seconds per run."""
    if not results:
        raise ValueError("results is empty: nothing to tabulate")
    rows = {}
    for name in dict.fromkeys(r.variant for r in results):
        runs = [r for r in results if r.variant == name]
        covered = [r.modes_covered for r in runs]
        rows[name] = {
            "per seed": " ".join(map(str, covered)),
            "modes": _mean_spread(covered, ".1f"),
            "quality": _mean_spread([100 * r.high_quality_share for r in runs], ".0f") + " %",
            "seconds": statistics.mean(r.seconds for r in runs),
        }
    headers = {"per seed": "modes per seed", "modes": f"modes (of {modes})", "quality": "high quality",
               "seconds": "s/run"}
    return format_table(rows, list(headers), headers=headers, formats={"seconds": ".1f"}, first="variant")


def run_lab(
    seeds: Sequence[int],
    *,
    data_names: Sequence[str] = tuple(LAB_STEPS),
    steps: int | None = None,
    processes: int = 1,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """The chapter's comparison: the fast-discriminator variant and `book_variants` on each
    mixture in `data_names`, for every seed, at the lab's budget (`LAB_STEPS`, or `steps` for a
    toy-size run). Returns, per data set, a JSON-ready dict: ``heading``, ``table``
    (`format_comparison`), ``steps`` and ``runs`` (one dict per run; the first seed's runs also
    keep `STORED_SAMPLES` of their scored samples, as text: "x,y x,y ..." to two decimals)."""
    unknown = [name for name in data_names if name not in LAB_STEPS]
    if unknown or not data_names:
        raise ValueError(f"data_names must be some of {list(LAB_STEPS)}, got {list(data_names)!r}")
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    variants = [FAST_DISCRIMINATOR, *book_variants()]
    results = {}
    for name in data_names:
        data = LAB_DATA[name](50_000, seed=0)
        budget = LAB_STEPS[name] if steps is None else steps
        runs = compare(variants, data, seeds=seeds, steps=budget, batch_size=LAB_BATCH, device=device,
                       processes=processes)
        results[name] = {
            "heading": (f"{name}: {len(data.centres)} modes, std {data.std}; {budget} discriminator updates, "
                        f"batch {LAB_BATCH}; seeds {list(seeds)}; {N_EVAL} samples scored per run"),
            "table": format_comparison(runs, modes=len(data.centres)),
            "steps": budget,
            "runs": [
                {"variant": r.variant, "seed": r.seed, "modes_covered": r.modes_covered,
                 "high_quality_share": r.high_quality_share, "seconds": round(r.seconds, 1),
                 **({"samples": _points_to_text(r.samples[:STORED_SAMPLES])} if r.seed == seeds[0] else {})}
                for r in runs
            ],
        }
    return results


def _points_to_text(points: torch.Tensor) -> str:
    # Two decimals: a thousandth of the plots' width (-5..5), finer than a scatter plot's dots,
    # and far smaller than JSON lists.
    return " ".join(f"{x:.2f},{y:.2f}" for x, y in points.tolist())


def _points_from_text(text: str) -> torch.Tensor:
    return torch.tensor([[float(v) for v in pair.split(",")] for pair in text.split()])


def stored_runs(results: dict[str, Any], data_name: str) -> list[LabResult]:
    """The `LabResult`s of `data_name` in `run_lab`'s output (or a results file's ``results``),
    with their stored samples as tensors where there are any."""
    if data_name not in results:
        raise KeyError(f"no results for {data_name!r}; the results hold {sorted(results)}")
    return [
        LabResult(run["variant"], run["seed"], run["modes_covered"], run["high_quality_share"], run["seconds"],
                  _points_from_text(run["samples"]) if "samples" in run else None)
        for run in results[data_name]["runs"]
    ]
