"""What the book's models are for, measured beside a classical method at the same task.

The closing chapter asks of every model what its chapter claims it can do, on the same images:

* **compression**: the rate (bits per image) of a code against the distortion (mean squared error
  per pixel) of its decoding: an encoder's code quantised to `bits` per number, beside PCA
  quantised the same way and JPEG (Pillow's encoder) at several qualities;
* **denoising**: images with Gaussian noise of standard deviation sigma, restored by a model and by
  a Gaussian or median filter (scipy.ndimage);
* **inpainting**: the hidden pixels of a masked image filled by searching the code whose decoding
  fits the visible pixels (an autoencoder's or VAE's decoder, or a GAN's generator: GAN
  inversion), beside the mean training image and the nearest training image on the visible pixels;
* **representation learning**: a linear classifier (logistic regression) on the codes, trained on
  100, 1,000 or all labelled images, beside raw pixels and PCA.

Every function takes plain tensors and callables (``encode: images -> codes``, ``decode: codes ->
images``), so one function serves every model; `encoder_of` and `decoder_of` give those of a
model of the book.
"""
from __future__ import annotations

import io
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from gentut.batched import per_example
from gentut.data.checks import check_images
from gentut.models.sampling import model_device
from gentut.validation import is_int, positive_int

__all__ = ["encoder_of", "decoder_of", "quantize", "code_rate_distortion", "pca_rate_distortion",
           "jpeg_rate_distortion", "add_noise", "filter_denoise", "denoising_errors", "center_mask",
           "inpaint_by_search", "inpaint_mean", "inpaint_nearest", "masked_error", "linear_probe",
           "evaluate_applications"]

Codec = Callable[[Tensor], Tensor]


# --- the models' encoders and decoders ------------------------------------------------------------


def encoder_of(model: nn.Module) -> Codec:
    """images -> codes of an autoencoder (its code), a VAE or a VAE-GAN (the posterior mean)."""
    if not callable(getattr(model, "encode", None)):
        raise TypeError(f"{type(model).__name__} has no encoder (a GAN maps noise to images only)")

    def encode(x: Tensor) -> Tensor:
        code = model.encode(x)
        return code[0] if isinstance(code, tuple) else code  # a VAE's (mean, logvar): the mean

    return lambda images: per_example(model, images, lambda x: encode(x).float())


def decoder_of(model: nn.Module) -> Codec:
    """codes -> images in [0, 1] of an autoencoder, a VAE or VAE-GAN (the decoder's mean) or a GAN
    (its generator), in eval mode (batch norm's running statistics), on the model's device;
    the images come back on the codes' device, with gradients (a search for codes needs them)."""
    decode = getattr(model, "decode", None) or getattr(model, "generate", None)
    if not callable(decode):
        raise TypeError(f"{type(model).__name__} has neither decode nor generate")

    def decoded(z: Tensor) -> Tensor:
        was_training = model.training
        model.eval()
        try:
            return decode(z.to(model_device(model))).float().to(z.device)
        finally:
            model.train(was_training)

    return decoded


# --- compression ----------------------------------------------------------------------------------


def quantize(values: Tensor, bits: int, low: Tensor, high: Tensor) -> Tensor:
    """Uniform scalar quantisation of each column of `values` (N, D) to 2**bits levels spread over
    [low, high] (per column; values outside are clipped): the reconstruction of the levels."""
    positive_int("bits", bits)
    levels = 2**bits - 1
    width = (high - low).clamp_min(1e-12)
    index = ((values.clamp(low, high) - low) / width * levels).round()
    return low + index / levels * width


def _mse(a: Tensor, b: Tensor) -> float:
    return float(((a.float() - b.float()) ** 2).mean())


