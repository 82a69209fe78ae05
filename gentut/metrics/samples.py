"""Sample-quality metrics for image generators, in the feature space of the book's own classifier.

The published metrics read images through Inception-v3 trained on ImageNet: the Frechet Inception
distance (FID, Heusel et al. 2017) compares Gaussian fits to real and generated features, the
Inception score (Salimans et al. 2016) rewards confident and varied class predictions, and
improved precision and recall (Kynkaenniemi et al. 2019) and density and coverage (Naeem et al.
2020) ask, with k-nearest-neighbour balls, how much of the generated set lies on the real data's
manifold (fidelity) and how much of the real manifold the generated set covers (diversity).

Inception-v3's weights cannot be downloaded on many machines, and never in CI, so the book
trains its own small classifier (`gentut.models.classifier.DigitClassifier`) on the chapter's data
set and computes the same formulas in its 128-d penultimate layer. The numbers therefore compare
models WITHIN THIS BOOK ONLY (same classifier, same data, same sample sizes); they are not FIDs or
Inception scores and must never be set beside published ones. To see what "good" means, evaluate
held-out real images the same way: that row is the ceiling a perfect generator would reach.

The classifier is trained once per data set and cached in ``cache_dir()/classifiers`` (see
`load_or_train_classifier`), so every chapter that evaluates on the same data reuses it. The one
the book's stored outputs use (Fashion-MNIST, the chapters' 20,000 training images) ships with the
package in ``gentut/weights``, because training it again on another CPU gives other weights (86.5%
held-out accuracy on one machine, 86.2% on another) and moves every score in the book.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from gentut.batched import per_example
from gentut.checkpoint import CheckpointError, load_checkpoint, require_sections, save_checkpoint
from gentut.data.checks import check_images
from gentut.data.download import cache_dir
from gentut.data.images import ImageData
from gentut.device import forked_rng, pick_device
from gentut.metrics.tables import format_table
from gentut.models.classifier import DigitClassifier
from gentut.trainer import Trainer
from gentut.validation import positive_int

__all__ = [
    "CLASSIFIER_VERSION",
    "DEFAULT_EPOCHS",
    "ClassifierInfo",
    "load_or_train_classifier",
    "data_fingerprint",
    "weights_sha256",
    "classify",
    "extract_features",
    "class_probabilities",
    "frechet_distance",
    "frechet_distance_infinity",
    "classifier_score",
    "precision_recall",
    "density_coverage",
    "evaluate_generator",
    "format_metrics",
    "format_path",
    "METRICS",
]

# Bump when the classifier's architecture or training recipe changes: cached classifiers made by
# another version are then retrained (and their files replaced) instead of silently reused.
CLASSIFIER_VERSION = 1

# Three epochs of Adam reach ~98% test accuracy on 20,000 synthetic digits (13 s on one CPU
# thread; two epochs: 96%, five: 98.1%). More barely helps, and the classifier must stay cheap
# enough to train inside a chapter on a CPU.
DEFAULT_EPOCHS = 3
BATCH_SIZE = 128
LEARNING_RATE = 1e-3  # Adam's default (Kingma & Ba 2015), fine for this small CNN

# Classifiers trained once by bench/ship_classifier.py and shipped with the package, each listed
# with its SHA-256 in SHA256SUMS (a bit flipped anywhere in a weight is caught before loading).
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "weights"
SHIPPED_SUMS = "SHA256SUMS"

# Rows of a pairwise-distance block: keeps a (rows, N) float64 block near 256 MB at most.
DISTANCE_BLOCK_ELEMENTS = 2**25


# --- the feature classifier, trained once and cached ----------------------------------------------


@dataclass(frozen=True)
class ClassifierInfo:
    """What a cached feature classifier was trained on, and how well it does.

    Attributes:
        version: `CLASSIFIER_VERSION` of the code that trained it.
        data_name: `ImageData.name` of the training data.
        num_images: number of training images.
        data_hash: SHA-256 of the training images and labels (`data_fingerprint`).
        seed: seed of the initial weights and batch order.
        epochs: passes over the training data.
        num_classes: number of classes.
        accuracy: accuracy on the held-out `eval_data`, or None if none was given.
        eval_hash: `data_fingerprint` of that held-out data, or None.
        path: the cache file.
        from_cache: True if loaded from `path`, False if trained in this call.
        seconds: training time (of the original training run when loaded from cache).
    """

    version: int
    data_name: str
    num_images: int
    data_hash: str
    seed: int
    epochs: int
    num_classes: int
    accuracy: float | None
    eval_hash: str | None
    path: str
    from_cache: bool
    seconds: float


def data_fingerprint(data: ImageData) -> str:
    """SHA-256 of the images' float32 bytes, their shape and the labels: the data's identity.

    Hashing 60,000 MNIST images (188 MB of float32) takes a fraction of a second.
    """
    images = data.images.detach().to("cpu", torch.float32).contiguous()
    digest = hashlib.sha256(repr(tuple(images.shape)).encode())
    digest.update(images.numpy().tobytes())
    if data.labels is not None:
        digest.update(data.labels.detach().to("cpu", torch.int64).contiguous().numpy().tobytes())
    return digest.hexdigest()


def _cache_path(directory: Path, data: ImageData, data_hash: str, seed: int, epochs: int) -> Path:
    """``<name>-<key>.pt``: one file per (data, seed, epochs). The version is deliberately not in
    the key, so a version bump retrains into, and replaces, the same file rather than leaving
    stale classifiers behind."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", data.name) or "data"
    return directory / f"{name}-{data_hash[:12]}-seed{seed}-{epochs}ep.pt"


