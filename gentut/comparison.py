"""Every model of the book on the same data: train from specs, score with one call, cache by key.

A `Candidate` is a row of the closing chapter's table: a name, a model spec with its optimizers
(`gentut.spec`), and a training budget. `run_comparison` builds each candidate from its spec,
trains it through the `Trainer`, scores it with `score_model` and writes two files into a cache
folder: the trainer's checkpoint (so the trained model can be rebuilt with
`gentut.spec.load_model` for the chapter's applications) and the scores as JSON. Both are named
by a key, a SHA-256 of everything the result depends on:

* the spec and the budget (epochs, batch size, seed, binarised data or not);
* the training and test images (their `data_fingerprint`) and the feature classifier's weights;
* the scoring settings (numbers of samples, importance samples);
* the package source files the model's code lives in (its objective and base classes, its
  networks) and those every run goes through (trainer, losses, metrics, this file).

Change any of these and the key changes, so the candidate trains again; change nothing and a
second run reads the JSON instead of training. A run killed mid-training resumes from the
checkpoint. This is the mechanism behind the chapters' long sweeps: the bench script that runs the
comparison writes its table with `gentut.results.write_results`, whose freshness test fails when
one of the files listed in `code_files` changes.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

import gentut
from gentut.batched import per_example
from gentut.data.images import ImageData
from gentut.device import pick_device
from gentut.metrics.likelihood import _LabelsInStep, importance_sampled_log_likelihood
from gentut.metrics.memorisation import data_copying
from gentut.metrics.samples import classify, data_fingerprint, evaluate_generator, extract_features, weights_sha256
from gentut.spec import MODELS, NETWORKS, SpecError, build_model, build_optimizers, load_model, model_spec
from gentut.trainer import Trainer
from gentut.validation import is_int

__all__ = ["Candidate", "candidate", "book_candidates", "code_files", "cache_key", "score_model", "run_comparison", "load_trained",
           "grid_images", "SCORE_VERSION"]

# Bump when score_model changes what it measures without any listed file changing.
SCORE_VERSION = 1
# Files every candidate's result depends on, besides its own model and network files.
COMMON_FILES = (
    "trainer.py", "step.py", "losses.py", "data/loader.py", "data/images.py", "comparison.py", "batched.py",
    "metrics/samples.py", "metrics/likelihood.py", "metrics/memorisation.py", "models/sampling.py",
)
# Where the source files are read from for the key (a test points it at an edited copy).
PACKAGE = Path(gentut.__file__).resolve().parent
_IMPORTED_FROM = PACKAGE


@dataclass(frozen=True)
class Candidate:
    """One row of the comparison: a model spec (with optimizers) and its training budget.

    Attributes:
        name: the row's label, e.g. "VAE" or "DCGAN".
        spec: a `gentut.spec` model spec that names its optimizers.
        epochs: passes over the training images.
        batch_size: images per step.
        seed: seed of the initial weights, the batch order and the samples scored.
        binarized: train and score on binarised images (the data of a Bernoulli likelihood,
            on which a VAE's log-likelihood is a probability); else on grey levels in [0, 1].
    """

    name: str
    spec: Mapping[str, Any]
    epochs: int
    batch_size: int = 128
    seed: int = 0
    binarized: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.spec, Mapping) or self.spec.get("model") not in MODELS:
            raise SpecError(f"spec must be a model spec of one of {sorted(MODELS)}, got {self.spec!r:.80}")
        if not isinstance(self.spec.get("optimizers"), Mapping) or not self.spec["optimizers"]:
            raise SpecError(f"{self.name}: the spec names no optimizers; build it with candidate(...)")
        for label, value, least in (("epochs", self.epochs, 1), ("batch_size", self.batch_size, 1),
                                    ("seed", self.seed, 0)):
            if not is_int(value) or value < least:
                raise ValueError(f"{self.name}: {label} must be an int >= {least}, got {value!r}")
        if not isinstance(self.binarized, bool):
            raise TypeError(f"{self.name}: binarized must be True or False, got {self.binarized!r}")

    @property
    def family(self) -> str:
        """The objective: "autoencoder", "vae", "gan" or "vaegan"."""
        return self.spec["model"]

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-").lower() or "model"


def candidate(name: str, model: nn.Module, optimizers: Mapping[str, torch.optim.Optimizer], *, epochs: int,
              batch_size: int = 128, seed: int = 0, binarized: bool = False) -> Candidate:
    """A `Candidate` read off a model and optimizers built the way a chapter builds them."""
    return Candidate(name, model_spec(model, optimizers), epochs, batch_size, seed, binarized)


def book_candidates(epochs: int, *, width: int = 64, classes: int = 10, seed: int = 0,
                    names: Sequence[str] | None = None) -> list[Candidate]:
    """The ten models of the book, each built as its chapter builds it, for `epochs` epochs.

    The budget is the same number of passes over the same images for every model (`epochs`);
    batch sizes are the chapters' own (128 for the autoencoders and VAEs, 64 for the GANs and
    the VAE-GAN, as in their papers' recipes). The VAEs train on binarised images (their
    Bernoulli likelihood then gives a log-likelihood in nats; their decoder means estimate the
    grey levels, so their samples are scored like everyone's). `width` is the DCGANs' and the
    VAE-GAN's base number of channels. `names` keeps only those rows.
    """
    from gentut.models.dcgan import build_dcgan, dcgan_optimizers
    from gentut.models.networks import ConvDecoder, ConvEncoder, LabelConditioned, MLPDecoder, MLPEncoder
    from gentut.models.autoencoder import Autoencoder, AutoencoderConfig
    from gentut.models.gan import GAN, GANConfig
    from gentut.models.vae import VAE, VAEConfig
    from gentut.models.vaegan import build_vaegan, vaegan_optimizers

    def adam(model: nn.Module, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999)) -> dict:
        return {"model": torch.optim.Adam(model.parameters(), lr=lr, betas=betas)}

    def players(gan: GAN, lr: float, betas: tuple[float, float]) -> dict:
        return {name: torch.optim.Adam(getattr(gan, name).parameters(), lr=lr, betas=betas)
                for name in ("discriminator", "generator")}

    def mlp_gan(**config: Any) -> GAN:  # the GAN chapter's networks on images
        wasserstein = config.get("loss") == "wasserstein_gp"
        generator = MLPDecoder(64, hidden=(256, 512), norm="batch")
        # a critic with a gradient penalty takes no dropout: the penalty is on its own gradients
        discriminator = MLPEncoder(1, hidden=(512, 256), activation="leaky_relu", dropout=0.0 if wasserstein else 0.3)
        return GAN(generator, discriminator, config=GANConfig(latent_dim=64, **config))

    def autoencoder(**config: Any):
        model = Autoencoder(MLPEncoder(32), MLPDecoder(32), config=AutoencoderConfig(**config))
        return model, adam(model)

    def vae(**config: Any):
        model = VAE(MLPEncoder(32), MLPDecoder(16), config=VAEConfig(latent_dim=16, **config))
        return model, adam(model)

    def conditional_vae():
        model = VAE(LabelConditioned(MLPEncoder(32, image_shape=(1 + classes, 28, 28)), classes),
                    LabelConditioned(MLPDecoder(16 + classes), classes),
                    config=VAEConfig(latent_dim=16, num_classes=classes))
        return model, adam(model)

    def gan():
        model = mlp_gan()
        return model, players(model, 1e-3, (0.5, 0.999))

    def wgan_gp():
        # Gulrajani et al. 2017: lambda = 10, five critic steps per generator step, Adam(1e-4, (0.5, 0.9))
        model = mlp_gan(loss="wasserstein_gp", discriminator_steps=5)
        return model, players(model, 1e-4, (0.5, 0.9))

    def dcgan(**options: Any):
        model = build_dcgan(width=width, **options)
        return model, dcgan_optimizers(model)

    def vaegan():
        model = build_vaegan(32, width=width, gamma=1e-2)  # gamma as in the VAE-GAN chapter
        return model, vaegan_optimizers(model)

    # name -> (how the chapter builds it, batch size, binarised images)
    rows: dict[str, tuple[Callable[[], tuple[nn.Module, dict]], int, bool]] = {
        "Autoencoder": (autoencoder, 128, False),
        "Denoising autoencoder": (lambda: autoencoder(corruption="gaussian", noise_level=0.5), 128, False),
        "VAE": (vae, 128, True),
        "beta-VAE (beta = 4)": (lambda: vae(beta=4.0), 128, True),
        "Conditional VAE": (conditional_vae, 128, True),
        "GAN (MLP)": (gan, 64, False),
        "WGAN-GP (MLP)": (wgan_gp, 64, False),
        "DCGAN": (dcgan, 64, False),
        "Conditional DCGAN": (lambda: dcgan(num_classes=classes), 64, False),
        "VAE-GAN": (vaegan, 64, False),
    }
    chosen = list(rows) if names is None else list(names)
    unknown = [name for name in chosen if name not in rows]
    if unknown:
        raise ValueError(f"unknown candidates {unknown}; the book's are {list(rows)}")
    candidates = []
    with torch.random.fork_rng(devices=[]):  # building draws initial weights: leave the caller's generator alone
        for name in chosen:
            build, batch_size, binarized = rows[name]
            model, optimizers = build()
            candidates.append(candidate(name, model, optimizers, epochs=epochs, batch_size=batch_size, seed=seed,
                                        binarized=binarized))
    return candidates


# --- the key -------------------------------------------------------------------------------------


def _network_types(spec: Mapping[str, Any]) -> Iterable[type]:
    kind = NETWORKS.get(spec.get("type"))
    if kind is not None:
        yield kind
    inner = spec.get("options", {}).get("network")
    if isinstance(inner, Mapping):
        yield from _network_types(inner)


def code_files(spec: Mapping[str, Any]) -> list[str]:
    """The package files (relative to ``gentut/``) a candidate's result depends on."""
    objective = MODELS[spec["model"]][0]
    classes = [c for c in objective.__mro__ if c.__module__.startswith("gentut.")]
    for network in spec["networks"].values():
        classes.extend(_network_types(network))
    files = {Path(inspect.getsourcefile(c)).resolve().relative_to(_IMPORTED_FROM).as_posix() for c in classes}
    return sorted(files | set(COMMON_FILES))


def cache_key(cand: Candidate, *, data: str, classifier: str, scoring: Mapping[str, Any]) -> str:
    """SHA-256 of what `cand`'s result depends on (see the module docstring)."""
    code = {name: hashlib.sha256((PACKAGE / name).read_bytes()).hexdigest() for name in code_files(cand.spec)}
    record = {"candidate": {**asdict(cand), "spec": cand.spec}, "data": data, "classifier": classifier,
              "scoring": dict(scoring), "score_version": SCORE_VERSION, "code": code}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=list).encode()).hexdigest()