def code_rate_distortion(encode: Codec, decode: Codec, train: Tensor, images: Tensor,
                         bits: Sequence[int] = (2, 4, 6, 8)) -> list[dict[str, float]]:
    """For each number of bits per code number: rate (bits per image, D * bits) and the MSE of
    decoding the quantised codes of `images`. The quantiser's range per code number is the 0.5th
    to 99.5th percentile of the codes of `train` (a range fitted on the test images would cheat)."""
    images = check_images(images)
    train_codes = encode(check_images(train, name="train")).float()
    low, high = torch.quantile(train_codes, 0.005, dim=0), torch.quantile(train_codes, 0.995, dim=0)
    codes = encode(images).float()
    rows = []
    for b in bits:
        with torch.no_grad():
            decoded = _decode_batched(decode, quantize(codes, b, low, high))
        rows.append({"bits": b, "rate": codes.shape[1] * b, "mse": _mse(decoded, images)})
    return rows


def _decode_batched(decode: Codec, codes: Tensor, batch_size: int = 500) -> Tensor:
    return torch.cat([decode(codes[i:i + batch_size]).float().cpu() for i in range(0, len(codes), batch_size)])


def pca_rate_distortion(train: Tensor, images: Tensor, components: int,
                        bits: Sequence[int] = (2, 4, 6, 8)) -> list[dict[str, float]]:
    """`code_rate_distortion` of PCA with `components` components fitted on `train`."""
    from sklearn.decomposition import PCA

    train, images = check_images(train, name="train"), check_images(images)
    positive_int("components", components)
    pca = PCA(n_components=components, random_state=0).fit(train.flatten(1).numpy())
    shape = images.shape[1:]

    def encode(x: Tensor) -> Tensor:
        return torch.from_numpy(pca.transform(x.flatten(1).numpy())).float()

    def decode(z: Tensor) -> Tensor:
        return torch.from_numpy(pca.inverse_transform(z.numpy())).float().reshape(-1, *shape)

    return code_rate_distortion(encode, decode, train, images, bits)


def jpeg_rate_distortion(images: Tensor, qualities: Sequence[int] = (5, 10, 25, 50, 75, 95)
                         ) -> list[dict[str, float]]:
    """JPEG (Pillow, grey-scale, 4:4:4, no metadata) at each quality: mean bits per image and the
    MSE of the decoded images. The file's headers count: they are part of what a codec spends."""
    from PIL import Image

    images = check_images(images)
    if images.shape[1] != 1:
        raise ValueError(f"jpeg_rate_distortion takes grey-scale images (N, 1, H, W), got {tuple(images.shape)}")
    pixels = (images[:, 0] * 255).round().to(torch.uint8).numpy()
    rows = []
    for quality in qualities:
        if not is_int(quality) or not 1 <= quality <= 95:
            raise ValueError(f"qualities must be ints in [1, 95] (Pillow's useful range), got {quality!r}")
        total, decoded = 0, []
        for image in pixels:
            buffer = io.BytesIO()
            Image.fromarray(image, mode="L").save(buffer, format="JPEG", quality=quality)
            total += buffer.tell()
            buffer.seek(0)
            decoded.append(np.asarray(Image.open(buffer), dtype=np.float32) / 255)
        restored = torch.from_numpy(np.stack(decoded))[:, None]
        rows.append({"quality": quality, "rate": 8 * total / len(pixels), "mse": _mse(restored, images)})
    return rows


# --- denoising ------------------------------------------------------------------------------------


def add_noise(images: Tensor, sigma: float, *, seed: int = 0) -> Tensor:
    """`images` plus Gaussian noise of standard deviation `sigma`, clipped to [0, 1]."""
    if not isinstance(sigma, (int, float)) or isinstance(sigma, bool) or not 0 <= sigma < float("inf"):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(images.shape, generator=generator) * sigma
    return (images.cpu() + noise).clamp(0, 1)


def filter_denoise(images: Tensor, kind: str, size: float) -> Tensor:
    """A classical filter per image: "gaussian" (standard deviation `size` pixels) or "median"
    (a `size` x `size` window), from scipy.ndimage."""
    from scipy import ndimage

    array = images.cpu().numpy()
    if kind == "gaussian":
        out = ndimage.gaussian_filter(array, sigma=(0, 0, size, size))
    elif kind == "median":
        out = ndimage.median_filter(array, size=(1, 1, int(size), int(size)))
    else:
        raise ValueError(f"kind must be 'gaussian' or 'median', got {kind!r}")
    return torch.from_numpy(out).clamp(0, 1)


