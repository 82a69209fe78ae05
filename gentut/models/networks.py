"""Encoder and decoder networks shared by every chapter, apart from any objective.

An encoder maps images (B, C, H, W) to vectors (B, out_dim); a decoder maps latent codes
(B, latent_dim) to images (B, C, H, W). The objective that wraps them decides what the vectors
mean:

* autoencoder (Rumelhart, Hinton & Williams 1986; Hinton & Salakhutdinov 2006): ``out_dim`` is the
  code size;
* VAE (Kingma & Welling 2013): the encoder has ``out_dim = 2 * latent_dim`` (mean and log-variance);
* GAN (Goodfellow et al. 2014): the discriminator is an encoder with ``out_dim = 1``, the generator
  is a decoder;
* DCGAN (Radford, Metz & Chintala 2015): the convolutional pair with ``norm="batch"``,
  ``activation="leaky_relu"`` in the discriminator and ``init="dcgan"``, as in that paper.

What the objectives read from a network (written down here because they check it):

* every encoder: ``image_shape`` (C, H, W) of its input and ``out_dim``; ``features(x, block)``
  returns the activations after hidden block `block` (-1: the last), the tap a VAE-GAN's
  feature-space reconstruction uses (Larsen et al. 2016);
* every decoder: ``latent_dim`` of its input, ``image_shape`` of its output and ``output``, its
  output activation. ``logits(z)`` is the pre-activation output, ``forward(z)`` the output
  itself: ``"sigmoid"`` (the default for images: pixel means in [0, 1], the book's data range),
  ``"tanh"`` (images in [-1, 1]) or ``"identity"``. Bernoulli losses use ``logits`` with the
  numerically stable ``binary_cross_entropy_with_logits``;
* `MLP` (vectors, the 2-D laboratory): ``in_dim``, ``out_dim`` and ``output``;
* `LabelConditioned` wraps any of them for a conditional model and adds ``num_classes``.

Every network records the options it was built with in ``options`` (plain values), from which
`gentut.spec` rebuilds it. Two options are shared by all: ``init="dcgan"`` draws weights from
N(0, 0.02) (Radford et al. 2015, Section 4) instead of PyTorch's default, and
``spectral_norm=True`` normalises every layer by its largest singular value (Miyato et al. 2018).

Normalisation is off by default (``norm="none"``). Batch norm makes one example's output depend on
the rest of its batch and behave differently in ``train()`` and ``eval()`` mode; for an
autoencoder or VAE that blurs per-example quantities (reconstruction errors used as anomaly
scores, the KL of one code), and these small networks train well on 28x28 digits without it.
DCGAN's generator and discriminator do rely on it, so ``norm="batch"`` is one keyword away.
"""
from __future__ import annotations

import math
from typing import Any, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gentut.validation import batch_shape, choice, image_shape, int_tuple, positive_int, probability

__all__ = [
    "MLPEncoder",
    "MLPDecoder",
    "ConvEncoder",
    "ConvDecoder",
    "MLP",
    "LabelConditioned",
    "with_spectral_norm",
    "dcgan_init_",
    "OUTPUTS",
]

Activation = Literal["relu", "leaky_relu"]
Norm = Literal["none", "batch"]
Output = Literal["identity", "sigmoid", "tanh"]
Init = Literal["default", "dcgan"]
Upsample = Literal["transposed", "resize"]
Downsample = Literal["strided", "pool"]
ACTIVATIONS = ("relu", "leaky_relu")
NORMS = ("none", "batch")
OUTPUTS = ("identity", "sigmoid", "tanh")
INITS = ("default", "dcgan")
UPSAMPLES = ("transposed", "resize")
DOWNSAMPLES = ("strided", "pool")

# LeakyReLU slope 0.2, as in DCGAN (Radford et al. 2015, Section 4).
LEAKY_RELU_SLOPE = 0.2
# DCGAN's initialisation: "All weights were initialized from a zero-centered Normal distribution
# with standard deviation 0.02" (Radford et al. 2015, Section 4).
DCGAN_INIT_STD = 0.02


