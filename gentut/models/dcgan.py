"""DCGAN (Radford, Metz & Chintala 2015): the GAN objective with two convolutional players built
to the paper's guidelines.

DCGAN is not a new objective: it is `gentut.models.gan.GAN` with networks chosen by rules that made
convolutional GANs train stably (Radford et al. 2015, Section 3):

* strided convolutions instead of pooling in the discriminator, and fractionally strided
  (transposed) convolutions in the generator, so both learn their own resampling;
* no fully connected hidden layers: the generator's first layer is a projection of z reshaped to
  a small feature map, the discriminator's last flattens its map to one logit;
* batch normalisation in both players, except at the generator's output and the discriminator's
  input, where it made samples oscillate and training unstable;
* ReLU in the generator with Tanh at its output; LeakyReLU (slope 0.2) in the discriminator;
* weights from N(0, 0.02); Adam with learning rate 2e-4 and beta1 = 0.5 (Section 4).

Tanh puts samples in [-1, 1], the range the paper scaled its images to. The book keeps images in
[0, 1], so the generator ends in a sigmoid instead: sigmoid(2a) = (tanh(a) + 1) / 2, the same
function rescaled to the data's range, so nothing of the guideline is lost.

The builders below return the book's `ConvDecoder` and `ConvEncoder` with these options, so a
DCGAN is saved, rebuilt from its spec and trained by the one `Trainer` like every other model;
each guideline is one keyword, which is what the chapter's ablations change.
"""
from __future__ import annotations

import torch
from torch import nn

from gentut.models.gan import GAN, GANConfig
from gentut.models.networks import ConvDecoder, ConvEncoder, LabelConditioned
from gentut.validation import is_int, positive_int

__all__ = ["DCGAN_LR", "DCGAN_BETAS", "DCGAN_LATENT_DIM", "default_depth", "dcgan_generator",
           "dcgan_discriminator", "build_dcgan", "dcgan_optimizers"]

DCGAN_LR = 2e-4  # Radford et al. 2015, Section 4: 1e-3 was too high
DCGAN_BETAS = (0.5, 0.999)  # beta1 0.5 instead of Adam's 0.9: 0.9 "resulted in training oscillation"
DCGAN_LATENT_DIM = 100  # z: 100 numbers drawn uniformly in the paper; N(0, I) here, as in the book's GANs
SMALLEST_MAP = 4  # the paper's generator starts from a 4x4 map


def default_depth(image_size: int) -> int:
    """Stride-2 stages that halve `image_size` down to a small map: 28 -> 14 -> 7 (2),
    32 -> 4 (3), 64 -> 4 (4). Halves while the size is even and the half at least 4."""
    size, depth = positive_int("image_size", image_size), 0
    while size % 2 == 0 and size // 2 >= SMALLEST_MAP:
        size, depth = size // 2, depth + 1
    if depth == 0:
        raise ValueError(f"image_size {image_size} cannot be halved to a map of at least {SMALLEST_MAP} pixels; "
                         "use an even size of at least 8, or give depth and pad=True")
    return depth


def dcgan_generator(
    latent_dim: int = DCGAN_LATENT_DIM,
    *,
    image_size: int = 28,
    channels: int = 1,
    width: int = 64,
    depth: int | None = None,
    norm: str = "batch",
    norm_image_side: bool = False,
    output: str = "sigmoid",
    upsample: str = "transposed",
    init: str = "dcgan",
) -> ConvDecoder:
    """DCGAN's generator: project z to a (width * 2**(depth-1))-channel map, then transposed
    convolutions that halve the channels and double the size, batch norm and ReLU after every
    layer but the output, and `output` at the end (sigmoid: the book's [0, 1] images).

    For 64x64 with width 128 this is the paper's generator: 4x4x1024 -> 8x8x512 -> 16x16x256 ->
    32x32x128 -> 64x64xC. ``upsample="resize"`` doubles by nearest-neighbour resizing and a 3x3
    convolution instead (no checkerboard); ``norm_image_side=True`` also normalises the output."""
    depth = default_depth(image_size) if depth is None else depth
    return ConvDecoder(latent_dim, out_channels=channels, base_channels=width, image_size=image_size, depth=depth,
                       activation="relu", norm=norm, norm_image_side=norm_image_side, output=output,
                       upsample=upsample, init=init)