def denoising_errors(denoisers: dict[str, Codec], images: Tensor, sigmas: Sequence[float],
                     *, seed: int = 0) -> dict[str, dict[float, float]]:
    """MSE against the clean `images` of each denoiser (name -> noisy images -> restored images)
    at each noise level, and of the noisy images themselves (row "noisy input", about sigma^2
    before clipping)."""
    images = check_images(images)
    table: dict[str, dict[float, float]] = {"noisy input": {}, **{name: {} for name in denoisers}}
    for sigma in sigmas:
        noisy = add_noise(images, sigma, seed=seed)
        table["noisy input"][sigma] = _mse(noisy, images)
        for name, denoise in denoisers.items():
            with torch.no_grad():
                table[name][sigma] = _mse(denoise(noisy).cpu(), images)
    return table


# --- inpainting -----------------------------------------------------------------------------------


def center_mask(shape: Sequence[int], hidden: int) -> Tensor:
    """A mask (1, C, H, W), 1 where pixels are seen, 0 on a centred `hidden` x `hidden` square."""
    channels, height, width = shape
    if not is_int(hidden) or not 0 < hidden < min(height, width):
        raise ValueError(f"hidden must be an int in (0, {min(height, width)}), got {hidden!r}")
    mask = torch.ones(1, channels, height, width)
    top, left = (height - hidden) // 2, (width - hidden) // 2
    mask[..., top:top + hidden, left:left + hidden] = 0
    return mask


def masked_error(filled: Tensor, images: Tensor, mask: Tensor) -> float:
    """Mean squared error over the hidden pixels only (where `mask` is 0)."""
    hidden = (1 - mask).expand_as(images)
    return float((((filled.float() - images.float()) ** 2) * hidden).sum() / hidden.sum())


def inpaint_mean(train: Tensor, images: Tensor, mask: Tensor) -> Tensor:
    """Hidden pixels from the mean training image, visible ones kept."""
    return images * mask + train.mean(dim=0, keepdim=True) * (1 - mask)


def inpaint_nearest(train: Tensor, images: Tensor, mask: Tensor) -> Tensor:
    """Hidden pixels from the training image nearest on the visible pixels, visible ones kept."""
    visible = mask.flatten(1).bool()[0]
    distances = torch.cdist(images.flatten(1)[:, visible], train.flatten(1)[:, visible])  # (N, M)
    nearest = train[distances.argmin(dim=1)]
    return images * mask + nearest * (1 - mask)