def _check_labelled(name: str, data: object) -> ImageData:
    if not isinstance(data, ImageData):
        raise TypeError(f"{name} must be a gentut.data.ImageData, got {type(data).__name__}")
    if data.labels is None:
        raise ValueError(
            f"{name} {data.name!r} has no labels, but the feature classifier learns to predict classes; "
            "train it on a labelled data set (e.g. gentut.data.load_book_images())"
        )
    return data


def load_or_train_classifier(
    data: ImageData,
    *,
    eval_data: ImageData | None = None,
    version: int = CLASSIFIER_VERSION,
    cache: str | os.PathLike | None = None,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    shipped: bool = True,
) -> tuple[DigitClassifier, ClassifierInfo]:
    """The book's feature classifier for `data`: shipped with the package, loaded from the cache,
    or trained and cached.

    Trains a `DigitClassifier` on the labelled `data` with `gentut.trainer.Trainer` (Adam, batch
    128), reproducibly: `seed` fixes the initial weights and the batch order. The weights and a
    `ClassifierInfo` (version, data name, number of images, SHA-256 of images and labels, seed,
    epochs, held-out accuracy) are written atomically with `gentut.checkpoint.save_checkpoint`
    to ``cache/<name>-<key>.pt``, where `cache` defaults to ``gentut.data.cache_dir()/classifiers``
    and the key is made of the data's hash, the seed and the epochs. A later call with the same
    data, seed and epochs -- in any chapter -- loads the file (``weights_only=True``) instead of
    training. Before the cache, the package's own folder ``gentut/weights`` is searched for a file of
    the same name, checked against its SHA-256 in ``SHA256SUMS`` (written by
    ``bench/ship_classifier.py``). A file whose stored version, data hash, seed, epochs or number of classes do not
    match is not used: the classifier is retrained and the file replaced. A corrupt or unreadable
    file is treated the same way, with a printed note saying so (it is only a cache; nothing is
    lost by rebuilding it). One line is printed saying whether the classifier was loaded or
    trained, with its held-out accuracy.

    The metrics computed with it (`evaluate_generator`) compare models within the book only;
    they are not Inception metrics.

    Args:
        data: labelled training images, e.g. ``gentut.data.load_book_images("fashion-mnist", "train")``.
        eval_data: labelled held-out images to report accuracy on (recomputed on load if they
            differ from the ones stored with the cache).
        version: the recipe version; files made by another version are retrained.
        cache: directory of the cached classifiers.
        epochs: passes over `data`.
        seed: seed of the weights and batch order.
        device: where to train and return the model; default `gentut.device.pick_device()`.
        progress: show the trainer's progress bar while training.
        shipped: look in ``gentut/weights`` first (False trains or uses the cache only, as
            ``bench/ship_classifier.py`` does to make that file).

    Returns:
        (classifier in eval mode on `device`, its `ClassifierInfo`).
    """
    data = _check_labelled("data", data)
    if eval_data is not None:
        eval_data = _check_labelled("eval_data", eval_data)
        if eval_data.image_shape != data.image_shape:
            raise ValueError(
                f"eval_data images have shape {eval_data.image_shape}, but data's have {data.image_shape}"
            )
    for label, value, least in (("version", version, 0), ("epochs", epochs, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{label} must be an int >= {least}, got {value!r}")
    device = pick_device(device)
    num_classes = max(data.num_classes or 0, int(data.labels.max()) + 1)
    data_hash = data_fingerprint(data)
    eval_hash = None if eval_data is None else data_fingerprint(eval_data)
    directory = cache_dir() / "classifiers" if cache is None else Path(cache).expanduser()
    path = _cache_path(directory, data, data_hash, seed, epochs)
    wanted = {
        "version": version, "data_hash": data_hash, "seed": seed, "epochs": epochs,
        "num_classes": num_classes, "image_shape": list(data.image_shape),
    }

    with forked_rng(device):  # building the model draws initial weights; the cache replaces them
        model = DigitClassifier(num_classes, image_shape=data.image_shape)
    shipped_path = _verified_shipped(path.name) if shipped else None
    # The shipped file's bytes were checked against SHA256SUMS, so its weights need no checksum of their own.
    info = None if shipped_path is None else _load_cached(
        shipped_path, model, wanted, shown=f"Shipped feature classifier gentut/weights/{path.name}", verified=True)
    where = f"the package (gentut/weights/{path.name}, SHA-256 checked)"
    if info is None:
        info = _load_cached(path, model, wanted)
        where = f"cache {_shown(path)}"
    if info is not None:
        model.to(device).eval()
        if eval_data is not None and eval_hash != info.eval_hash:
            accuracy = model.accuracy(eval_data.images, eval_data.labels)
            info = ClassifierInfo(**{**asdict(info), "accuracy": accuracy, "eval_hash": eval_hash})
        print(f"Feature classifier loaded from {where}{_accuracy_note(info)}")
        return model, info

    # Forked generators: whether the classifier came from the cache or was trained here must not
    # change the random numbers the caller draws next (a chapter's samples after this call).
    with forked_rng(device):
        torch.manual_seed(seed)  # the initial weights
        model = DigitClassifier(num_classes, image_shape=data.image_shape)
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        trainer = Trainer(model, optimizer, device=device, mixed_precision=False, progress=progress)
        start = time.perf_counter()
        trainer.fit(data.loader(BATCH_SIZE, shuffle=True, seed=seed), epochs=epochs)
        seconds = time.perf_counter() - start
    model.eval()
    accuracy = None if eval_data is None else model.accuracy(eval_data.images, eval_data.labels)
    info = ClassifierInfo(
        version=version, data_name=data.name, num_images=len(data), data_hash=data_hash, seed=seed,
        epochs=epochs, num_classes=num_classes, accuracy=accuracy, eval_hash=eval_hash,
        path=str(path), from_cache=False, seconds=seconds,
    )
    metadata = {**asdict(info), "image_shape": list(data.image_shape)}
    del metadata["from_cache"], metadata["path"]  # facts about this call, not about the weights
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    metadata["weights_sha256"] = weights_sha256(state)  # so that swapped weights are caught on load
    trained = (f"Feature classifier trained on {len(data)} {data.name} images for {epochs} "
               f"epoch{'s' if epochs != 1 else ''} in {seconds:.0f} s{_accuracy_note(info)}")
    try:
        save_checkpoint(path, {"model": state, "metadata": metadata})
    except OSError as error:
        # The cache is a shortcut: a read-only or full disk must not cost the classifier just trained.
        print(f"{trained}; it could not be cached ({error}), so the next call trains it again")
        return model, info
    print(f"{trained}; saved to {_shown(path)}")
    return model, info


def weights_sha256(state: Mapping[str, Tensor]) -> str:
    """SHA-256 of a state dict's names, dtypes, shapes and values: the weights' identity."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())  # the raw bytes, any dtype
    return digest.hexdigest()


def shipped_sums(directory: Path | None = None) -> dict[str, str]:
    """File name -> SHA-256 of the classifiers shipped in `directory` (default `SHIPPED_DIR`),
    read from its ``SHA256SUMS`` (lines of ``<sha256>  <file name>``, as ``sha256sum`` writes)."""
    sums = (SHIPPED_DIR if directory is None else Path(directory)) / SHIPPED_SUMS
    if not sums.is_file():
        return {}
    listed = {}
    for number, line in enumerate(sums.read_text().splitlines(), 1):
        if line.strip():
            digest, _, name = line.strip().partition("  ")
            if not re.fullmatch(r"[0-9a-f]{64}", digest) or not name:
                raise ValueError(f"{sums}, line {number}: expected '<sha256>  <file name>', got {line!r}")
            listed[name] = digest
    return listed


def _verified_shipped(name: str) -> Path | None:
    """The shipped classifier called `name` if it is there and its SHA-256 is the listed one."""
    path = SHIPPED_DIR / name
    expected = shipped_sums().get(name)
    if expected is None or not path.is_file():
        return None
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    if found != expected:
        # Not silent, not fatal: the cache or a fresh training still gives a working classifier.
        print(f"Shipped feature classifier gentut/weights/{name} has SHA-256 {found[:16]}..., not the listed "
              f"{expected[:16]}... (a damaged install?); using the cache or training instead")
        return None
    return path


def _shown(path: Path) -> str:
    """`path` with the home folder written as ~, so printed outputs hold no one's user name."""
    try:
        return str(Path("~") / Path(path).resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return str(path)


def _accuracy_note(info: ClassifierInfo) -> str:
    return "" if info.accuracy is None else f" (held-out accuracy {100 * info.accuracy:.1f}%)"


# The types a cached ClassifierInfo's fields must have (a wrong one would crash a format string later).
_METADATA_TYPES = {"version": int, "data_name": str, "num_images": int, "data_hash": str, "seed": int, "epochs": int,
                   "num_classes": int, "accuracy": (float, type(None)), "eval_hash": (str, type(None)),
                   "seconds": (int, float)}


class _Unusable(ValueError):
    """A cache file that is readable but must not be used; the message says why."""


def _load_cached(
    path: Path, model: DigitClassifier, wanted: dict, shown: str | None = None, *, verified: bool = False
) -> ClassifierInfo | None:
    """The cached classifier's info with its weights loaded into `model`, or None (with a printed
    reason when a file exists but cannot be used) if it must be retrained.

    A file is used only if its metadata match `wanted` and have the right types, its weights are
    finite, fit the model's shapes and, unless the whole file was `verified` against a listed
    SHA-256, hash to the ``weights_sha256`` stored beside them.
    """
    if not path.is_file():
        return None
    shown = shown or "Cached feature classifier " + _shown(path)
    try:
        state = load_checkpoint(path, map_location="cpu")
        require_sections(state, ["metadata", "model"], _shown(path), kind="classifier cache")
        metadata, weights = state["metadata"], state["model"]
        if not isinstance(metadata, dict) or not isinstance(weights, dict):
            raise _Unusable("its metadata and weights are not dicts")
        stale = [
            f"{key} {metadata.get(key)!r} (wanted {value!r})"
            for key, value in wanted.items() if metadata.get(key) != value
        ]
        if stale:
            print(f"{shown} does not match ({'; '.join(stale)}); not using it")
            return None
        wrong = [f"{key} is a {type(metadata.get(key)).__name__}" for key, kind in _METADATA_TYPES.items()
                 if key in metadata and (isinstance(metadata[key], bool) or not isinstance(metadata[key], kind))]
        if wrong:
            raise _Unusable(f"metadata of the wrong type: {', '.join(wrong)}")
        bad = [name for name, tensor in weights.items()
               if not isinstance(tensor, Tensor) or (tensor.is_floating_point() and not tensor.isfinite().all())]
        if bad:
            raise _Unusable(f"weights {', '.join(map(repr, bad[:3]))} are not finite tensors")
        if not verified and metadata.get("weights_sha256") != weights_sha256(weights):
            raise _Unusable("its weights do not match the checksum stored with them (replaced or damaged, "
                            "or a cache written before checksums were stored)")
        model.load_state_dict(weights)  # strict: a missing, extra or mis-shaped tensor is an error
        fields = {key: metadata[key] for key in ClassifierInfo.__dataclass_fields__ if key in metadata}
        return ClassifierInfo(**{**fields, "path": str(path), "from_cache": True})
    except (CheckpointError, _Unusable, KeyError, TypeError, AttributeError, RuntimeError) as error:
        # A cache file is only a shortcut: rebuilding it loses nothing, so say why and retrain.
        print(f"{shown} is not usable ({error}); not using it")
        return None


# --- features and probabilities -------------------------------------------------------------------


def _images(name: str, images: Tensor | ImageData) -> Tensor:
    """Images (N, C, H, W) in [0, 1], like the classifier was trained on: pixels in 0..255 or
    [-1, 1] would still give numbers, and wrong ones, so they are an error with the fix named."""
    if isinstance(images, ImageData):
        return images.images
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a tensor (N, C, H, W) or an ImageData, got {type(images).__name__}")
    return check_images(images, name=name, tolerance=1e-3)  # float rounding may overshoot by a hair


def _check_classifier(classifier: object) -> None:
    if not isinstance(classifier, torch.nn.Module) or not callable(getattr(classifier, "features", None)):
        raise TypeError(
            "classifier must be an nn.Module with features(x) and forward(x) -> logits, such as the "
            f"DigitClassifier from load_or_train_classifier; got {type(classifier).__name__}"
        )


def classify(
    classifier: DigitClassifier, images: Tensor | ImageData, *, batch_size: int = 500
) -> tuple[Tensor, Tensor]:
    """Features (N, 128) and class probabilities (N, num_classes) of `images` in ONE pass of
    the classifier: eval mode, no gradients, batches on the classifier's device, CPU results."""
    _check_classifier(classifier)

    def both(x: Tensor) -> Tensor:
        features = classifier.features(x)
        probabilities = classifier.head(features).float().softmax(dim=1)
        return torch.cat([features.float(), probabilities], dim=1)  # (B, D + K)

    joined = per_example(classifier, _images("images", images), both, batch_size=batch_size)
    return joined[:, : classifier.feature_dim], joined[:, classifier.feature_dim :]


def extract_features(
    classifier: DigitClassifier, images: Tensor | ImageData, *, batch_size: int = 500
) -> Tensor:
    """The classifier's penultimate activations of `images` (N, C, H, W) in [0, 1]: (N, 128) on the
    CPU, computed in eval mode without gradients, in batches on the classifier's device."""
    _check_classifier(classifier)
    return per_example(classifier, _images("images", images), classifier.features, batch_size=batch_size)


def class_probabilities(
    classifier: DigitClassifier, images: Tensor | ImageData, *, batch_size: int = 500
) -> Tensor:
    """p(y | x) of `images` under the classifier: (N, num_classes) on the CPU, rows summing to 1."""
    _check_classifier(classifier)
    return per_example(
        classifier, _images("images", images), lambda x: classifier(x).float().softmax(dim=1), batch_size=batch_size
    )


# --- the metrics ----------------------------------------------------------------------------------


def _as_features(name: str, values: Tensor | np.ndarray, *, least: int = 2) -> np.ndarray:
    """`values` as a finite float64 array (N, D) with N >= least, or an error naming what came."""
    if isinstance(values, Tensor):
        values = values.detach().cpu().double().numpy()
    if not isinstance(values, np.ndarray):
        raise TypeError(f"{name} must be a tensor or numpy array (N, D), got {type(values).__name__}")
    if values.ndim != 2 or values.shape[0] < least or values.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, D) with N >= {least}, got {values.shape}")
    values = values.astype(np.float64, copy=False)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite; found NaN or infinity")
    return values


def _check_same_width(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names} must have the same feature size, got {a.shape[1]} and {b.shape[1]}")


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix, via eigh."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    # Rounding leaves tiny negative eigenvalues on singular covariances; they are zeros.
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance(features_a: Tensor | np.ndarray, features_b: Tensor | np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017):

        FD = ||mu_a - mu_b||^2 + Tr( S_a + S_b - 2 (S_a S_b)^(1/2) ).

    Computed in float64 without complex numbers: Tr (S_a S_b)^(1/2) is the sum of the square
    roots of the eigenvalues of S_a^(1/2) S_b S_a^(1/2), which is symmetric positive
    semi-definite, so `numpy.linalg.eigh` applies (scipy's general `sqrtm` of the non-symmetric
    S_a S_b can return an imaginary part that has to be thrown away).

    With the book's classifier features this is NOT a Frechet Inception distance: compare it
    between models of this book, computed on the same numbers of images. The estimate is biased
    upwards for small samples (Chong & Forsyth 2020); a few thousand images per set keep the bias
    small next to the differences between models.

    Args:
        features_a, features_b: (N_a, D) and (N_b, D) features, e.g. `extract_features`.
    """
    a = _as_features("features_a", features_a)
    b = _as_features("features_b", features_b)
    _check_same_width(a, b, "features_a and features_b")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))  # (D, D)
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    middle = (middle + middle.T) / 2  # symmetric in exact arithmetic; make it so in floating point
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)).sum()
    distance = float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)
    return max(distance, 0.0)  # a distance; identical sets can round to -1e-12


def frechet_distance_infinity(
    real_features: Tensor | np.ndarray,
    fake_features: Tensor | np.ndarray,
    *,
    sizes: Sequence[int] | None = None,
    seed: int = 0,
) -> float:
    """FD extrapolated to infinitely many generated images, after Chong & Forsyth (2019).

    The finite-sample FD is biased upwards by a term that shrinks like 1/N and depends on the
    model (a less varied generator has a smaller bias), so two models can swap places at any
    fixed N. Chong & Forsyth compute FD on random subsets of N_1 < ... < N_k generated images,
    fit FD(N) = FD_inf + c / N by least squares, and report the intercept FD_inf (an estimate,
    so it can come out slightly below 0 for two samples of one distribution). The real
    features are used whole each time, so their own finite-sample bias stays: compare models
    against the same real images.

    Args:
        real_features, fake_features: (N_real, D) and (N_fake, D) features.
        sizes: the subset sizes (default 8 sizes evenly spaced from N_fake / 4 to N_fake).
        seed: seed of the random subsets.
    """
    real = _as_features("real_features", real_features)
    fake = _as_features("fake_features", fake_features)
    _check_same_width(real, fake, "real_features and fake_features")
    if sizes is None:
        sizes = np.linspace(max(2, len(fake) // 4), len(fake), 8).astype(int)
    sizes = sorted({int(n) for n in sizes})
    if len(sizes) < 2 or sizes[0] < 2 or sizes[-1] > len(fake):
        raise ValueError(
            f"sizes must hold at least two distinct subset sizes between 2 and {len(fake)}, got {sizes}"
        )
    generator = np.random.default_rng(seed)
    values = [frechet_distance(real, fake[generator.permutation(len(fake))[:n]]) for n in sizes]
    slope, intercept = np.polyfit(1.0 / np.asarray(sizes, dtype=np.float64), values, deg=1)
    return float(intercept)


def classifier_score(probabilities: Tensor | np.ndarray) -> float:
    """The Inception score of Salimans et al. (2016) with the book's classifier:

        score = exp( E_x KL( p(y | x) || p(y) ) ),    p(y) = E_x p(y | x),

    in [1, K] for K classes: 1 when every image gets the same prediction (or predictions say
    nothing), K when each image is classified with certainty and the classes are balanced. It
    rewards confident and varied samples but never looks at real data, so a generator that
    draws one perfect image per class scores K. Salimans et al. average the score over 10
    splits of 5,000 images; this is the score of all images at once. Not an Inception score:
    compare within the book only.

    Args:
        probabilities: (N, K) class probabilities, e.g. `class_probabilities`, rows summing to 1.
    """
    p = _as_features("probabilities", probabilities, least=1)
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("probabilities must be non-negative with rows summing to 1 (softmax outputs)")
    marginal = p.mean(axis=0, keepdims=True)  # (1, K): p(y)
    # xlogy-style: 0 log 0 = 0, so classes an image rules out contribute nothing
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(marginal)), 0.0)  # (N, K)
    return float(np.exp(terms.sum(axis=1).mean()))


def _block_rows(n_columns: int) -> int:
    return max(1, DISTANCE_BLOCK_ELEMENTS // max(n_columns, 1))


def _kth_neighbour_distances(points: Tensor, k: int, name: str) -> Tensor:
    """Distance from each point to its k-th nearest other point in the same set: (N,)."""
    if not 1 <= k < len(points):
        raise ValueError(
            f"{name} has {len(points)} points, too few for k = {k}: each needs a k-th nearest other "
            f"point, so at least {k + 1} are needed (or a smaller k)"
        )
    rows = _block_rows(len(points))
    radii = []
    for start in range(0, len(points), rows):
        distances = torch.cdist(points[start : start + rows], points)  # (rows, N)
        # k + 1 smallest: the first is the point itself, at distance 0
        radii.append(distances.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(radii)


def _cross_distance_blocks(fake: Tensor, real: Tensor):
    """Yield (rows, distances (rows, N)) between a few fake points and all real points."""
    rows = _block_rows(len(real))
    for start in range(0, len(fake), rows):
        block = slice(start, start + rows)
        yield block, torch.cdist(fake[block], real)  # (rows, N)


def _feature_pair(real, fake) -> tuple[Tensor, Tensor]:
    real_np = _as_features("real_features", real)
    fake_np = _as_features("fake_features", fake)
    _check_same_width(real_np, fake_np, "real_features and fake_features")
    return torch.from_numpy(real_np), torch.from_numpy(fake_np)  # float64: exact ties at the radii


def precision_recall(
    real_features: Tensor | np.ndarray, fake_features: Tensor | np.ndarray, *, k: int = 3
) -> tuple[float, float]:
    """Improved precision and recall of Kynkaenniemi et al. (2019).

    Each set's manifold is the union of balls around its points, each ball reaching the point's
    k-th nearest neighbour in the same set (k = 3 in the paper). Precision is the fraction of
    generated points inside the real manifold (fidelity); recall the fraction of real points
    inside the generated manifold (diversity). Both are in [0, 1]. Pairwise distances are
    computed in blocks, so 10,000 x 10,000 points fit in a few hundred MB.

    Args:
        real_features: (N, D) features of real images.
        fake_features: (M, D) features of generated images.
        k: neighbour that sets each ball's radius.

    Returns:
        (precision, recall).
    """
    k = positive_int("k", k)
    real, fake = _feature_pair(real_features, fake_features)
    real_radii = _kth_neighbour_distances(real, k, "real_features")  # (N,)
    fake_radii = _kth_neighbour_distances(fake, k, "fake_features")  # (M,)
    in_real_manifold = torch.zeros(len(fake), dtype=torch.bool)  # (M,): for precision
    in_fake_manifold = torch.zeros(len(real), dtype=torch.bool)  # (N,): for recall
    # One pass over the fake-real distances serves both directions.
    for block, distances in _cross_distance_blocks(fake, real):  # (rows, N)
        in_real_manifold[block] = (distances <= real_radii[None, :]).any(dim=1)
        in_fake_manifold |= (distances <= fake_radii[block, None]).any(dim=0)
    return float(in_real_manifold.double().mean()), float(in_fake_manifold.double().mean())


def density_coverage(
    real_features: Tensor | np.ndarray, fake_features: Tensor | np.ndarray, *, k: int = 5
) -> tuple[float, float]:
    """Density and coverage of Naeem et al. (2020), with balls around REAL points only:

        density  = 1 / (k M) sum_j sum_i 1[ Y_j in B(X_i, NND_k(X_i)) ]
        coverage = 1 / N     sum_i 1[ exists j: Y_j in B(X_i, NND_k(X_i)) ]

    for real X_1..X_N and generated Y_1..Y_M, NND_k the distance to the k-th nearest real
    neighbour (k = 5 in the paper). Using only real balls makes both robust to generated
    outliers, which inflate the generated manifold of `precision_recall`. Density counts how
    many real balls each sample falls into, divided by k: about 1 when fakes are distributed
    like the reals, above 1 when they crowd where reals are dense. Coverage, in [0, 1], is the
    fraction of real points with a sample in their ball.

    Returns:
        (density, coverage).
    """
    k = positive_int("k", k)
    real, fake = _feature_pair(real_features, fake_features)
    radii = _kth_neighbour_distances(real, k, "real_features")  # (N,)
    count = 0
    covered = torch.zeros(len(real), dtype=torch.bool)
    for _, distances in _cross_distance_blocks(fake, real):
        inside = distances <= radii[None, :]  # (rows, N): fake j in the ball of real i
        count += int(inside.sum())
        covered |= inside.any(dim=0)
    return count / (k * len(fake)), float(covered.double().mean())


# --- one call and one table for a notebook -------------------------------------------------------


def evaluate_generator(
    samples: Tensor | ImageData,
    real: Tensor | ImageData,
    classifier: DigitClassifier,
    *,
    batch_size: int = 500,
) -> dict[str, float]:
    """All the book's sample-quality metrics of `samples` against `real` images, in one dict.

    Keys: ``"fd"`` (`frechet_distance`, lower is better), ``"score"`` (`classifier_score` of the
    samples, higher is better, at most the number of classes), ``"precision"`` and ``"recall"``
    (`precision_recall`, k = 3), ``"coverage"`` (`density_coverage`, k = 5), and the protocol:
    ``"n_generated"`` and ``"n_real"``, the numbers of images compared (FD is biased in them, so
    compare models at the same numbers). Evaluating held-out real images against `real` gives
    the ceiling row. Within-book numbers only: not Inception metrics.

    Args:
        samples: generated images (M, C, H, W) in [0, 1].
        real: real images (N, C, H, W), ideally not those the generator was trained on.
        classifier: the feature classifier from `load_or_train_classifier`.
    """
    # precision and recall need k + 1 = 4 points in each set, coverage k + 1 = 6 real ones
    for name, images, least in (("samples", samples, 4), ("real", real, 6)):
        if isinstance(images, (Tensor, ImageData)) and len(images) < least:
            raise ValueError(f"{name} has {len(images)} images; evaluate_generator needs at least {least} "
                             f"(precision and recall use the 3rd, coverage the 5th nearest neighbour), and a "
                             f"few thousand for a Frechet distance with a small bias")
    fake_features, fake_probabilities = classify(classifier, samples, batch_size=batch_size)
    real_features = extract_features(classifier, real, batch_size=batch_size)
    precision, recall = precision_recall(real_features, fake_features, k=3)
    _, coverage = density_coverage(real_features, fake_features, k=5)
    return {
        "fd": frechet_distance(real_features, fake_features),
        "score": classifier_score(fake_probabilities),
        "precision": precision,
        "recall": recall,
        "coverage": coverage,
        "n_generated": len(fake_features),
        "n_real": len(real_features),
    }


METRICS = ("fd", "score", "precision", "recall", "coverage")
_HEADERS = {"fd": "FD", "score": "score", "precision": "precision", "recall": "recall", "coverage": "coverage",
            "n_generated": "N generated", "n_real": "N real"}


def format_metrics(
    rows: Mapping[str, Mapping[str, float]], *, columns: Sequence[str] = (*METRICS, "n_generated", "n_real")
) -> str:
    """A plain-text table, one row per model, e.g.::

        print(format_metrics({"real (held out)": ceiling, "GAN": evaluate_generator(...)}))

    with the numbers of images beside every score. Missing values show as "-". A footer says
    which way is better and that the numbers are comparable within the book only.
    """
    return format_table(
        rows, list(columns), headers=_HEADERS,
        footer="FD: lower is better; score, precision, recall, coverage: higher is better. Computed in the "
               "book's classifier features: comparable within this book only, not with published FID/IS.",
    )


def format_path(
    classifier: DigitClassifier,
    paths: Mapping[str, Tensor],
    first: int,
    last: int,
    class_names: Sequence[str] | None = None,
) -> str:
    """How the classifier reads images along interpolation paths, one block per path::

        print(format_path(classifier, {"pixels": mixed, "codes": decoded}, first=7, last=9))

    For each path (T, C, H, W) three lines of T numbers: p(first | x), p(last | x), and the
    confidence max_y p(y | x). A path through plausible images keeps the confidence high from end
    to end; an overlay of two images is neither class, and its confidence dips in the middle.
    """
    num_classes = getattr(classifier, "num_classes", None)
    for name, value in (("first", first), ("last", last)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (num_classes or value + 1):
            raise ValueError(f"{name} must be a class index in [0, {num_classes}), got {value!r}")
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes or last + 1)]
    width = max(len(names[first]), len(names[last]), len("confidence"))
    lines = []
    for name, images in paths.items():
        _, probabilities = classify(classifier, images)  # (T, num_classes)
        lines.append(f"{name}:")
        for label, values in ((names[first], probabilities[:, first]), (names[last], probabilities[:, last]),
                              ("confidence", probabilities.max(dim=1).values)):
            lines.append(f"  {label:<{width}}  " + " ".join(f"{v:.2f}" for v in values.tolist()))
    return "\n".join(lines)
