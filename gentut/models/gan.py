"""Generative adversarial networks: the GAN objective, WGAN-GP, packing and spectral norm.

A generator G maps noise z ~ N(0, I) to samples; a discriminator D maps a sample to the logit of
"this is real". Goodfellow et al. (2014) train them on the two-player minimax game

    min_G max_D V(D, G) = E_{x ~ p_data}[ log D(x) ] + E_{z ~ p(z)}[ log(1 - D(G(z))) ].

For a fixed G the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_model(x))
(`optimal_discriminator`), and then V(D*, G) = -log 4 + 2 JSD(p_data || p_model)
(`jensen_shannon`): the game minimises a Jensen-Shannon divergence, with its minimum -log 4 at
p_model = p_data. Training alternates a gradient step on D and one on G. Four objectives
are available (`GANConfig.loss`):

* ``"minimax"``: G minimises E log(1 - D(G(z))), the game as written. It saturates: when D
  rejects the fakes confidently, the gradient vanishes.
* ``"non_saturating"`` (default): G minimises -E log D(G(z)) (Goodfellow et al. 2014, Section 3),
  same fixed point, strong gradients early on.
* ``"hinge"``: the hinge loss (Lim & Ye 2017; Miyato et al. 2018): D minimises
  E max(0, 1 - D(x)) + E max(0, 1 + D(G(z))) on unbounded scores, G minimises -E D(G(z)).
  The loss used with spectral normalisation in SN-GAN and most large GANs since.
* ``"wasserstein_gp"``: WGAN-GP (Gulrajani et al. 2017). D becomes a critic with unbounded scores
  trained on E C(G(z)) - E C(x) + lambda * gradient penalty, an estimate of the Wasserstein-1
  distance (Arjovsky, Chintala & Bottou 2017); G minimises -E C(G(z)). The paper uses lambda =
  10, five critic steps per generator step and Adam(lr=1e-4, betas=(0.0, 0.9)).

Packing (PacGAN, Lin et al. 2018): with ``packing = m`` the discriminator judges m samples at
once, all real or all fake, concatenated along the feature axis. A generator that has collapsed
onto a few modes produces packs with tell-tale repeats, which a packed discriminator sees and
punishes. See `GAN.discriminate` for the reshape.

Spectral normalisation (Miyato et al. 2018, `with_spectral_norm`) divides every weight matrix
of D by its largest singular value, making D 1-Lipschitz layer by layer; it is a change of the
network, so it lives beside the objective rather than in it.

The networks are passed in (`gentut.models.networks`); this file holds the objective.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from gentut.data.loader import Batch
from gentut.losses import (
    discriminator_loss,
    generator_loss_minimax,
    generator_loss_non_saturating,
    gradient_penalty,
    hinge_discriminator_loss,
    hinge_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from gentut.models.networks import LabelConditioned, with_spectral_norm
from gentut.models.sampling import check_count, evaluation_mode, model_device, prior_noise
from gentut.step import Step
from gentut.validation import is_int, is_number


__all__ = ["GANConfig", "GAN", "with_spectral_norm", "optimal_discriminator", "jensen_shannon"]
# with_spectral_norm lives with the networks (a change of the network, not of the objective);
# it is named here too because the GAN chapter introduces it.

Loss = Literal["minimax", "non_saturating", "hinge", "wasserstein_gp"]
LOSSES = ("minimax", "non_saturating", "hinge", "wasserstein_gp")


@dataclass(frozen=True)
class GANConfig:
    """What a GAN's two players optimise and how often each moves.

    Attributes:
        latent_dim: size of the noise z fed to the generator.
        loss: ``"minimax"``, ``"non_saturating"`` (default), ``"hinge"`` or ``"wasserstein_gp"``.
        gradient_penalty: lambda, the weight of WGAN-GP's gradient penalty (10 in Gulrajani et
            al. 2017). Used only with ``loss="wasserstein_gp"``.
        discriminator_steps: discriminator (critic) updates per generator update; 1 for the
            original GAN, 5 for WGAN-GP. Each one sees the same real batch (see `GAN.training_step`).
        packing: PacGAN's m (Lin et al. 2018): the discriminator judges `packing` samples at
            once, so it must be built for ``packing *`` the features (or channels) of one sample;
            batch sizes must be divisible by it. 1: no packing.
        num_classes: K for a conditional GAN (Mirza & Osindero 2014), whose generator draws the
            class it is given and whose discriminator judges an image together with its label:
            both networks are wrapped in `gentut.models.networks.LabelConditioned`. 0 (default):
            unconditional.
    """

    latent_dim: int
    loss: Loss = "non_saturating"
    gradient_penalty: float = 10.0
    discriminator_steps: int = 1
    packing: int = 1
    num_classes: int = 0

    def __post_init__(self) -> None:
        if not is_int(self.latent_dim) or self.latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int, got {self.latent_dim!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if not (is_number(self.gradient_penalty) and self.gradient_penalty >= 0):
            raise ValueError(
                f"gradient_penalty must be a non-negative number (lambda; 10 in Gulrajani et "
                f"al. 2017), got {self.gradient_penalty!r}"
            )
        if not is_int(self.discriminator_steps) or self.discriminator_steps < 1:
            raise ValueError(
                f"discriminator_steps must be a positive int (discriminator updates per "
                f"generator update), got {self.discriminator_steps!r}"
            )
        if not is_int(self.packing) or self.packing < 1:
            raise ValueError(
                f"packing must be a positive int (samples per discriminator input; 1: no "
                f"packing), got {self.packing!r}"
            )
        if not is_int(self.num_classes) or self.num_classes < 0:
            raise ValueError(
                f"num_classes must be a non-negative int (0: unconditional), got {self.num_classes!r}"
            )
        if self.num_classes and self.packing > 1:
            raise ValueError("a conditional GAN (num_classes > 0) cannot pack samples (packing > 1): "
                             "a pack would mix labels")


class GAN(nn.Module):
    """A generator and a discriminator trained against each other.

    Args:
        generator: maps noise (B, latent_dim) to samples (B, ...) (images or 2-D points) in the
            data's range: its own output activation (``output="sigmoid"`` on the book's
            decoders) puts images in [0, 1].
        discriminator: maps packed samples (B / packing, packing * F) or
            (B / packing, packing * C, H, W) to logits (or critic scores) (B / packing, 1) or
            (B / packing,). With packing 1 that is simply (B, ...) -> (B, 1).
        config: latent size, loss, discriminator steps, packing, output.

    Train with two optimizers named ``"discriminator"`` and ``"generator"``::

        Trainer(gan, {"discriminator": Adam(gan.discriminator.parameters(), ...),
                      "generator": Adam(gan.generator.parameters(), ...)})
    """

    def __init__(
        self, generator: nn.Module, discriminator: nn.Module, *, config: GANConfig
    ) -> None:
        super().__init__()
        if not isinstance(config, GANConfig):
            raise TypeError(f"config must be a GANConfig, got {type(config).__name__}")
        for name, network in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(network, nn.Module):
                raise TypeError(f"{name} must be an nn.Module, got {type(network).__name__}")
        # The book's networks record their sizes; catch a mismatch here, not deep in a matmul.
        generator_in = getattr(generator, "latent_dim", getattr(generator, "in_dim", None))
        if generator_in is not None and generator_in != config.latent_dim:
            raise ValueError(
                f"the generator takes noise of size {generator_in} but config.latent_dim is "
                f"{config.latent_dim}; build them with the same size"
            )
        out_dim = getattr(discriminator, "out_dim", None)
        if out_dim is not None and out_dim != 1:
            raise ValueError(
                f"the discriminator must output one logit (or score) per input, out_dim=1, "
                f"got out_dim={out_dim}"
            )
        k = config.num_classes
        for name, network in (("generator", generator), ("discriminator", discriminator)):
            network_k = getattr(network, "num_classes", 0) if isinstance(network, LabelConditioned) else 0
            if network_k != k:
                raise ValueError(
                    f"config.num_classes is {k} but the {name} is "
                    + (f"conditioned on {network_k} classes" if network_k else "not label-conditioned")
                    + "; a conditional GAN wraps both networks in LabelConditioned(network, num_classes), "
                    "an unconditional one neither"
                )
        self.generator = generator
        self.discriminator = discriminator
        self.config = config

    # --- the two players -------------------------------------------------------------------------

    def _condition(self, y: Tensor | None) -> tuple[Tensor, ...]:
        """The networks' extra arguments: (y,) for a conditional GAN, () otherwise."""
        if self.config.num_classes == 0:
            if y is not None:
                raise ValueError("this GAN is unconditional (num_classes=0), but labels were given")
            return ()
        if y is None:
            raise ValueError(f"this GAN is conditional (num_classes={self.config.num_classes}) and needs "
                             "labels y, one int per sample, got None")
        return (y,)

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Samples G(z) (G(z, y) for a conditional GAN) for noise `z` (B, latent_dim), with
        gradients (for training)."""
        if not isinstance(z, Tensor) or z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            got = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise ValueError(f"z must have shape (B, {self.config.latent_dim}), got {got}")
        return self.generator(z, *self._condition(y))  # (B, ...)

    def sample(
        self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """`n` samples G(z), z ~ N(0, I), under the contract of `gentut.models.sampling`;
        `labels` (n,) choose the classes of a conditional GAN."""
        check_count(n)
        device = model_device(self)
        z = prior_noise(n, self.config.latent_dim, device=device, generator=generator)
        if labels is not None:
            labels = labels.to(device)
        with evaluation_mode(self):  # batch norm uses its running statistics, spectral norm is frozen
            return self.generate(z, labels)

    def _pack(self, x: Tensor) -> Tensor:
        """(B, F) -> (B/m, m*F), or (B, C, H, W) -> (B/m, m*C, H, W), for packing m."""
        m = self.config.packing
        if len(x) % m != 0:
            raise ValueError(
                f"packing={m} needs a batch size divisible by {m}, got a batch of {len(x)}; "
                f"choose a batch size that is a multiple of {m}"
            )
        if m == 1:
            return x
        # Consecutive samples form one pack: rows [0, m) are the first pack, and so on. The
        # reshape concatenates their features (channels for images) side by side.
        return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])

    def discriminate(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Discriminator logits (or critic scores) of samples `x` (B, ...): shape (B / packing,).
        A conditional GAN's discriminator judges each sample with its label `y` (B,).

        With ``packing = m`` the batch is cut into B / m packs of m consecutive samples and each
        pack is judged as one input: the samples are concatenated along the feature axis,
        (B, F) -> (B/m, m*F) for vectors and (B, C, H, W) -> (B/m, m*C, H, W) for images (the
        channel axis, as in Lin et al. 2018). So a pack must be all real or all fake.
        """
        if not isinstance(x, Tensor) or x.ndim < 2:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"discriminate expects a batch (B, ...) of samples, got {got}")
        packed = self._pack(x)  # (B/m, m*F) or (B/m, m*C, H, W)
        logits = self.discriminator(packed, *self._condition(y))
        if logits.ndim == 2 and logits.shape[1] == 1:
            logits = logits[:, 0]
        if tuple(logits.shape) != (len(packed),):
            raise ValueError(
                f"the discriminator must return one logit per (packed) input, shape "
                f"({len(packed)}, 1) or ({len(packed)},), got {tuple(logits.shape)}"
            )
        # Losses in float32 even under mixed precision: softplus of bf16 logits is coarse.
        return logits.float()  # (B/m,)

    # --- the objective ---------------------------------------------------------------------------

    def _discriminator_terms(
        self, real: Tensor, fake: Tensor, y: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """The discriminator's loss, its logits of real and fake, and the gradient penalty."""
        real_logits, fake_logits = self.discriminate(real, y), self.discriminate(fake, y)  # (B/m,) each
        if self.config.loss == "hinge":
            return hinge_discriminator_loss(real_logits, fake_logits), real_logits, fake_logits, None
        if self.config.loss != "wasserstein_gp":
            return discriminator_loss(real_logits, fake_logits), real_logits, fake_logits, None
        loss = wasserstein_critic_loss(real_logits, fake_logits)
        penalty = None
        if self.config.gradient_penalty > 0:
            penalty = gradient_penalty(lambda x: self.discriminate(x, y), real, fake)
            loss = loss + self.config.gradient_penalty * penalty
        return loss, real_logits, fake_logits, penalty

    def discriminator_loss(self, real: Tensor, fake: Tensor, y: Tensor | None = None) -> Tensor:
        """The discriminator's (critic's) loss on a real and a fake batch, per ``config.loss``:
        -[E log D(x) + E log(1 - D(G(z)))]; for hinge E max(0, 1 - D(x)) + E max(0, 1 + D(G(z)));
        for WGAN-GP E C(G(z)) - E C(x) + lambda * penalty. `y`: both batches' labels, for a
        conditional GAN."""
        return self._discriminator_terms(real, fake, y)[0]

    def generator_loss(self, fake: Tensor, y: Tensor | None = None) -> Tensor:
        """The generator's loss on a fake batch (with gradients through D into G), per ``config.loss``."""
        fake_logits = self.discriminate(fake, y)
        if self.config.loss == "minimax":
            return generator_loss_minimax(fake_logits)
        if self.config.loss == "non_saturating":
            return generator_loss_non_saturating(fake_logits)
        if self.config.loss == "hinge":
            return hinge_generator_loss(fake_logits)
        return wasserstein_generator_loss(fake_logits)

    def _noise(self, n: int, device: torch.device) -> Tensor:
        return torch.randn(n, self.config.latent_dim, device=device)  # (B, latent_dim)

    def training_step(self, batch: Batch, step: Step) -> dict[str, Tensor]:
        """``discriminator_steps`` updates of D, then one update of G (Goodfellow et al. 2014,
        Algorithm 1; Gulrajani et al. 2017, Algorithm 1).

        Every discriminator update sees the same real batch with fresh fakes. Gulrajani et al.
        draw a fresh real batch for each critic update; with one batch per trainer step,
        reusing it keeps the batch size (and so the gradient noise) of every update the same,
        and a run still sees all of the data, just `discriminator_steps` times per generator
        step. The generator's update reuses the last fakes, judged by the updated D.

        A conditional GAN draws its fakes for the real batch's labels, so the classes come in
        the data's proportions, and D judges every image, real or fake, with its label.
        """
        real = batch.x  # (B, ...)
        config = self.config
        y = None
        if config.num_classes:
            if batch.y is None:
                raise ValueError(f"this GAN is conditional (num_classes={config.num_classes}) but the batch "
                                 "has no labels (batch.y is None); load the data with its labels")
            y = batch.y  # (B,)
        self._pack(real)  # reject a batch size packing cannot divide before any update
        logs: dict[str, Any] = {}
        for _ in range(config.discriminator_steps):
            with step.autocast():
                fake = self.generate(self._noise(len(real), real.device), y)  # (B, ...), graph into G
                # detach(): D's loss must not reach G; the graph of `fake` stays for G's update.
                d_loss, real_logits, fake_logits, penalty = self._discriminator_terms(real, fake.detach(), y)
            if penalty is not None:
                logs["gradient_penalty"] = penalty.detach()
            step.update(d_loss, "discriminator")  # D learns here
        if config.loss in ("wasserstein_gp", "hinge"):  # unbounded scores are reported as they are
            d_real, d_fake = real_logits.detach().mean(), fake_logits.detach().mean()
        else:  # mean D(x): the probability the discriminator gives "real"
            d_real = torch.sigmoid(real_logits.detach()).mean()
            d_fake = torch.sigmoid(fake_logits.detach()).mean()

        with step.autocast():
            # The same fakes, not detached, through the updated D: G's gradient flows back
            # through D. The step differentiates g_loss with respect to G's parameters only.
            g_loss = self.generator_loss(fake, y)
        step.update(g_loss, "generator")  # G learns here
        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "d_real": d_real,
            "d_fake": d_fake,
            **logs,
        }