def inpaint_by_search(decode: Codec, latent_dim: int, images: Tensor, mask: Tensor, *, steps: int = 200,
                      lr: float = 0.05, restarts: int = 4, prior_weight: float = 1e-3, seed: int = 0,
                      start: Tensor | None = None) -> Tensor:
    """Fill the hidden pixels by searching codes z whose decoding fits the visible ones:

        z* = argmin_z  || mask * (decode(z) - x) ||^2 / |visible|  +  prior_weight * ||z||^2 / D,

    by Adam from `restarts` starts (z ~ N(0, I), or `start` first, e.g. an encoder's code of the
    masked image), keeping per image the start that fits the visible pixels best. The small prior
    term keeps codes where the decoder was trained (a GAN's generator is only trained on z ~ N(0, I)).
    """
    positive_int("steps", steps)
    positive_int("restarts", restarts)
    x, m = check_images(images).cpu(), mask.cpu()
    generator = torch.Generator(device="cpu").manual_seed(seed)
    best_fit = torch.full((len(images),), float("inf"))
    best = x.clone()
    visible = m.sum()  # the mask is (1, C, H, W): visible pixels of one image
    for restart in range(restarts):
        if restart == 0 and start is not None:
            z0 = start.detach().float()
        else:
            z0 = torch.randn(len(images), latent_dim, generator=generator)
        z = z0.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            fit = (((decode(z) - x) * m) ** 2).flatten(1).sum(dim=1) / visible  # per visible pixel
            loss = fit.mean() + prior_weight * (z ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            decoded = decode(z).float()
            fit = (((decoded - x) * m) ** 2).flatten(1).sum(dim=1)
            better = fit < best_fit
            best_fit = torch.where(better, fit, best_fit)
            best[better] = decoded[better]
    return (x * m + best * (1 - m)).detach()


# --- representation learning ----------------------------------------------------------------------


def linear_probe(train_features: Tensor | np.ndarray, train_labels: Tensor | np.ndarray,
                 test_features: Tensor | np.ndarray, test_labels: Tensor | np.ndarray,
                 *, sizes: Sequence[int | None] = (100, 1000, None), seed: int = 0) -> dict[Any, float]:
    """Test accuracy of a logistic regression on the features, trained on the first `n` of a
    seeded shuffle of the training set for each `n` in `sizes` (None: all). The features are
    standardised with the statistics of those `n` (no peeking at the test set)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def numpy(values: Any) -> np.ndarray:
        return values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)

    x, y, x_test, y_test = map(numpy, (train_features, train_labels, test_features, test_labels))
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    order = np.random.default_rng(seed).permutation(len(x))
    accuracy = {}
    for n in sizes:
        if n is not None and (not is_int(n) or not 1 <= n <= len(x)):
            raise ValueError(f"sizes must be ints in [1, {len(x)}] or None, got {n!r}")
        chosen = order[: n or len(x)]
        if len(np.unique(y[chosen])) < 2:
            raise ValueError(f"the first {n} training images hold one class only; use more")
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        probe.fit(x[chosen], y[chosen])
        accuracy[n if n is not None else "all"] = float(probe.score(x_test, y_test))
    return accuracy


# --- every application, for a set of trained models -----------------------------------------------


def _conditional(model: nn.Module) -> bool:
    return bool(getattr(getattr(model, "config", None), "num_classes", 0))


def _latent_dim(model: nn.Module, images: Tensor) -> int:
    size = getattr(getattr(model, "config", None), "latent_dim", None)
    return int(size) if size else int(encoder_of(model)(images[:1]).shape[1])


def evaluate_applications(models: dict[str, nn.Module], train: Any, test: Any, *, n: int = 1000,
                          bits: Sequence[int] = (2, 4, 6, 8), pca_components: Sequence[int] = (16, 32),
                          jpeg_qualities: Sequence[int] = (5, 10, 25, 50), sigmas: Sequence[float] = (0.1, 0.2, 0.4),
                          filters: Sequence[tuple[str, float]] = (("gaussian", 0.7), ("gaussian", 1.0), ("median", 3)),
                          hidden: int = 12, n_inpaint: int = 200, search_steps: int = 200, restarts: int = 4,
                          probe_sizes: Sequence[int | None] = (100, 1000, None), n_probe_train: int | None = None,
                          examples: int = 8, seed: int = 0, log: Callable[[str], None] = lambda line: None
                          ) -> dict[str, Any]:
    """Every application of this module for each trained model of `models` (name -> model), on the
    grey images of `train` and `test` (`gentut.data.ImageData`), as a JSON-friendly dict:

    * ``compression``: per model with an encoder, `code_rate_distortion` at `bits`; PCA with each of
      `pca_components`; JPEG at `jpeg_qualities`; on the first `n` test images;
    * ``denoising``: `denoising_errors` at `sigmas` of each model with an encoder (its reconstruction
      of the noisy image) and of each classical filter in `filters`; with example images at the
      middle noise level;
    * ``inpainting``: `masked_error` on a centred `hidden` x `hidden` square of the first `n_inpaint`
      test images, for each model that decodes codes (`inpaint_by_search`, started from the
      encoder's code of the masked image where there is an encoder), the mean image and the nearest
      training image; with `examples` example images per method;
    * ``representation``: `linear_probe` accuracies on the codes of each model with an encoder, on
      raw pixels and on PCA codes (the larger of `pca_components`), trained on `n_probe_train`
      training images (default: all) and tested on every test image.

    Conditional models are left out: their encoder and decoder take the class as well, so what
    they code is not comparable with an unconditional model's code.
    """
    positive_int("n", n)
    models = {name: model for name, model in models.items() if not _conditional(model)}
    encoders = {name: encoder_of(m) for name, m in models.items() if callable(getattr(m, "encode", None))}
    decoders = {name: decoder_of(m) for name, m in models.items()}
    grey_train, grey_test = train.images.cpu(), test.images.cpu()
    images = grey_test[:n]
    result: dict[str, Any] = {"n": len(images), "models": list(models)}

    from gentut.comparison import grid_images

    log("applications: compression")
    compression: dict[str, Any] = {"bits": list(bits), "models": {}, "pca": {}, "latent_dims": {}}
    for name, encode in encoders.items():
        compression["models"][name] = code_rate_distortion(encode, decoders[name], grey_train, images, bits)
        compression["latent_dims"][name] = _latent_dim(models[name], images)
    for components in pca_components:
        compression["pca"][str(components)] = pca_rate_distortion(grey_train, images, components, bits)
    compression["jpeg"] = jpeg_rate_distortion(images, jpeg_qualities)
    result["compression"] = compression

    log("applications: denoising")
    denoisers: dict[str, Codec] = {}
    for name, encode in encoders.items():
        denoisers[name] = (lambda enc, dec: (lambda x: _decode_batched(dec, enc(x))))(encode, decoders[name])
    for kind, size in filters:
        denoisers[f"{kind} filter ({size:g})"] = (lambda k, s: (lambda x: filter_denoise(x, k, s)))(kind, size)
    table = denoising_errors(denoisers, images, sigmas, seed=seed)
    middle = sigmas[len(sigmas) // 2]
    noisy = add_noise(images[:examples], middle, seed=seed)
    with torch.no_grad():
        denoised = {name: grid_images(denoise(noisy)) for name, denoise in denoisers.items()}
    result["denoising"] = {"sigmas": list(sigmas), "mse": {name: [row[s] for s in sigmas] for name, row in table.items()},
                           "example_sigma": middle, "examples": {"clean": grid_images(images[:examples]),
                                                                 "noisy": grid_images(noisy), **denoised}}

    log("applications: inpainting")
    targets = grey_test[:n_inpaint]
    mask = center_mask(targets.shape[1:], hidden)
    filled = {"mean image": inpaint_mean(grey_train, targets, mask),
              "nearest training image": inpaint_nearest(grey_train, targets, mask)}
    for name, decode in decoders.items():
        start = encoders[name](targets * mask) if name in encoders else None
        filled[name] = inpaint_by_search(decode, _latent_dim(models[name], targets), targets, mask,
                                         steps=search_steps, restarts=restarts, seed=seed, start=start)
        log(f"  {name}: {masked_error(filled[name], targets, mask):.4f}")
    result["inpainting"] = {
        "hidden": hidden, "n": len(targets), "steps": search_steps, "restarts": restarts,
        "mse": {name: masked_error(f, targets, mask) for name, f in filled.items()},
        "examples": {"original": grid_images(targets[:examples]), "masked": grid_images(targets[:examples] * mask),
                     **{name: grid_images(f[:examples]) for name, f in filled.items()}}}

    log("applications: representation")
    from sklearn.decomposition import PCA

    chosen = slice(None) if n_probe_train is None else slice(0, n_probe_train)
    x_train, y_train = grey_train[chosen], train.labels[chosen].cpu()
    y_test = test.labels.cpu()
    features = {"raw pixels": (x_train.flatten(1), grey_test.flatten(1))}
    pca = PCA(n_components=max(pca_components), random_state=0).fit(x_train.flatten(1).numpy())
    features[f"PCA ({max(pca_components)} components)"] = (
        pca.transform(x_train.flatten(1).numpy()), pca.transform(grey_test.flatten(1).numpy()))
    for name, encode in encoders.items():
        features[name] = (encode(x_train), encode(grey_test))
    probe = {}
    for name, (train_features, test_features) in features.items():
        accuracy = linear_probe(train_features, y_train, test_features, y_test, sizes=probe_sizes, seed=seed)
        probe[name] = {str(k): v for k, v in accuracy.items()}
        log(f"  {name}: {probe[name]}")
    result["representation"] = {"sizes": [str(s if s is not None else "all") for s in probe_sizes],
                                "n_train": len(x_train), "n_test": len(y_test), "accuracy": probe}
    return result
