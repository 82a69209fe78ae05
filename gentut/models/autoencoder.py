"""The autoencoder objective: reconstruct the input through a bottleneck.

An encoder f maps an image x to a code z = f(x); a decoder g maps it back to pixel logits, and
training minimises the negative log-likelihood of x under the decoder's output,

    L(x) = -log p(x | g(f(x)))

(Rumelhart, Hinton & Williams 1986; Hinton & Salakhutdinov 2006). Under Bernoulli pixels this is
binary cross-entropy summed over pixels; under Gaussian pixels it is squared error plus a
constant (see `gentut.losses`).

A denoising autoencoder (Vincent et al. 2008) corrupts the input but keeps the clean target,

    L(x) = -log p(x | g(f(x~))),   x~ ~ q(x~ | x),

so the network cannot copy its input and must learn which images are plausible.

The networks are passed in (`gentut.models.networks`); this file holds only the objective.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from gentut.data.loader import Batch
from gentut.step import Step
from gentut.losses import bernoulli_nll, gaussian_nll
from gentut.models.networks import apply_output
from gentut.batched import per_example
from gentut.validation import is_number

__all__ = ["AutoencoderConfig", "Autoencoder", "anomaly_scores"]


@dataclass(frozen=True)
class AutoencoderConfig:
    """How an autoencoder scores reconstructions and corrupts its inputs.

    Attributes:
        likelihood: pixel model of the decoder. ``"bernoulli"`` (default) suits digits, whose
            pixels are mostly near 0 or 1; ``"gaussian"`` (unit variance) is squared error.
        corruption: ``"none"`` for a plain autoencoder; ``"gaussian"`` adds N(0, noise_level^2)
            noise and clips to [0, 1]; ``"masking"`` zeroes a random fraction ``noise_level`` of
            the pixels (Vincent et al. 2008).
        noise_level: standard deviation (gaussian) or fraction of pixels zeroed (masking); must be
            0 exactly when there is no corruption, so a forgotten setting cannot pass silently.
    """

    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    corruption: Literal["none", "gaussian", "masking"] = "none"
    noise_level: float = 0.0

    def __post_init__(self) -> None:
        if self.likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(
                f"likelihood must be 'bernoulli' or 'gaussian', got {self.likelihood!r}"
            )
        if self.corruption not in ("none", "gaussian", "masking"):
            raise ValueError(
                f"corruption must be 'none', 'gaussian' or 'masking', got {self.corruption!r}"
            )
        level = self.noise_level
        if not is_number(level):
            raise ValueError(f"noise_level must be a finite number, got {level!r}")
        if self.corruption == "none" and level != 0:
            raise ValueError(
                f"noise_level must be 0 when corruption='none', got {level!r} "
                "(did you mean corruption='gaussian' or 'masking'?)"
            )
        if self.corruption == "gaussian" and not level > 0:
            raise ValueError(
                f"noise_level (the noise's standard deviation) must be > 0 for "
                f"corruption='gaussian', got {level!r}"
            )
        if self.corruption == "masking" and not 0 < level < 1:
            raise ValueError(
                f"noise_level (the fraction of pixels zeroed) must be in (0, 1) for "
                f"corruption='masking', got {level!r}"
            )


class Autoencoder(nn.Module):
    """An encoder and a decoder trained to reconstruct their input.

    Args:
        encoder: maps images (B, C, H, W) to codes (B, latent_dim).
        decoder: maps codes (B, latent_dim) to images (B, C, H, W) in [0, 1]: its ``logits(z)``
            are pixel logits and its ``output`` activation must be ``"sigmoid"`` (the default of
            the book's decoders).
        config: likelihood and corruption; default a plain Bernoulli autoencoder.
    """

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, *, config: AutoencoderConfig | None = None
    ) -> None:
        super().__init__()
        if config is None:
            config = AutoencoderConfig()
        if not isinstance(config, AutoencoderConfig):
            raise TypeError(f"config must be an AutoencoderConfig, got {type(config).__name__}")
        # The book's networks record their sizes; catch a mismatch here, not deep in a matmul.
        out_dim = getattr(encoder, "out_dim", None)
        latent_dim = getattr(decoder, "latent_dim", None)
        if out_dim is not None and latent_dim is not None and out_dim != latent_dim:
            raise ValueError(
                f"the encoder outputs {out_dim} numbers but the decoder expects codes of size "
                f"{latent_dim}; build both with the same latent_dim"
            )
        output = getattr(decoder, "output", "sigmoid")
        if output != "sigmoid":
            raise ValueError(
                f"an autoencoder of images in [0, 1] needs a decoder with output='sigmoid' (pixel "
                f"means are sigmoid(logits)), got output={output!r}"
            )
        self.encoder = encoder
        self.decoder = decoder
        self.config = config

    def decoder_logits(self, z: Tensor) -> Tensor:
        """Pixel logits of codes `z`: (B, latent_dim) -> (B, C, H, W)."""
        return self.decoder.logits(z) if hasattr(self.decoder, "logits") else self.decoder(z)

    def encode(self, x: Tensor) -> Tensor:
        """Codes of images `x`: (B, C, H, W) -> (B, latent_dim)."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Pixel means in [0, 1] of codes `z`: (B, latent_dim) -> (B, C, H, W)."""
        return apply_output("sigmoid", self.decoder_logits(z))

    def forward(self, x: Tensor) -> Tensor:
        """Reconstructions in [0, 1] of images `x` (no corruption, even for a denoising model)."""
        return self.decode(self.encode(x))

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Return a corrupted copy of `x` (values in [0, 1]); `x` itself is never modified."""
        level = self.config.noise_level
        if self.config.corruption == "gaussian":
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            # Clip so the corrupted image is still a valid image for the encoder.
            return (x + level * noise).clamp(0.0, 1.0)
        if self.config.corruption == "masking":
            # One independent mask per pixel of every example: (B, C, H, W).
            keep = torch.rand(x.shape, generator=generator, device=x.device) >= level
            return x * keep
        return x

    def reconstruction_loss(self, x: Tensor, inputs: Tensor | None = None) -> Tensor:
        """Per-example negative log-likelihood of clean `x` (nats), shape (B,).

        The reconstruction is made from `inputs` (a corrupted `x` when training a denoising
        autoencoder); by default from `x` itself.
        """
        logits = self.decoder_logits(self.encoder(x if inputs is None else inputs))  # (B, C, H, W)
        if self.config.likelihood == "bernoulli":
            return bernoulli_nll(logits, x, reduction="none")
        return gaussian_nll(torch.sigmoid(logits), x, sigma=1.0, reduction="none")

    def training_step(self, batch: Batch, step: Step) -> dict[str, Tensor]:
        x = batch.x  # (B, C, H, W) in [0, 1]
        with step.autocast():
            # Corrupted input, clean target: for corruption="none" `corrupt` returns x.
            loss = self.reconstruction_loss(x, inputs=self.corrupt(x)).mean()
        step.update(loss)
        return {"loss": loss.detach()}

    @torch.no_grad()
    def evaluation_step(self, batch: Batch) -> dict[str, Tensor]:
        x = batch.x
        # Evaluate on clean inputs: that is what the model is for after training.
        loss = self.reconstruction_loss(x).mean()
        mse = ((self(x) - x) ** 2).mean()  # per pixel, comparable across likelihoods
        return {"loss": loss, "mse": mse}


@torch.no_grad()
def anomaly_scores(model: Autoencoder, x: Tensor, *, batch_size: int = 256) -> Tensor:
    """Per-example reconstruction error (the model's negative log-likelihood, nats), shape (N,).

    Images unlike the training data reconstruct badly, so a high score flags an anomaly. Runs in
    eval mode (restored afterwards) in batches on the model's device; returns a CPU tensor.
    """
    if not hasattr(model, "reconstruction_loss"):
        raise TypeError(
            f"model must have a reconstruction_loss method, got {type(model).__name__}"
        )
    return per_example(model, x, model.reconstruction_loss, batch_size=batch_size)