# --- the theory, on discrete distributions -------------------------------------------------------


def optimal_discriminator(p_data: Tensor, p_model: Tensor) -> Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_model(x)), the best discriminator for a fixed
    generator (Goodfellow et al. 2014, Proposition 1). Densities or probabilities, elementwise;
    NaN where both are zero (D* is undefined off both supports)."""
    p_data, p_model = torch.as_tensor(p_data), torch.as_tensor(p_model)
    if p_data.shape != p_model.shape:
        raise ValueError(
            f"p_data and p_model must have the same shape, got {tuple(p_data.shape)} and "
            f"{tuple(p_model.shape)}"
        )
    return p_data / (p_data + p_model)


def _check_distribution(name: str, p: Tensor) -> Tensor:
    p = torch.as_tensor(p, dtype=torch.float64)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError(f"{name} must be a 1-D vector of probabilities, got shape {tuple(p.shape)}")
    if (p < 0).any() or not math.isclose(p.sum().item(), 1.0, abs_tol=1e-6):
        raise ValueError(
            f"{name} must be non-negative and sum to 1, got minimum {p.min().item():.3g} and "
            f"sum {p.sum().item():.6g}"
        )
    return p


def jensen_shannon(p: Tensor, q: Tensor) -> Tensor:
    """Jensen-Shannon divergence of two discrete distributions, in nats (float64 scalar).

        JSD(p || q) = KL(p || m) / 2 + KL(q || m) / 2,   m = (p + q) / 2,

    with 0 log 0 = 0. It lies in [0, log 2]; Goodfellow et al. (2014, Theorem 1) show that
    V(D*, G) = -log 4 + 2 JSD(p_data || p_model).
    """
    p, q = _check_distribution("p", p), _check_distribution("q", q)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {len(p)} and {len(q)}")
    m = (p + q) / 2

    def kl_to_m(a: Tensor) -> Tensor:
        # terms with a = 0 contribute 0; where a > 0, m >= a / 2 > 0, so the log is finite
        return torch.where(a > 0, a * torch.log(a / m.clamp_min(1e-300)), torch.zeros_like(a)).sum()

    return 0.5 * kl_to_m(p) + 0.5 * kl_to_m(q)