def _activation(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU()
    return nn.LeakyReLU(LEAKY_RELU_SLOPE)


def apply_output(kind: str, logits: Tensor) -> Tensor:
    """The output activation `kind` of `logits`."""
    if kind == "sigmoid":
        return torch.sigmoid(logits)
    if kind == "tanh":
        return torch.tanh(logits)
    return logits


def dcgan_init_(module: nn.Module) -> nn.Module:
    """DCGAN's initialisation, in place: every Linear and (transposed) convolution weight from
    N(0, 0.02) and its bias 0; batch-norm scales from N(1, 0.02) and shifts 0 (the scale is a
    multiplier, so it is centred on 1, as in pytorch/examples' ``dcgan``). Returns `module`."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
            nn.init.normal_(m.weight, 0.0, DCGAN_INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.normal_(m.weight, 1.0, DCGAN_INIT_STD)
            nn.init.zeros_(m.bias)
    return module


def with_spectral_norm(module: nn.Module) -> nn.Module:
    """Apply spectral normalisation (Miyato et al. 2018) to every Linear and convolution layer.

    Each weight W is replaced by W / sigma(W), its largest singular value estimated by one power
    iteration per forward pass in training mode (torch's
    ``nn.utils.parametrizations.spectral_norm``), so each layer, and with 1-Lipschitz
    activations the whole network, is 1-Lipschitz. Transposed convolutions are normalised
    along their output-channel axis (torch picks it). Layers already normalised are left
    alone. Modifies `module` in place and returns it, so it wraps a constructor:
    ``with_spectral_norm(MLP(2, 1))``; the book's networks also take ``spectral_norm=True``.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    layers = [
        m
        for m in module.modules()  # collected first: parametrizing adds modules
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))
        and not nn.utils.parametrize.is_parametrized(m, "weight")
    ]
    for layer in layers:
        nn.utils.parametrizations.spectral_norm(layer)
    return module


class _Network(nn.Module):
    """What the book's networks share: recorded options, and the init and spectral-norm options."""

    options: dict[str, Any]

    def _finish(self, options: dict[str, Any], init: str, spectral_norm: bool) -> None:
        choice("init", init, INITS)
        if not isinstance(spectral_norm, bool):
            raise TypeError(f"spectral_norm must be a bool, got {type(spectral_norm).__name__}")
        # Only plain values: the spec stores them and the checkpoint loads with weights_only.
        self.options = {k: (tuple(v) if isinstance(v, list) else v) for k, v in options.items()}
        self.options.update(init=init, spectral_norm=spectral_norm)
        if init == "dcgan":
            dcgan_init_(self)
        if spectral_norm:  # after the init: the parametrisation starts from the chosen weights
            with_spectral_norm(self)


class _Encoder(_Network):
    """An encoder: ``net`` (a Sequential) with the end of each hidden block in ``block_ends``."""

    net: nn.Sequential
    image_shape: tuple[int, int, int]
    block_ends: list[int]

    def forward(self, x: Tensor) -> Tensor:
        batch_shape(type(self).__name__, x, self.image_shape)
        return self.net(x)  # (B, out_dim)

    def features(self, x: Tensor, block: int = -1) -> Tensor:
        """Activations after hidden block `block` (0 is the first, -1 the last): the layer a
        discriminator's feature-matching or VAE-GAN reconstruction loss reads."""
        batch_shape(type(self).__name__, x, self.image_shape)
        blocks = len(self.block_ends)
        if not isinstance(block, int) or isinstance(block, bool) or not -blocks <= block < blocks:
            raise ValueError(f"block must be an int in [-{blocks}, {blocks}), got {block!r}")
        return self.net[: self.block_ends[block]](x)


class _Decoder(_Network):
    """A decoder: ``net`` maps codes to logits; ``output`` says what ``forward`` applies."""

    net: nn.Sequential
    latent_dim: int
    output: str

    def logits(self, z: Tensor) -> Tensor:
        """The pre-activation output (pixel logits for a sigmoid decoder): (B, C, H, W)."""
        batch_shape(type(self).__name__, z, (self.latent_dim,))
        return self.net(z)

    def forward(self, z: Tensor) -> Tensor:
        return apply_output(self.output, self.logits(z))  # (B, C, H, W)


# --- fully connected -----------------------------------------------------------------------------


