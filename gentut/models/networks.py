"""Encoder and decoder networks shared by every chapter, apart from any objective.

An encoder maps images (B, C, H, W) to vectors (B, out_dim); a decoder maps latent codes
(B, latent_dim) to pixel LOGITS (B, C, H, W). The objective that wraps them decides what the
vectors mean:

* autoencoder (Rumelhart, Hinton & Williams 1986; Hinton & Salakhutdinov 2006): ``out_dim`` is the
  code size;
* VAE (Kingma & Welling 2014): the encoder has ``out_dim = 2 * latent_dim`` (mean and log-variance);
* GAN (Goodfellow et al. 2014): the discriminator is an encoder with ``out_dim = 1``, the generator
  is a decoder;
* DCGAN (Radford, Metz & Chintala 2016): the convolutional pair with ``norm="batch"`` and
  ``activation="leaky_relu"`` in the discriminator, as in that paper.

Decoders return logits rather than probabilities so that Bernoulli losses can use the numerically
stable ``binary_cross_entropy_with_logits``; ``torch.sigmoid(logits)`` gives pixel means in [0, 1].

Normalisation is off by default (``norm="none"``). Batch norm makes one example's output depend on
the rest of its batch and behave differently in ``train()`` and ``eval()`` mode; for an
autoencoder or VAE that blurs per-example quantities (reconstruction errors used as anomaly
scores, the KL of one code), and these small networks train well on 28x28 digits without it.
DCGAN's generator and discriminator do rely on it, so ``norm="batch"`` is one keyword away.
"""
from __future__ import annotations

import math
from typing import Literal, Sequence

from torch import Tensor, nn

__all__ = ["MLPEncoder", "MLPDecoder", "ConvEncoder", "ConvDecoder"]

Activation = Literal["relu", "leaky_relu"]
Norm = Literal["none", "batch"]

# LeakyReLU slope 0.2, as in DCGAN (Radford et al. 2016, Section 3).
LEAKY_RELU_SLOPE = 0.2


# --- argument checks ---------------------------------------------------------------------------


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_image_shape(name: str, value: object) -> tuple[int, int, int]:
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ValueError(f"{name} must be a (channels, height, width) tuple, got {value!r}")
    for part, size in zip(("channels", "height", "width"), value):
        _check_positive_int(f"{name} {part}", size)
    return tuple(value)  # type: ignore[return-value]


def _check_hidden(name: str, value: object) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)):
        raise ValueError(f"{name} must be a tuple of positive ints, got {value!r}")
    for i, width in enumerate(value):
        _check_positive_int(f"{name}[{i}]", width)
    return tuple(value)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value  # type: ignore[return-value]