# --- scoring -------------------------------------------------------------------------------------


def _balanced_labels(n: int, classes: int, device: torch.device) -> Tensor:
    return (torch.arange(n, device=device) % classes) if classes else None


def _num_classes(model: nn.Module) -> int:
    return int(getattr(model.config, "num_classes", 0) or 0)


def _reconstruct(model: nn.Module, images: Tensor, labels: Tensor | None) -> Tensor:
    """Reconstructions from the code's mean (no sampling), batched in eval mode."""
    if labels is None or not _num_classes(model):
        return per_example(model, images, lambda x: model(x).float())
    batch_labels = _LabelsInStep(labels)  # the likelihood metrics' way of handing labels to per_example
    return per_example(model, images, lambda x: model(x, batch_labels.next(x)).float())


def grid_images(images: Tensor) -> dict[str, Any]:
    """Images in [0, 1] as a JSON-friendly record of bytes (shape and hex), for a sample grid."""
    pixels = (images.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return {"shape": list(pixels.shape), "uint8_hex": pixels.numpy().tobytes().hex()}


def images_from_grid(record: Mapping[str, Any]) -> Tensor:
    """The images a `grid_images` record holds, as floats in [0, 1]."""
    raw = torch.frombuffer(bytearray.fromhex(record["uint8_hex"]), dtype=torch.uint8)
    return raw.reshape(record["shape"]).float() / 255


def score_model(
    model: nn.Module,
    *,
    train: ImageData,
    test: ImageData,
    classifier: nn.Module,
    n_eval: int = 1000,
    iwae_samples: int = 100,
    iwae_images: int = 500,
    binarized_test: ImageData | None = None,
    seed: int = 0,
    grid: int = 16,
) -> dict[str, Any]:
    """Every number of the comparison that is defined for `model`, in one dict (None where not):

    ``parameters``; ``mse``, the per-pixel squared error of the reconstructions of `n_eval` test
    images (models with an encoder), taken on the kind of images the model was trained on:
    `binarized_test` for a model trained on binarised images, else `test`;
    ``log_likelihood`` (nats per image, IWAE with `iwae_samples` samples on `iwae_images`
    images of `binarized_test`) and ``bits_per_dim``, for VAEs with a Bernoulli likelihood
    trained on binarised images (on grey levels a Bernoulli likelihood is not a probability);
    ``fd``, ``score``, ``precision``, ``recall``
    and ``coverage`` of `n_eval` samples against `n_eval` test images in the classifier's
    features (models that sample), with ``n_generated`` and ``n_real``; ``copying``, the
    data-copying statistic C_T in the same features against the training images (below about
    -3: copying); and ``grid``, `grid` samples (or reconstructions, for an autoencoder).
    """
    model.eval()
    device = next(model.parameters()).device
    classes = _num_classes(model)
    result: dict[str, Any] = {"parameters": sum(p.numel() for p in model.parameters())}
    real = test.subset(min(n_eval, len(test)))
    inputs = real if binarized_test is None else binarized_test.subset(min(n_eval, len(binarized_test)))
    generator = torch.Generator(device=device).manual_seed(seed)
    family = next(name for name, (cls, _, _) in MODELS.items() if type(model) is cls)

    reconstructions = None
    if family in ("autoencoder", "vae", "vaegan"):
        reconstructions = _reconstruct(model, inputs.images, inputs.labels)
        result["mse"] = float(((reconstructions - inputs.images) ** 2).mean())
    else:
        result["mse"] = None

    result["log_likelihood"] = result["bits_per_dim"] = None
    if family == "vae" and model.config.likelihood == "bernoulli" and binarized_test is not None:
        subset = binarized_test.subset(min(iwae_images, len(binarized_test)))
        values = importance_sampled_log_likelihood(
            model, subset.images, subset.labels if classes else None, samples=iwae_samples,
            generator=torch.Generator(device=device).manual_seed(seed))
        nats = float(values.mean())
        result["log_likelihood"] = nats
        result["bits_per_dim"] = -nats / (math.log(2) * subset.images[0].numel())

    if family == "autoencoder":
        for key in ("fd", "score", "precision", "recall", "coverage", "copying"):
            result[key] = None
        result["n_generated"], result["n_real"] = 0, len(real)
        result["grid"] = grid_images(reconstructions[:grid])
        return result
    with torch.no_grad():
        samples = model.sample(n_eval, labels=_balanced_labels(n_eval, classes, device), generator=generator)
    samples = samples.float().cpu()
    result.update(evaluate_generator(samples, real.images, classifier))
    fake_features, _ = classify(classifier, samples)
    train_features = extract_features(classifier, train.subset(min(len(train), 5 * n_eval)).images)
    test_features = extract_features(classifier, real.images)
    # At the book's sizes a cell enters C_T with 20 generated points (the test's default); tiny
    # runs (the smoke profile) lower that so the code path still runs.
    result["copying"] = data_copying(train_features, test_features, fake_features, cells=5,
                                     min_generated=min(20, max(2, n_eval // 25))).statistic
    result["grid"] = grid_images(samples[:grid])
    return result


# --- the runner ----------------------------------------------------------------------------------


@dataclass
class _Paths:
    result: Path
    checkpoint: Path


def _paths(cache: Path, cand: Candidate, key: str) -> _Paths:
    stem = f"{cand.slug}-{key[:16]}"
    return _Paths(cache / f"{stem}.json", cache / f"{stem}.pt")


def _write_json(path: Path, record: Mapping[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(record, indent=1))
    os.replace(temporary, path)  # a reader never sees half a result


def run_comparison(
    candidates: Sequence[Candidate],
    train: ImageData,
    test: ImageData,
    *,
    classifier: nn.Module,
    cache: str | os.PathLike,
    n_eval: int = 1000,
    iwae_samples: int = 100,
    iwae_images: int = 500,
    device: str | torch.device | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Train (or read from `cache`) and score every candidate; one result dict per candidate.

    Each result holds the candidate's ``name``, ``family``, ``key``, ``epochs``, ``batch_size``,
    ``seed``, ``binarized``, ``steps``, ``seconds`` (training time, measured when it trained),
    ``from_cache``, ``checkpoint`` (the trainer's checkpoint, for `load_trained`) and the scores
    of `score_model`. Candidates with ``binarized=True`` train on ``train.binarized(seed)`` and
    get a log-likelihood on ``test.binarized(seed)``.
    """
    if not candidates:
        raise ValueError("candidates is empty: nothing to compare")
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise ValueError(f"candidate names must be distinct, got {names}")
    if not all(isinstance(c, Candidate) for c in candidates):
        raise TypeError("candidates must be gentut.comparison.Candidate objects")
    cache = Path(cache).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    device = pick_device(device)
    classifier = classifier.to(device).eval()
    classifier_hash = weights_sha256(classifier.state_dict())
    scoring = {"n_eval": n_eval, "iwae_samples": iwae_samples, "iwae_images": iwae_images}
    data_hash = data_fingerprint(train) + data_fingerprint(test)
    results = []
    for cand in candidates:
        # binarised images are a function of the grey ones and the seed
        data = data_hash + (f":binarized-seed{cand.seed}" if cand.binarized else "")
        key = cache_key(cand, data=data, classifier=classifier_hash, scoring=scoring)
        paths = _paths(cache, cand, key)
        if paths.result.is_file():
            record = json.loads(paths.result.read_text())
            if record.get("key") == key:
                log(f"{cand.name}: read from {paths.result.name} (its training took {record['seconds']:.0f} s)")
                results.append({**record, "from_cache": True, "checkpoint": str(paths.checkpoint)})
                continue
        record = _train_and_score(cand, key, paths, train, test, classifier, device, progress, scoring)
        log(f"{cand.name}: trained {record['steps']:,} steps in {record['seconds']:.0f} s")
        results.append({**record, "from_cache": False, "checkpoint": str(paths.checkpoint)})
    return results


def _train_and_score(cand: Candidate, key: str, paths: _Paths, grey_train: ImageData, test: ImageData,
                     classifier: nn.Module, device: torch.device, progress: bool,
                     scoring: Mapping[str, int]) -> dict[str, Any]:
    train = grey_train.binarized(cand.seed) if cand.binarized else grey_train
    torch.manual_seed(cand.seed)  # the initial weights
    model = build_model(cand.spec)
    optimizers = build_optimizers(cand.spec, model)
    loader = train.loader(cand.batch_size, seed=cand.seed)
    trainer = Trainer(model, optimizers, device=device, progress=progress,
                      checkpoint_path=paths.checkpoint, checkpoint_every=len(loader))
    resumed = paths.checkpoint.is_file()
    if resumed:  # an earlier run of this very key was stopped: continue it
        trainer.load_checkpoint(paths.checkpoint)
    started = time.perf_counter()
    trainer.fit(loader, epochs=cand.epochs)
    seconds = time.perf_counter() - started
    # the data-copying test compares samples with the grey training images, whatever the model saw
    scores = score_model(trainer.model, train=grey_train, test=test, classifier=classifier,
                         n_eval=scoring["n_eval"], iwae_samples=scoring["iwae_samples"],
                         iwae_images=scoring["iwae_images"],
                         binarized_test=test.binarized(cand.seed + 1) if cand.binarized else None, seed=cand.seed)
    record = {"name": cand.name, "family": cand.family, "key": key, "epochs": cand.epochs,
              "batch_size": cand.batch_size, "seed": cand.seed, "binarized": cand.binarized,
              "steps": trainer.global_step, "seconds": seconds, "resumed": resumed,
              "device": str(device), "spec": cand.spec, **scores}
    _write_json(paths.result, record)
    return json.loads(paths.result.read_text())  # as a later run reads it: tuples become lists


def load_trained(result: Mapping[str, Any], *, device: str | torch.device | None = None) -> nn.Module:
    """The trained model of a `run_comparison` result, rebuilt from its checkpoint (eval mode)."""
    path = Path(result["checkpoint"])
    if not path.is_file():
        raise FileNotFoundError(f"{result['name']}: its checkpoint {path} is gone; run the comparison again")
    return load_model(path, device=device)