class MLPEncoder(_Encoder):
    """Flatten an image and map it through fully connected layers to ``out_dim`` numbers.

    Args:
        out_dim: size of the output (code size; ``2 * latent_dim`` for a VAE; 1 for a GAN critic).
        image_shape: (channels, height, width) of the input images.
        hidden: widths of the hidden layers, input side first.
        activation: ``"relu"`` or ``"leaky_relu"`` (slope 0.2) after each hidden layer.
        norm: ``"none"`` or ``"batch"`` (BatchNorm1d before each hidden activation).
        dropout: probability of `nn.Dropout` after each hidden activation (Srivastava et al.
            2014); 0 (default) adds no dropout layers. A common regulariser for an MLP GAN
            discriminator (0.3), active in ``train()`` mode only.
        init, spectral_norm: see the module docstring.
    """

    def __init__(
        self,
        out_dim: int,
        *,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (512, 256),
        activation: Activation = "relu",
        norm: Norm = "none",
        dropout: float = 0.0,
        init: Init = "default",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.out_dim = positive_int("out_dim", out_dim)
        self.image_shape = image_shape_ = _image_shape(image_shape)
        self.hidden = _hidden(hidden)
        choice("activation", activation, ACTIVATIONS)
        choice("norm", norm, NORMS)
        self.dropout = probability("dropout", dropout)

        layers: list[nn.Module] = [nn.Flatten()]  # (B, C, H, W) -> (B, C*H*W)
        self.block_ends = []
        width = math.prod(image_shape_)
        for size in self.hidden:
            # A bias just before batch norm would be subtracted away again.
            layers.append(nn.Linear(width, size, bias=norm == "none"))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(size))
            layers.append(_activation(activation))
            if self.dropout > 0:  # none at 0: same layers (and state_dict keys) as before
                layers.append(nn.Dropout(self.dropout))
            self.block_ends.append(len(layers))
            width = size
        layers.append(nn.Linear(width, self.out_dim))  # (B, out_dim), no activation
        self.net = nn.Sequential(*layers)
        self._finish(
            dict(out_dim=out_dim, image_shape=image_shape_, hidden=self.hidden, activation=activation,
                 norm=norm, dropout=self.dropout), init, spectral_norm,
        )


class MLPDecoder(_Decoder):
    """Map latent codes through fully connected layers to images of shape (B, C, H, W).

    Args:
        latent_dim: size of the latent code.
        hidden: widths of the hidden layers, latent side first (the encoder's, mirrored).
        image_shape: (channels, height, width) of the output images.
        activation: ``"relu"`` or ``"leaky_relu"`` after each hidden layer.
        norm: ``"none"`` or ``"batch"``.
        output: ``"sigmoid"`` (default, images in [0, 1]), ``"tanh"`` or ``"identity"``.
        init, spectral_norm: see the module docstring.
    """

    def __init__(
        self,
        latent_dim: int,
        *,
        hidden: Sequence[int] = (256, 512),
        image_shape: Sequence[int] = (1, 28, 28),
        activation: Activation = "relu",
        norm: Norm = "none",
        output: Output = "sigmoid",
        init: Init = "default",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.latent_dim = positive_int("latent_dim", latent_dim)
        self.hidden = _hidden(hidden)
        self.image_shape = _image_shape(image_shape)
        choice("activation", activation, ACTIVATIONS)
        choice("norm", norm, NORMS)
        self.output = choice("output", output, OUTPUTS)

        layers: list[nn.Module] = []
        width = self.latent_dim
        for size in self.hidden:
            layers.append(nn.Linear(width, size, bias=norm == "none"))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(size))
            layers.append(_activation(activation))
            width = size
        layers.append(nn.Linear(width, math.prod(self.image_shape)))  # (B, C*H*W) logits
        layers.append(nn.Unflatten(1, self.image_shape))  # (B, C, H, W)
        self.net = nn.Sequential(*layers)
        self._finish(
            dict(latent_dim=latent_dim, hidden=self.hidden, image_shape=self.image_shape,
                 activation=activation, norm=norm, output=output), init, spectral_norm,
        )


# --- convolutional -------------------------------------------------------------------------------


def _conv_channels(base_channels: int, depth: int, channels: Sequence[int] | None) -> tuple[int, ...]:
    """Channels after each stride-2 stage, input side first: given, or doubling from the base."""
    positive_int("base_channels", base_channels)
    positive_int("depth", depth)
    if channels is None:
        return tuple(base_channels * 2**i for i in range(depth))
    channels = int_tuple("channels", channels)
    if len(channels) != depth:
        raise ValueError(
            f"channels must give one width per stride-2 stage, depth={depth}, got {len(channels)}: "
            f"{channels!r}"
        )
    return channels