def _check_probability(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value < 1
    ):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _check_input(module: str, x: object, expected: tuple[int, ...]) -> None:
    """Raise a readable error unless `x` is a tensor of shape (B, *expected)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{module} expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        want = ", ".join(["B", *map(str, expected)])
        got = ", ".join(["B", *map(str, x.shape[1:])]) if x.ndim >= 1 else ""
        raise ValueError(f"{module} expected input of shape ({want}), got ({got})")


def _activation(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU()
    return nn.LeakyReLU(LEAKY_RELU_SLOPE)


# --- fully connected -----------------------------------------------------------------------------


class MLPEncoder(nn.Module):
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
    ) -> None:
        super().__init__()
        self.out_dim = _check_positive_int("out_dim", out_dim)
        self.image_shape = _check_image_shape("image_shape", image_shape)
        self.hidden = _check_hidden("hidden", hidden)
        _check_choice("activation", activation, ("relu", "leaky_relu"))
        _check_choice("norm", norm, ("none", "batch"))
        self.dropout = _check_probability("dropout", dropout)

        layers: list[nn.Module] = [nn.Flatten()]  # (B, C, H, W) -> (B, C*H*W)
        width = math.prod(self.image_shape)
        for size in self.hidden:
            # A bias just before batch norm would be subtracted away again.
            layers.append(nn.Linear(width, size, bias=norm == "none"))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(size))
            layers.append(_activation(activation))
            if self.dropout > 0:  # none at 0: same layers (and state_dict keys) as before
                layers.append(nn.Dropout(self.dropout))
            width = size
        layers.append(nn.Linear(width, self.out_dim))  # (B, out_dim), no activation
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(type(self).__name__, x, self.image_shape)
        return self.net(x)  # (B, out_dim)


class MLPDecoder(nn.Module):
    """Map latent codes through fully connected layers to pixel logits of shape (B, C, H, W).

    Args:
        latent_dim: size of the latent code.
        hidden: widths of the hidden layers, latent side first (the encoder's, mirrored).
        image_shape: (channels, height, width) of the output images.
        activation: ``"relu"`` or ``"leaky_relu"`` after each hidden layer.
        norm: ``"none"`` or ``"batch"``.
    """

    def __init__(
        self,
        latent_dim: int,
        *,
        hidden: Sequence[int] = (256, 512),
        image_shape: Sequence[int] = (1, 28, 28),
        activation: Activation = "relu",
        norm: Norm = "none",
    ) -> None:
        super().__init__()
        self.latent_dim = _check_positive_int("latent_dim", latent_dim)
        self.hidden = _check_hidden("hidden", hidden)
        self.image_shape = _check_image_shape("image_shape", image_shape)
        _check_choice("activation", activation, ("relu", "leaky_relu"))
        _check_choice("norm", norm, ("none", "batch"))

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

    def forward(self, z: Tensor) -> Tensor:
        _check_input(type(self).__name__, z, (self.latent_dim,))
        return self.net(z)  # (B, C, H, W) logits


# --- convolutional -------------------------------------------------------------------------------


class ConvEncoder(nn.Module):
    """Two stride-2 convolutions (28 -> 14 -> 7 for digits), then a linear layer to ``out_dim``.

    Stride-2 convolutions rather than pooling let the network learn its own downsampling
    (Springenberg et al. 2015), as DCGAN's discriminator does.

    Args:
        out_dim: size of the output.
        in_channels: channels of the input images.
        base_channels: channels after the first convolution; the second has twice as many.
        image_size: height and width of the (square) input; must be divisible by 4.
        activation: ``"relu"`` or ``"leaky_relu"``.
        norm: ``"none"`` or ``"batch"`` (after the second convolution only: DCGAN leaves the
            discriminator's first layer unnormalised so it sees the raw pixel statistics).
    """

    def __init__(
        self,
        out_dim: int,
        *,
        in_channels: int = 1,
        base_channels: int = 32,
        image_size: int = 28,
        activation: Activation = "relu",
        norm: Norm = "none",
    ) -> None:
        super().__init__()
        self.out_dim = _check_positive_int("out_dim", out_dim)
        in_channels = _check_positive_int("in_channels", in_channels)
        self.base_channels = _check_positive_int("base_channels", base_channels)
        self.image_size = _check_positive_int("image_size", image_size)
        if image_size % 4 != 0:
            raise ValueError(
                f"image_size must be divisible by 4 (two stride-2 convolutions), got {image_size}"
            )
        _check_choice("activation", activation, ("relu", "leaky_relu"))
        _check_choice("norm", norm, ("none", "batch"))
        self.image_shape = (in_channels, image_size, image_size)

        c, s = self.base_channels, image_size // 4
        # kernel 4, stride 2, padding 1 halves the size exactly: (n + 2 - 4) // 2 + 1 = n / 2.
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, c, 4, stride=2, padding=1),  # (B, c, S/2, S/2)
            _activation(activation),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=norm == "none"),  # (B, 2c, S/4, S/4)
        ]
        if norm == "batch":
            layers.append(nn.BatchNorm2d(2 * c))
        layers += [
            _activation(activation),
            nn.Flatten(),  # (B, 2c * S/4 * S/4)
            nn.Linear(2 * c * s * s, self.out_dim),  # (B, out_dim)
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(type(self).__name__, x, self.image_shape)
        return self.net(x)  # (B, out_dim)


class ConvDecoder(nn.Module):
    """A linear layer to a 7x7 feature map, then two stride-2 transposed convolutions to 28x28.

    The mirror image of `ConvEncoder`; the output is pixel logits.

    Args:
        latent_dim: size of the latent code.
        out_channels: channels of the output images.
        base_channels: channels before the last transposed convolution; the 7x7 map has twice as
            many.
        image_size: height and width of the (square) output; must be divisible by 4.
        activation: ``"relu"`` or ``"leaky_relu"``.
        norm: ``"none"`` or ``"batch"`` (after every layer but the output, as in DCGAN's generator).
    """

    def __init__(
        self,
        latent_dim: int,
        *,
        out_channels: int = 1,
        base_channels: int = 32,
        image_size: int = 28,
        activation: Activation = "relu",
        norm: Norm = "none",
    ) -> None:
        super().__init__()
        self.latent_dim = _check_positive_int("latent_dim", latent_dim)
        out_channels = _check_positive_int("out_channels", out_channels)
        self.base_channels = _check_positive_int("base_channels", base_channels)
        self.image_size = _check_positive_int("image_size", image_size)
        if image_size % 4 != 0:
            raise ValueError(
                f"image_size must be divisible by 4 (two stride-2 transposed convolutions), "
                f"got {image_size}"
            )
        _check_choice("activation", activation, ("relu", "leaky_relu"))
        _check_choice("norm", norm, ("none", "batch"))
        self.image_shape = (out_channels, image_size, image_size)

        c, s = self.base_channels, image_size // 4
        batch = norm == "batch"
        layers: list[nn.Module] = [nn.Linear(self.latent_dim, 2 * c * s * s, bias=not batch)]
        if batch:
            layers.append(nn.BatchNorm1d(2 * c * s * s))
        layers += [
            _activation(activation),
            nn.Unflatten(1, (2 * c, s, s)),  # (B, 2c, S/4, S/4)
            # (B, 2c, S/4, S/4) -> (B, c, S/2, S/2)
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=not batch),
        ]
        if batch:
            layers.append(nn.BatchNorm2d(c))
        layers += [
            _activation(activation),
            nn.ConvTranspose2d(c, out_channels, 4, stride=2, padding=1),  # (B, C, S, S) logits
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        _check_input(type(self).__name__, z, (self.latent_dim,))
        return self.net(z)  # (B, C, S, S) logits


# --- vectors -------------------------------------------------------------------------------------

__all__ += ["MLP"]


class MLP(nn.Module):
    """Fully connected layers from vectors (B, in_dim) to vectors (B, out_dim).

    The generator and discriminator of the 2-D GAN lab: a generator ``MLP(latent_dim, 2)`` maps
    noise to points, a discriminator ``MLP(2, 1, activation="leaky_relu")`` maps points to one
    logit (``MLP(2 * packing, 1)`` for a packed one, see `gentut.models.gan`).

    Args:
        in_dim: size of the input vectors.
        out_dim: size of the output vectors.
        hidden: widths of the hidden layers, input side first.
        activation: ``"relu"`` or ``"leaky_relu"`` (slope 0.2) after each hidden layer.
        output_activation: None (default: raw outputs, e.g. logits), ``"sigmoid"`` or ``"tanh"``.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        hidden: Sequence[int] = (128, 128),
        activation: Activation = "relu",
        output_activation: Literal["sigmoid", "tanh"] | None = None,
    ) -> None:
        super().__init__()
        self.in_dim = _check_positive_int("in_dim", in_dim)
        self.out_dim = _check_positive_int("out_dim", out_dim)
        self.hidden = _check_hidden("hidden", hidden)
        _check_choice("activation", activation, ("relu", "leaky_relu"))
        if output_activation is not None:
            _check_choice("output_activation", output_activation, ("sigmoid", "tanh"))

        layers: list[nn.Module] = []
        width = self.in_dim
        for size in self.hidden:
            layers += [nn.Linear(width, size), _activation(activation)]
            width = size
        layers.append(nn.Linear(width, self.out_dim))  # (B, out_dim)
        if output_activation == "sigmoid":
            layers.append(nn.Sigmoid())
        elif output_activation == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(type(self).__name__, x, (self.in_dim,))
        return self.net(x)  # (B, out_dim)
