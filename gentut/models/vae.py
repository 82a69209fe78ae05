"""The variational autoencoder (VAE) objective: a latent-variable model trained on the ELBO.

The generative model draws a code from a standard normal prior and an image from a decoder,

    p(z) = N(0, I),    p(x | z) = Bernoulli(sigmoid(g(z)))  or  N(g(z), sigma^2 I),

and an encoder q(z | x) = N(mean(x), diag(exp(logvar(x)))) approximates the intractable posterior.
Training maximises the evidence lower bound (Kingma & Welling 2013; Rezende, Mohamed & Wierstra 2014)

    log p(x) >= ELBO(x) = E_{q(z|x)}[ log p(x | z) ] - KL( q(z | x) || p(z) ),

the first term estimated with one reparameterised sample z = mean + exp(logvar / 2) * eps,
eps ~ N(0, I), the KL in closed form (Kingma & Welling, Appendix B). The training loss is the
negative ELBO, in nats per image, with three well-known adjustments of the KL term, all off by
default:

* beta (Higgins et al. 2017, beta-VAE): weigh the KL by beta;
* KL warm-up (Bowman et al. 2016): the weight rises linearly from 0 to beta over the first
  ``kl_warmup_steps`` steps, so the decoder learns to use z before the KL pulls q to the prior;
* free bits (Kingma et al. 2016): each latent dimension's KL (averaged over the batch) counts as at
  least ``free_bits`` nats, so the loss stops pushing dimensions below that to the prior.

A conditional VAE (Sohn, Lee & Yan 2015) conditions both networks on a class label y: wrap
each in `gentut.models.networks.LabelConditioned`, which appends the label's one-hot vector to
the encoder's image as ``num_classes`` extra constant channels, (B, C, H, W) ->
(B, C + num_classes, H, W), and concatenates it to the code for the decoder, (B, latent_dim) ->
(B, latent_dim + num_classes). So build the encoder for C + num_classes input channels and the
decoder for codes of size latent_dim + num_classes.

The networks are passed in (`gentut.models.networks`); this file holds only the objective. The
decoder's own output activation gives the pixel means: ``"sigmoid"`` (the default) keeps them in
[0, 1] and is required for Bernoulli pixels (their probabilities are sigmoid(logits)); a Gaussian
decoder with ``output="identity"`` is a linear-Gaussian model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from gentut.data.loader import Batch
from gentut.step import Step
from gentut.validation import is_int, is_number
from gentut.losses import bernoulli_nll, gaussian_kl_standard_normal, gaussian_log_density
from gentut.models.networks import apply_output
from gentut.models.sampling import check_count, evaluation_mode, model_device, prior_noise

__all__ = ["VAEConfig", "VAE"]

# The encoder's log-variance is clamped to this range. exp(logvar) overflows float32 above ~88 and
# one bad early step can get there, turning the KL into inf and the run into NaN; below -30 the
# standard deviation (3e-7) is far under any scale that matters for images, while -logvar in the
# KL stays small. Outside the range the clamp passes no gradient, but a trained encoder lives
# well inside it.
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0

# A learned decoder standard deviation starts at 0.1, about the pixel error of a reasonable
# reconstruction of [0, 1] images. Starting at 1 would make the reconstruction term nearly flat
# (squared error divided by 2) next to the KL, which invites posterior collapse early on. It is
# clamped to [1e-3, 10]: on a memorised batch sigma -> 0 would send log p(x | z) to +infinity.
INITIAL_DECODER_STD = 0.1
LOG_STD_MIN, LOG_STD_MAX = math.log(1e-3), math.log(10.0)


@dataclass(frozen=True)
class VAEConfig:
    """What a VAE models and how its loss weighs the KL term.

    Attributes:
        latent_dim: size of the code z.
        likelihood: pixel model p(x | z). ``"bernoulli"`` (default) suits digits; ``"gaussian"``
            has one standard deviation shared by all pixels.
        decoder_std: gaussian only: a fixed pixel standard deviation, or None to learn it (one
            global log-std parameter, starting at 0.1; see ``INITIAL_DECODER_STD``).
        beta: weight of the KL term (Higgins et al. 2017); 1 gives the ELBO.
        kl_warmup_steps: training steps over which the KL weight rises linearly from 0 to beta
            (Bowman et al. 2016); 0 for no warm-up.
        free_bits: nats per latent dimension below which the (batch-averaged) KL is not
            penalised (Kingma et al. 2016); 0 for none. Training loss only.
        num_classes: number of labels for a conditional VAE (Sohn et al. 2015); 0 for an
            unconditional one.
    """

    latent_dim: int
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    decoder_std: float | None = None
    beta: float = 1.0
    kl_warmup_steps: int = 0
    free_bits: float = 0.0
    num_classes: int = 0

    def __post_init__(self) -> None:
        if not is_int(self.latent_dim) or self.latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int, got {self.latent_dim!r}")
        if self.likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(
                f"likelihood must be 'bernoulli' or 'gaussian', got {self.likelihood!r}"
            )
        if self.likelihood == "bernoulli":
            if self.decoder_std is not None:
                raise ValueError(
                    f"decoder_std is for likelihood='gaussian' only, got decoder_std="
                    f"{self.decoder_std!r} with likelihood='bernoulli' (Bernoulli pixels have no std)"
                )
        if self.decoder_std is not None and not (
            is_number(self.decoder_std) and self.decoder_std > 0
        ):
            raise ValueError(
                f"decoder_std must be a positive number or None (learned), got {self.decoder_std!r}"
            )
        if not (is_number(self.beta) and self.beta >= 0):
            raise ValueError(f"beta must be a non-negative number, got {self.beta!r}")
        if not is_int(self.kl_warmup_steps) or self.kl_warmup_steps < 0:
            raise ValueError(
                f"kl_warmup_steps must be a non-negative int (0: no warm-up), "
                f"got {self.kl_warmup_steps!r}"
            )
        if not (is_number(self.free_bits) and self.free_bits >= 0):
            raise ValueError(
                f"free_bits must be a non-negative number of nats per latent dimension, "
                f"got {self.free_bits!r}"
            )
        if not is_int(self.num_classes) or self.num_classes < 0:
            raise ValueError(
                f"num_classes must be a non-negative int (0: unconditional), got {self.num_classes!r}"
            )


def _at_least_float32(x: Tensor) -> Tensor:
    """Log-densities of hundreds of pixels lose too much in float16/bfloat16; keep float64."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