def _conv_geometry(
    base_channels: int, depth: int, channels: Sequence[int] | None, image_size: int, pad: bool,
    activation: str, norm: str,
) -> tuple[tuple[int, ...], tuple[int, int]]:
    """The checked options a convolutional encoder and its mirror decoder share: the stage widths
    and the padding (before, after) that makes `image_size` halve `depth` times."""
    choice("activation", activation, ACTIVATIONS)
    choice("norm", norm, NORMS)
    return _conv_channels(base_channels, depth, channels), _padding(image_size, depth, pad)


def _padding(image_size: int, depth: int, pad: bool) -> tuple[int, int]:
    """Rows (and columns) to add before and after so that `image_size` halves `depth` times."""
    positive_int("image_size", image_size)
    step = 2**depth
    if image_size % step == 0:
        return 0, 0
    if not pad:
        raise ValueError(
            f"image_size must be divisible by 2**depth = {step} ({depth} stride-2 stages), got "
            f"{image_size}; choose another depth, or pad=True to zero-pad the image to "
            f"{math.ceil(image_size / step) * step} (and crop the decoder's output back)"
        )
    extra = math.ceil(image_size / step) * step - image_size
    return extra // 2, extra - extra // 2


class ConvEncoder(_Encoder):
    """Stride-2 convolutions that halve the image `depth` times, then a linear layer to ``out_dim``.

    For 28x28 digits with the default depth 2: 28 -> 14 -> 7. Stride-2 convolutions rather than
    pooling let the network learn its own downsampling (Springenberg et al. 2015), as DCGAN's
    discriminator does. Each stage is a 4x4 convolution with stride 2 and padding 1, which halves
    an even size exactly: (n + 2 - 4) // 2 + 1 = n / 2.

    Args:
        out_dim: size of the output.
        in_channels: channels of the input images.
        base_channels: channels after the first stage; each further stage doubles them.
        image_size: height and width of the (square) input; a multiple of 2**depth, or any size
            with ``pad=True``.
        depth: number of stride-2 stages (2 for 28x28, 3 for 32x32, 4 for 64x64 in DCGAN).
        channels: the widths of the stages, input side first, instead of doubling from the base.
        activation: ``"relu"`` or ``"leaky_relu"``.
        norm: ``"none"`` or ``"batch"``, after every stage but the first: DCGAN leaves the
            discriminator's input layer unnormalised so that it sees the raw pixel statistics.
        norm_image_side: with ``norm="batch"``, normalise the first stage too (the layer that
            sees the image), which DCGAN leaves out; for the chapter's ablation.
        pad: zero-pad the input to the next multiple of 2**depth (28 -> 32 for depth 3), so that
            a deeper network takes digits; the decoder's ``pad=True`` crops back.
        downsample: how each stage halves the size. ``"strided"`` (default, DCGAN's): the 4x4
            stride-2 convolution above, a learned downsampling. ``"pool"``: a 3x3 convolution
            with stride 1 and padding 1, then 2x2 average pooling, a fixed one, as in the
            convolutional networks DCGAN's guideline replaced.
        init, spectral_norm: see the module docstring.
    """

    def __init__(
        self,
        out_dim: int,
        *,
        in_channels: int = 1,
        base_channels: int = 32,
        image_size: int = 28,
        depth: int = 2,
        channels: Sequence[int] | None = None,
        activation: Activation = "relu",
        norm: Norm = "none",
        norm_image_side: bool = False,
        pad: bool = False,
        downsample: Downsample = "strided",
        init: Init = "default",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.out_dim = positive_int("out_dim", out_dim)
        choice("downsample", downsample, DOWNSAMPLES)
        _check_image_side(norm_image_side, norm)
        in_channels = positive_int("in_channels", in_channels)
        self.base_channels, self.image_size = base_channels, image_size
        self.channels, (before, after) = _conv_geometry(base_channels, depth, channels, image_size, pad,
                                                        activation, norm)
        self.image_shape = (in_channels, image_size, image_size)

        layers: list[nn.Module] = []
        if before or after:
            layers.append(nn.ZeroPad2d((before, after, before, after)))  # (B, C, S', S')
        self.block_ends = []
        width, size = in_channels, image_size + before + after
        for i, stage in enumerate(self.channels):
            normed = norm == "batch" and (i > 0 or norm_image_side)
            # (B, width, s, s) -> (B, stage, s/2, s/2); no bias before batch norm
            if downsample == "strided":
                layers.append(nn.Conv2d(width, stage, 4, stride=2, padding=1, bias=not normed))
            else:
                layers.append(nn.Conv2d(width, stage, 3, padding=1, bias=not normed))  # size kept
            if normed:
                layers.append(nn.BatchNorm2d(stage))
            layers.append(_activation(activation))
            if downsample == "pool":
                layers.append(nn.AvgPool2d(2))  # s -> s/2
            self.block_ends.append(len(layers))
            width, size = stage, size // 2
        layers += [
            nn.Flatten(),  # (B, width * s * s)
            nn.Linear(width * size * size, self.out_dim),  # (B, out_dim)
        ]
        self.net = nn.Sequential(*layers)
        self._finish(
            dict(out_dim=out_dim, in_channels=in_channels, base_channels=base_channels,
                 image_size=image_size, depth=depth, channels=self.channels, activation=activation,
                 norm=norm, pad=pad, **_changed(norm_image_side=norm_image_side, downsample=downsample)),
            init, spectral_norm,
        )


def _check_image_side(norm_image_side: bool, norm: str) -> None:
    if not isinstance(norm_image_side, bool):
        raise TypeError(f"norm_image_side must be a bool, got {type(norm_image_side).__name__}")
    if norm_image_side and norm != "batch":
        raise ValueError(f"norm_image_side=True normalises with batch norm, so it needs norm='batch', got norm={norm!r}")


def _changed(**options: Any) -> dict[str, Any]:
    """The options that differ from their defaults (False, "strided", "transposed"): a network
    built without them records the same options, and so the same spec, as before they existed."""
    defaults = {"norm_image_side": False, "downsample": "strided", "upsample": "transposed"}
    return {k: v for k, v in options.items() if v != defaults[k]}


class ConvDecoder(_Decoder):
    """A linear layer to a small feature map, then stride-2 transposed convolutions up to the image.

    The mirror image of `ConvEncoder` (for digits: 7 -> 14 -> 28); ``forward`` applies the
    output activation, ``logits`` gives what comes before it.

    Args:
        latent_dim: size of the latent code.
        out_channels: channels of the output images.
        base_channels: channels before the last transposed convolution; each stage further
            from the output has twice as many.
        image_size: height and width of the (square) output; a multiple of 2**depth, or any
            size with ``pad=True`` (the output is cropped from the next multiple).
        depth: number of stride-2 transposed convolutions.
        channels: the widths, listed as in the matching `ConvEncoder` (output side first).
        activation: ``"relu"`` or ``"leaky_relu"``.
        norm: ``"none"`` or ``"batch"`` (after every layer but the output, as in DCGAN's generator).
        norm_image_side: with ``norm="batch"``, normalise the output layer's logits too, which
            DCGAN leaves out; for the chapter's ablation.
        output: ``"sigmoid"`` (default, images in [0, 1]), ``"tanh"`` or ``"identity"``.
        pad: see `ConvEncoder`.
        upsample: how each stage doubles the size. ``"transposed"`` (default, DCGAN's): a 4x4
            transposed convolution with stride 2 and padding 1, out = (n - 1) * 2 - 2 + 4 = 2n.
            Every output pixel gets four kernel taps per axis from its inputs, but which four
            alternates between even and odd pixels, so unless the learned weights balance,
            neighbouring pixels get different sums even from a constant input: checkerboard
            artefacts. ``"resize"``: nearest-neighbour upsampling by 2, then a 3x3 convolution
            with padding 1, which maps a constant input to a constant output away from the
            border, the alternative Odena, Dumoulin & Olah (2016) recommend.
        init, spectral_norm: see the module docstring.
    """

    def __init__(
        self,
        latent_dim: int,
        *,
        out_channels: int = 1,
        base_channels: int = 32,
        image_size: int = 28,
        depth: int = 2,
        channels: Sequence[int] | None = None,
        activation: Activation = "relu",
        norm: Norm = "none",
        norm_image_side: bool = False,
        output: Output = "sigmoid",
        pad: bool = False,
        upsample: Upsample = "transposed",
        init: Init = "default",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.latent_dim = positive_int("latent_dim", latent_dim)
        choice("upsample", upsample, UPSAMPLES)
        _check_image_side(norm_image_side, norm)
        out_channels = positive_int("out_channels", out_channels)
        self.base_channels, self.image_size = base_channels, image_size
        self.channels, (before, after) = _conv_geometry(base_channels, depth, channels, image_size, pad,
                                                        activation, norm)
        self.output = choice("output", output, OUTPUTS)
        self.image_shape = (out_channels, image_size, image_size)

        batch = norm == "batch"
        top, size = self.channels[-1], (image_size + before + after) // 2**depth
        layers: list[nn.Module] = [nn.Linear(self.latent_dim, top * size * size, bias=not batch)]
        if batch:
            layers.append(nn.BatchNorm1d(top * size * size))
        layers += [_activation(activation), nn.Unflatten(1, (top, size, size))]  # (B, top, s, s)
        widths = list(reversed(self.channels))  # output side last
        for width, stage in zip(widths[:-1], widths[1:]):
            # (B, width, s, s) -> (B, stage, 2s, 2s)
            layers += _upsampling(upsample, width, stage, bias=not batch)
            if batch:
                layers.append(nn.BatchNorm2d(stage))
            layers.append(_activation(activation))
        layers += _upsampling(upsample, widths[-1], out_channels, bias=not norm_image_side)  # logits
        if norm_image_side:
            layers.append(nn.BatchNorm2d(out_channels))
        if before or after:
            layers.append(nn.ZeroPad2d((-before, -after, -before, -after)))  # negative pad: crop
        self.net = nn.Sequential(*layers)
        self._finish(
            dict(latent_dim=latent_dim, out_channels=out_channels, base_channels=base_channels,
                 image_size=image_size, depth=depth, channels=self.channels, activation=activation,
                 norm=norm, output=output, pad=pad,
                 **_changed(norm_image_side=norm_image_side, upsample=upsample)), init, spectral_norm,
        )


def _upsampling(kind: str, width: int, stage: int, *, bias: bool) -> list[nn.Module]:
    """Layers that take (B, width, s, s) to (B, stage, 2s, 2s), the `ConvDecoder` way `kind`."""
    if kind == "transposed":
        return [nn.ConvTranspose2d(width, stage, 4, stride=2, padding=1, bias=bias)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, stage, 3, padding=1, bias=bias)]


# --- vectors -------------------------------------------------------------------------------------


class MLP(_Network):
    """Fully connected layers from vectors (B, in_dim) to vectors (B, out_dim).

    The generator and discriminator of the 2-D GAN lab: a generator ``MLP(latent_dim, 2)`` maps
    noise to points, a discriminator ``MLP(2, 1, activation="leaky_relu")`` maps points to one
    logit (``MLP(2 * packing, 1)`` for a packed one, see `gentut.models.gan`).

    Args:
        in_dim: size of the input vectors.
        out_dim: size of the output vectors.
        hidden: widths of the hidden layers, input side first.
        activation: ``"relu"`` or ``"leaky_relu"`` (slope 0.2) after each hidden layer.
        output: ``"identity"`` (default: raw outputs, e.g. logits), ``"sigmoid"`` or ``"tanh"``.
        init, spectral_norm: see the module docstring.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        hidden: Sequence[int] = (128, 128),
        activation: Activation = "relu",
        output: Output = "identity",
        init: Init = "default",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.in_dim = positive_int("in_dim", in_dim)
        self.out_dim = positive_int("out_dim", out_dim)
        self.hidden = _hidden(hidden)
        choice("activation", activation, ACTIVATIONS)
        self.output = choice("output", output, OUTPUTS)

        layers: list[nn.Module] = []
        width = self.in_dim
        for size in self.hidden:
            layers += [nn.Linear(width, size), _activation(activation)]
            width = size
        layers.append(nn.Linear(width, self.out_dim))  # (B, out_dim)
        self.net = nn.Sequential(*layers)
        self._finish(
            dict(in_dim=in_dim, out_dim=out_dim, hidden=self.hidden, activation=activation,
                 output=output), init, spectral_norm,
        )

    def logits(self, x: Tensor) -> Tensor:
        batch_shape(type(self).__name__, x, (self.in_dim,))
        return self.net(x)  # (B, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return apply_output(self.output, self.logits(x))


# --- conditioning on a label ---------------------------------------------------------------------


class LabelConditioned(nn.Module):
    """A network that also takes a class label: ``forward(x, y)``, for conditional models.

    The label's one-hot vector is joined to the input (Sohn, Lee & Yan 2015; Mirza & Osindero
    2014): as `num_classes` constant channels for images, (B, C, H, W) -> (B, C + K, H, W), and
    concatenated for vectors, (B, L) -> (B, L + K). So build the wrapped network for the wider
    input: an encoder for C + K channels, a decoder for codes of size L + K. The wrapper reports
    the sizes its caller sees (``image_shape`` with C channels for an encoder, ``latent_dim`` L
    for a decoder) and passes ``out_dim``, ``output``, ``logits`` and ``features`` through.

    Args:
        network: the network to condition (any of this module's).
        num_classes: K, the number of labels.
    """

    def __init__(self, network: nn.Module, num_classes: int) -> None:
        super().__init__()
        if not isinstance(network, nn.Module):
            raise TypeError(f"network must be an nn.Module, got {type(network).__name__}")
        self.num_classes = positive_int("num_classes", num_classes)
        self.network = network
        k = self.num_classes
        if hasattr(network, "latent_dim"):  # a decoder: the label joins the code
            if network.latent_dim <= k:
                raise ValueError(
                    f"a conditioned decoder takes codes of size latent_dim + num_classes, so it must "
                    f"be built for more than num_classes={k} inputs, got latent_dim={network.latent_dim}"
                )
            self.latent_dim = network.latent_dim - k
            self.image_shape = network.image_shape
        elif hasattr(network, "image_shape"):  # an encoder: the label joins as channels
            channels, height, width = network.image_shape
            if channels <= k:
                raise ValueError(
                    f"a conditioned encoder takes images with C + num_classes channels, so it must be "
                    f"built for more than num_classes={k} channels, got {channels}"
                )
            self.image_shape = (channels - k, height, width)
        elif hasattr(network, "in_dim"):  # a vector network: the label joins the input
            if network.in_dim <= k:
                raise ValueError(
                    f"a conditioned MLP takes inputs of size in_dim + num_classes, so it must be built "
                    f"for more than num_classes={k} inputs, got in_dim={network.in_dim}"
                )
            self.in_dim = network.in_dim - k
        else:
            raise TypeError(
                f"network must be one of gentut's networks (with latent_dim, image_shape or in_dim), "
                f"got {type(network).__name__}"
            )
        for name in ("out_dim", "output"):
            if hasattr(network, name):
                setattr(self, name, getattr(network, name))

    def join(self, x: Tensor, y: Tensor) -> Tensor:
        """The input with its label joined: channels for images, features for vectors."""
        one_hot = self.one_hot(y, len(x), x.device).to(x.dtype)  # (B, K)
        if x.ndim == 4:
            # Label channels: each is constant over the image, 1 for the true class, else 0.
            return torch.cat([x, one_hot[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
        return torch.cat([x, one_hot], dim=1)  # (B, L + K)

    def one_hot(self, y: object, batch_size: int, device: torch.device) -> Tensor:
        """Labels y (B,) as one-hot vectors (B, num_classes), with a clear error for bad labels."""
        if y is None:
            raise ValueError(
                f"this network is conditioned on labels (num_classes={self.num_classes}) and needs "
                f"y, one int per example, got None"
            )
        if not isinstance(y, Tensor):
            raise TypeError(f"labels y must be an integer tensor, got {type(y).__name__}")
        if y.shape != (batch_size,) or y.dtype.is_floating_point or y.dtype == torch.bool:
            raise ValueError(
                f"labels y must be an integer tensor of shape ({batch_size},), got "
                f"{y.dtype} of shape {tuple(y.shape)}"
            )
        try:
            # F.one_hot rejects labels outside [0, num_classes), without naming either
            return F.one_hot(y.to(device), self.num_classes)  # (B, num_classes)
        except RuntimeError as error:
            if "num_classes" not in str(error) and "non-negative" not in str(error):
                raise
            raise ValueError(
                f"labels y must be class indices in [0, {self.num_classes}) for this network's "
                f"{self.num_classes} classes, got values from {int(y.min())} to {int(y.max())}"
            ) from None

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.network(self.join(x, y))

    def logits(self, x: Tensor, y: Tensor) -> Tensor:
        return self.network.logits(self.join(x, y))

    def features(self, x: Tensor, y: Tensor, block: int = -1) -> Tensor:
        return self.network.features(self.join(x, y), block)

    @property
    def options(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes}


# --- argument checks ---------------------------------------------------------------------------


def _image_shape(value: object) -> tuple[int, int, int]:
    return image_shape("image_shape", value)


def _hidden(value: object) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)):
        raise ValueError(f"hidden must be a tuple of positive ints, got {value!r}")
    for i, width in enumerate(value):
        positive_int(f"hidden[{i}]", width)
    return tuple(value)