def dcgan_discriminator(
    *,
    image_size: int = 28,
    channels: int = 1,
    width: int = 64,
    depth: int | None = None,
    norm: str = "batch",
    norm_image_side: bool = False,
    activation: str = "leaky_relu",
    downsample: str = "strided",
    init: str = "dcgan",
    spectral_norm: bool = False,
    packing: int = 1,
) -> ConvEncoder:
    """DCGAN's discriminator: stride-2 convolutions that double the channels and halve the size,
    LeakyReLU(0.2), batch norm on every stage but the first (the input is never normalised),
    then one logit. With `packing` m it takes m images stacked on the channel axis (PacGAN).
    ``downsample="pool"`` halves by a 3x3 convolution and average pooling instead;
    ``norm_image_side=True`` also normalises the first stage."""
    depth = default_depth(image_size) if depth is None else depth
    return ConvEncoder(1, in_channels=channels * positive_int("packing", packing), base_channels=width,
                       image_size=image_size, depth=depth, activation=activation, norm=norm,
                       norm_image_side=norm_image_side, downsample=downsample, init=init,
                       spectral_norm=spectral_norm)


def build_dcgan(
    latent_dim: int = DCGAN_LATENT_DIM,
    *,
    image_size: int = 28,
    channels: int = 1,
    width: int = 64,
    loss: str = "non_saturating",
    num_classes: int = 0,
    **options,
) -> GAN:
    """A DCGAN for `image_size`-pixel images with `channels` channels: `dcgan_generator` and
    `dcgan_discriminator` of the same width, in a `GAN` with `loss`. Other keywords go to the
    network that takes them (``norm``, ``norm_image_side``, ``init``, ``depth`` to both; ``output``
    and ``upsample`` to the generator; ``activation``, ``downsample``, ``spectral_norm`` and
    ``packing`` to the discriminator), so an ablation is one keyword: ``build_dcgan(init="default")``.

    ``num_classes=K`` builds a conditional DCGAN (Mirza & Osindero 2014): the generator takes z
    and the label's one-hot vector, the discriminator the image with K constant label channels,
    both through `LabelConditioned`."""
    shared_keys = {"norm", "norm_image_side", "init", "depth"}
    generator_keys = shared_keys | {"output", "upsample"}
    discriminator_keys = shared_keys | {"activation", "downsample", "spectral_norm", "packing"}
    unknown = set(options) - generator_keys - discriminator_keys
    if unknown:
        raise TypeError(f"build_dcgan got unknown options {sorted(unknown)}; it takes "
                        f"{sorted(generator_keys | discriminator_keys)}")
    if not is_int(num_classes) or num_classes < 0:
        raise ValueError(f"num_classes must be a non-negative int (0: unconditional), got {num_classes!r}")
    config = GANConfig(latent_dim=latent_dim, loss=loss, packing=options.get("packing", 1), num_classes=num_classes)
    k = num_classes
    generator = dcgan_generator(latent_dim + k, image_size=image_size, channels=channels, width=width,
                                **{key: v for key, v in options.items() if key in generator_keys})
    # The label joins the discriminator's input as k channels, so its first convolution takes
    # channels + k of them (with packing, which a conditional GAN refuses, it would be m * channels).
    discriminator = dcgan_discriminator(image_size=image_size, channels=channels + k, width=width,
                                        **{key: v for key, v in options.items() if key in discriminator_keys})
    if k:
        generator, discriminator = LabelConditioned(generator, k), LabelConditioned(discriminator, k)
    return GAN(generator, discriminator, config=config)


def dcgan_optimizers(gan: GAN, *, lr: float = DCGAN_LR,
                     betas: tuple[float, float] = DCGAN_BETAS) -> dict[str, torch.optim.Optimizer]:
    """One Adam per player at DCGAN's settings, named as `GAN.training_step` expects."""
    if not isinstance(gan, GAN):
        raise TypeError(f"gan must be a gentut GAN, got {type(gan).__name__}")
    players: dict[str, nn.Module] = {"discriminator": gan.discriminator, "generator": gan.generator}
    return {name: torch.optim.Adam(net.parameters(), lr=lr, betas=betas) for name, net in players.items()}