class VAE(nn.Module):
    """An encoder q(z | x) and a decoder p(x | z) trained on the ELBO.

    Args:
        encoder: maps images (B, C, H, W) to (B, 2 * latent_dim): the posterior means, then the
            log-variances. A `LabelConditioned` encoder (taking (x, y)) for a conditional VAE.
        decoder: maps codes (B, latent_dim) to images (B, C, H, W); its ``logits(z)`` are pixel
            logits (Bernoulli) or pre-activation means (Gaussian), and its ``output`` activation
            makes them means. A `LabelConditioned` decoder for a conditional VAE.
        config: latent size, likelihood and KL weighting.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *, config: VAEConfig) -> None:
        super().__init__()
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        latent_dim, num_classes = config.latent_dim, config.num_classes
        for name, network in (("encoder", encoder), ("decoder", decoder)):
            conditioned = getattr(network, "num_classes", 0)
            if conditioned != num_classes:
                raise ValueError(
                    f"the {name} is conditioned on {conditioned} classes but config.num_classes is "
                    f"{num_classes}; a conditional VAE wraps both networks in "
                    f"LabelConditioned(network, num_classes), an unconditional one neither"
                )
        # The book's networks record their sizes; catch a mismatch here, not deep in a matmul.
        out_dim = getattr(encoder, "out_dim", None)
        if out_dim is not None and out_dim != 2 * latent_dim:
            raise ValueError(
                f"the encoder outputs {out_dim} numbers but a VAE with latent_dim={latent_dim} "
                f"needs 2 * latent_dim = {2 * latent_dim} (a mean and a log-variance per dimension)"
            )
        decoder_in = getattr(decoder, "latent_dim", None)
        if decoder_in is not None and decoder_in != latent_dim:
            raise ValueError(
                f"the decoder expects codes of size {decoder_in} but this VAE gives it latent_dim = "
                f"{latent_dim}; build the decoder with that size"
            )
        encoder_shape = getattr(encoder, "image_shape", None)
        decoder_shape = getattr(decoder, "image_shape", None)
        if encoder_shape is not None and decoder_shape is not None and encoder_shape != decoder_shape:
            raise ValueError(
                f"the encoder takes images of shape {encoder_shape} but the decoder makes "
                f"{decoder_shape}; build both for the same images"
            )
        self.output = getattr(decoder, "output", "sigmoid")  # the decoder's output activation
        if config.likelihood == "bernoulli" and self.output != "sigmoid":
            raise ValueError(
                f"a Bernoulli VAE needs a decoder with output='sigmoid' (pixel probabilities are "
                f"sigmoid(logits)), got output={self.output!r}"
            )
        self.encoder = encoder
        self.decoder = decoder
        self.config = config
        if config.likelihood == "gaussian" and config.decoder_std is None:
            # One learned log-std for all pixels: the ELBO's own estimate of the pixel noise.
            self.decoder_log_std = nn.Parameter(torch.tensor(math.log(INITIAL_DECODER_STD)))
        else:
            self.decoder_log_std = None

    # --- the model -------------------------------------------------------------------------------

    def _condition(self, y: Tensor | None) -> tuple[Tensor, ...]:
        """The extra arguments of the networks: (y,) for a conditional VAE, () otherwise."""
        if self.config.num_classes == 0:
            if y is not None:
                raise ValueError(
                    "this VAE is unconditional (num_classes=0) but labels were given; build it "
                    "with VAEConfig(num_classes=...) and LabelConditioned networks to use them"
                )
            return ()
        if y is None:
            raise ValueError(
                f"this VAE is conditional (num_classes={self.config.num_classes}) and needs labels "
                f"y, one int per example, got None"
            )
        return (y,)

    def encode(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Posterior means and log-variances of images `x`: (B, C, H, W) -> 2 x (B, latent_dim)."""
        out = self.encoder(x, *self._condition(y))  # (B, 2 * latent_dim)
        expected = (len(x), 2 * self.config.latent_dim)
        if tuple(out.shape) != expected:
            raise ValueError(
                f"the encoder must return (B, 2 * latent_dim) = {expected}, got {tuple(out.shape)}"
            )
        mean, logvar = _at_least_float32(out).chunk(2, dim=1)  # (B, L) each
        return mean, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    def reparameterize(
        self, mean: Tensor, logvar: Tensor, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """A sample z ~ N(mean, diag(exp(logvar))), differentiable in mean and logvar.

        z = mean + exp(logvar / 2) * eps with eps ~ N(0, I) drawn apart from the parameters, so
        the randomness is an input and gradients flow through mean and std (Kingma & Welling
        2013, Section 2.4). exp(logvar / 2) is the standard deviation: exp(logvar) would be the
        variance.
        """
        if generator is None:
            eps = torch.randn_like(mean)
        else:  # draw on the generator's device, then move: a CPU generator works for a GPU model
            eps = torch.randn(mean.shape, generator=generator, device=generator.device,
                              dtype=mean.dtype).to(mean.device)
        return mean + torch.exp(0.5 * logvar) * eps

    def decoder_logits(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """The decoder's pre-activation output for codes `z`: (B, L) -> (B, C, H, W), at least
        float32 (log-densities of hundreds of pixels lose too much in half precision)."""
        decoder = self.decoder
        logits = decoder.logits if hasattr(decoder, "logits") else decoder
        return _at_least_float32(logits(z, *self._condition(y)))

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Pixel means of codes `z`: (B, latent_dim) -> (B, C, H, W), in [0, 1] for the default
        sigmoid output."""
        return apply_output(self.output, self.decoder_logits(z, y))

    def decoder_std(self) -> Tensor | None:
        """The Gaussian decoder's pixel standard deviation (a scalar tensor), None if Bernoulli."""
        if self.config.likelihood == "bernoulli":
            return None
        return self._decoder_log_std().exp()

    def _decoder_log_std(self) -> Tensor:
        if self.decoder_log_std is None:
            return torch.tensor(math.log(self.config.decoder_std))
        return self.decoder_log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def log_likelihood(self, x: Tensor, z: Tensor, y: Tensor | None = None) -> Tensor:
        """log p(x | z) per example, in nats summed over pixels: (B, C, H, W), (B, L) -> (B,)."""
        logits = self.decoder_logits(z, y)  # (B, C, H, W)
        x = _at_least_float32(x)
        if self.config.likelihood == "bernoulli":
            return -bernoulli_nll(logits, x, reduction="none")
        log_std = self._decoder_log_std().to(device=logits.device, dtype=logits.dtype)
        return gaussian_log_density(x, apply_output(self.output, logits), 2 * log_std, reduction="none")

    def kl_per_dimension(self, mean: Tensor, logvar: Tensor) -> Tensor:
        """KL(q(z_j | x) || N(0, 1)) of each latent dimension j, (B, L) -> (B, L)."""
        # Each dimension is a 1-d Gaussian of its own: view them as (B * L, 1) codes.
        kl = gaussian_kl_standard_normal(mean.reshape(-1, 1), logvar.reshape(-1, 1), reduction="none")
        return kl.view_as(mean)

    def elbo_terms(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Per-example terms of the ELBO, each (B,) in nats, from one sample z ~ q(z | x).

        Returns ``reconstruction`` = -log p(x | z), ``kl`` = KL(q(z | x) || p(z)) (closed form)
        and ``elbo`` = -(reconstruction + kl), an unbiased estimate of the ELBO.
        """
        mean, logvar = self.encode(x, y)  # (B, L) each
        z = self.reparameterize(mean, logvar, generator=generator)  # (B, L)
        reconstruction = -self.log_likelihood(x, z, y)  # (B,)
        kl = gaussian_kl_standard_normal(mean, logvar, reduction="none")  # (B,)
        return {"reconstruction": reconstruction, "kl": kl, "elbo": -(reconstruction + kl)}

    def kl_weight(self, step: int) -> float:
        """Weight of the KL term at training step `step` (steps finished before it)."""
        if not is_int(step) or step < 0:
            raise ValueError(f"step must be a non-negative int, got {step!r}")
        warmup = self.config.kl_warmup_steps
        if warmup == 0:
            return float(self.config.beta)
        # Linear warm-up (Bowman et al. 2016): 0 at step 0, beta from step `warmup` on.
        return float(self.config.beta) * min(1.0, step / warmup)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Reconstructions of `x` from the posterior means (no sampling): (B, C, H, W)."""
        mean, _ = self.encode(x, y)
        return self.decode(mean, y)

    def sample(
        self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Decoder means of `n` codes z ~ N(0, I): (n, C, H, W), under the contract of
        `gentut.models.sampling`; `labels` (n,) for a conditional VAE."""
        check_count(n)
        device = model_device(self)
        z = prior_noise(n, self.config.latent_dim, device=device, generator=generator)
        if labels is not None:
            labels = labels.to(device)
        with evaluation_mode(self):
            return self.decode(z, labels)

    # --- the training contract -------------------------------------------------------------------

    def _labels(self, batch: Batch) -> Tensor | None:
        # An unconditional VAE ignores labels in the data; a conditional one needs them.
        if self.config.num_classes == 0:
            return None
        if batch.y is None:
            raise ValueError(
                f"this VAE is conditional (num_classes={self.config.num_classes}) but the batch "
                "has no labels (batch.y is None); load the data with its labels"
            )
        return batch.y

    def training_step(self, batch: Batch, step: Step) -> dict[str, Tensor]:
        x, y = batch.x, self._labels(batch)  # (B, C, H, W) in [0, 1], (B,) or None
        with step.autocast():
            mean, logvar = self.encode(x, y)  # (B, L) each
            z = self.reparameterize(mean, logvar)  # (B, L)
            reconstruction = -self.log_likelihood(x, z, y)  # (B,)
            kl_per_dimension = self.kl_per_dimension(mean, logvar)  # (B, L)
            kl = kl_per_dimension.sum(dim=1)  # (B,)
            if self.config.free_bits > 0:
                # Free bits (Kingma et al. 2016): a dimension whose batch-averaged KL is below
                # free_bits nats costs free_bits and gets no gradient pulling it to the prior.
                kl_term = kl_per_dimension.mean(dim=0).clamp(min=self.config.free_bits).sum()
            else:
                kl_term = kl.mean()
            loss = reconstruction.mean() + self.kl_weight(step.global_step) * kl_term
        step.update(loss)
        # The ELBO is reported unweighted, so runs with different beta or warm-up compare.
        return {
            "loss": loss.detach(),
            "reconstruction": reconstruction.mean().detach(),
            "kl": kl.mean().detach(),
            "elbo": -(reconstruction + kl).mean().detach(),
        }

    @torch.no_grad()
    def evaluation_step(self, batch: Batch) -> dict[str, Tensor]:
        """Mean one-sample ELBO (nats, a negative number), reconstruction and KL of the batch."""
        terms = self.elbo_terms(batch.x, self._labels(batch))
        return {name: value.mean() for name, value in terms.items()}
