"""VAE-GAN (Larsen, Sønderby, Larochelle & Winther 2016, "Autoencoding beyond pixels using a
learned similarity metric"): a VAE whose decoder is also a GAN's generator, and whose
reconstruction error is measured in the features of the GAN's discriminator instead of pixel by
pixel.

Three networks, and the encoder never judges:

* the encoder q(z | x) = N(mean(x), diag(exp(logvar(x)))), as in the VAE;
* the decoder Dec(z), which reconstructs x from z ~ q(z | x) and also generates from z ~ N(0, I);
* the discriminator Dis(x), the logit of "x is a real image"; its activations after hidden
  block l, Dis_l(x), are the space reconstructions are compared in.

With x~ = Dec(z), z ~ q(z | x), and x_p = Dec(z_p), z_p ~ N(0, I), the paper's three losses are
(Larsen et al. 2016, Section 2 and Algorithm 1)

    L_prior = KL( q(z | x) || N(0, I) )                               closed form, per image
    L_llike = -log N( Dis_l(x) | Dis_l(x~), I ) = 1/2 || Dis_l(x) - Dis_l(x~) ||^2 + const
    L_GAN   = -[ log Dis(x) + 1/2 log(1 - Dis(x~)) + 1/2 log(1 - Dis(x_p)) ]

and each network minimises its own combination:

    encoder:        L_prior + L_llike
    decoder:        gamma * L_llike + L_adv,   L_adv = -[ 1/2 log Dis(x~) + 1/2 log Dis(x_p) ]
    discriminator:  L_GAN

L_GAN is the discriminator's binary cross-entropy, the negative of the paper's L_GAN =
log Dis(x) + log(1 - Dis(Gen(z))). The paper's Algorithm 1 writes the decoder's update as
-grad(gamma L_llike - L_GAN) with that sign, which would make the decoder help the
discriminator; the authors' code reverses the discriminator's gradient for the decoder instead,
the minimax game. Here the decoder's adversarial term is the non-saturating one by default
(``adversarial="minimax"``: L_adv = -L_GAN restricted to the fakes, the authors' code).
Reconstructions and prior samples count half each, so real and fake images weigh the same in
L_GAN, as in the authors' code (``real_vs_gen_weight=0.5``).

The adversarial loss never reaches the encoder (the paper limits each error signal to the
networks it is meant for), and the discriminator never learns from L_llike (it would shrink its
features to make the distance small). All three losses come from ONE forward pass: the decoder
runs once on [z; z_p], the discriminator on x, x~ and x_p (as three batch-norm batches by
default, see ``VAEGANConfig.discriminator_batches``); `gentut.step` then takes each loss's
gradient with respect to its own network's parameters only, before any of them steps.

Balancing (the authors' code, ``equilibrium=0.68, margin=0.35``): with the discriminator's mean
costs on real images, -log Dis(x), and on fakes, -log(1 - Dis(.)), both near log 2 = 0.69 when it
cannot tell, skip the discriminator's update while either cost is below equilibrium - margin (it
is far ahead) and the decoder's while either is above equilibrium + margin (the decoder is far
ahead); if both would be skipped, update both. The encoder always learns.

The networks are passed in; `build_vaegan` makes the book's: a convolutional encoder and DCGAN's
generator and discriminator (`gentut.models.dcgan`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from gentut.data.loader import Batch
from gentut.distributed import all_mean
from gentut.losses import discriminator_loss, generator_loss_minimax, generator_loss_non_saturating
from gentut.models.dcgan import DCGAN_BETAS, DCGAN_LR, dcgan_discriminator, dcgan_generator, default_depth
from gentut.models.networks import ConvEncoder
from gentut.models.vae import VAE, VAEConfig
from gentut.step import Step
from gentut.validation import is_int, is_number

__all__ = ["VAEGANConfig", "VAEGAN", "build_vaegan", "vaegan_optimizers", "balance", "gaussian_elbo_best_std",
           "NETWORKS"]

NETWORKS = ("encoder", "decoder", "discriminator")  # the optimizers' names, in update order
ADVERSARIAL = ("non_saturating", "minimax")


@dataclass(frozen=True)
class VAEGANConfig(VAEConfig):
    """A VAE's settings (latent size, beta, KL warm-up, free bits) plus the GAN's and the feature
    loss's.

    Attributes:
        gamma: weight of the feature reconstruction error L_llike in the decoder's loss, against
            its adversarial term weighted 1 (Larsen et al. 2016, Algorithm 1). Large gamma: a VAE in
            the discriminator's features; small: a GAN whose decoder is steered by the encoder.
        feature_block: the discriminator's hidden block l whose activations Dis_l compare an image
            with its reconstruction (0 is the first; -1, the default, the last; the paper read the third
            of its discriminator's four convolutions).
        adversarial: the decoder's adversarial term, ``"non_saturating"`` (default) or
            ``"minimax"`` (the authors' code).
        equilibrium, margin: the balancing rule (`balance`); ``margin=None`` switches it off.
        discriminator_batches: ``"separate"`` (default): the discriminator sees real images,
            reconstructions and prior samples as three batches, each normalised by its own batch
            statistics, as DCGAN's discriminator sees real and fake batches. ``"joint"``: one
            batch of all three, as some public ports do (the chapter's sweep measures both).
        likelihood, decoder_std: the pixel model p(x | z) = N(Dec(z), decoder_std^2 I) used only
            to *report* a pixel ELBO (`VAE.elbo_terms`): VAE-GAN does not train on pixels, so
            the standard deviation is fixed, not learned.
    """

    likelihood: Literal["bernoulli", "gaussian"] = "gaussian"
    decoder_std: float | None = 0.1
    gamma: float = 1e-3
    feature_block: int = -1
    adversarial: Literal["non_saturating", "minimax"] = "non_saturating"
    equilibrium: float = 0.68
    margin: float | None = 0.35
    discriminator_batches: Literal["separate", "joint"] = "separate"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.likelihood != "gaussian" or self.decoder_std is None:
            raise ValueError(
                f"a VAE-GAN reports its pixel ELBO with a Gaussian of fixed standard deviation: "
                f"likelihood='gaussian' and a decoder_std number, got likelihood={self.likelihood!r}, "
                f"decoder_std={self.decoder_std!r} (it does not train on pixels, so nothing would learn them)"
            )
        if self.num_classes:
            raise ValueError(f"this VAE-GAN is unconditional: num_classes must be 0, got {self.num_classes!r}")
        if not (is_number(self.gamma) and self.gamma >= 0):
            raise ValueError(f"gamma must be a non-negative number (the feature loss's weight), got {self.gamma!r}")
        if not is_int(self.feature_block):
            raise ValueError(f"feature_block must be an int (a discriminator block; -1 the last), "
                             f"got {self.feature_block!r}")
        if self.adversarial not in ADVERSARIAL:
            raise ValueError(f"adversarial must be one of {ADVERSARIAL}, got {self.adversarial!r}")
        if not (is_number(self.equilibrium) and self.equilibrium > 0):
            raise ValueError(f"equilibrium must be a positive number of nats (0.68 ~ log 2), got {self.equilibrium!r}")
        if self.margin is not None and not (is_number(self.margin) and self.margin > 0):
            raise ValueError(f"margin must be a positive number of nats or None (no balancing), got {self.margin!r}")
        if self.discriminator_batches not in ("separate", "joint"):
            raise ValueError(f"discriminator_batches must be 'separate' or 'joint', got {self.discriminator_batches!r}")


def balance(real_cost: float, fake_cost: float, equilibrium: float, margin: float | None) -> tuple[bool, bool]:
    """Whether to update (decoder, discriminator) this step, from the discriminator's mean costs
    -log Dis(x) on real images and -log(1 - Dis(.)) on fakes (the authors' code):

    * a cost below ``equilibrium - margin``: the discriminator is far ahead, it skips its update;
    * a cost above ``equilibrium + margin``: the decoder is far ahead, it skips its update;
    * never both: if both would skip, both update. ``margin=None``: always both.
    """
    if margin is None:
        return True, True
    update_discriminator = not (real_cost < equilibrium - margin or fake_cost < equilibrium - margin)
    update_decoder = not (real_cost > equilibrium + margin or fake_cost > equilibrium + margin)
    if not (update_decoder or update_discriminator):
        return True, True
    return update_decoder, update_discriminator


class VAEGAN(VAE):
    """A VAE (encoder, decoder) and a discriminator whose features measure reconstruction.

    Args:
        encoder: images (B, C, H, W) -> (B, 2 * latent_dim), means then log-variances.
        decoder: codes (B, latent_dim) -> images (B, C, H, W) (the GAN's generator).
        discriminator: one of the book's encoders (`gentut.models.networks`) with ``out_dim=1``:
            images -> (B, 1) logits, with its hidden blocks listed in ``block_ends``.
        config: `VAEGANConfig`.

    Train with three optimizers named ``"encoder"``, ``"decoder"`` and ``"discriminator"``
    (`vaegan_optimizers`). Everything a VAE does (encode, decode, sample, reconstruct, the
    pixel ELBO) works unchanged.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, discriminator: nn.Module, *,
                 config: VAEGANConfig) -> None:
        if not isinstance(config, VAEGANConfig):
            raise TypeError(f"config must be a VAEGANConfig, got {type(config).__name__}")
        super().__init__(encoder, decoder, config=config)
        if not isinstance(discriminator, nn.Module):
            raise TypeError(f"discriminator must be an nn.Module, got {type(discriminator).__name__}")
        blocks = getattr(discriminator, "block_ends", None)
        if not isinstance(getattr(discriminator, "net", None), nn.Sequential) or not blocks:
            raise TypeError("the discriminator must be one of the book's encoders (a `net` Sequential with "
                            "`block_ends`), so that its hidden blocks can be read")
        if getattr(discriminator, "out_dim", None) != 1:
            raise ValueError(f"the discriminator must output one logit per image (out_dim=1), got "
                             f"out_dim={getattr(discriminator, 'out_dim', None)!r}")
        if not -len(blocks) <= config.feature_block < len(blocks):
            raise ValueError(f"feature_block {config.feature_block} does not exist: the discriminator has "
                             f"{len(blocks)} hidden blocks, so it must be in [-{len(blocks)}, {len(blocks)})")
        shape = getattr(discriminator, "image_shape", None)
        if shape is not None and getattr(decoder, "image_shape", shape) != shape:
            raise ValueError(f"the discriminator judges images of shape {shape} but the decoder makes "
                             f"{decoder.image_shape}; build both for the same images")
        self.discriminator = discriminator

    # --- the discriminator, read at two depths in one pass ----------------------------------------

    def judge(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Features Dis_l(x), flattened to (B, F), and logits (B,) of images `x`, in one pass."""
        net, end = self.discriminator.net, self.discriminator.block_ends[self.config.feature_block]
        hidden = net[:end](x)  # (B, C_l, H_l, W_l) for a convolutional discriminator
        logits = net[end:](hidden)  # (B, 1)
        return hidden.flatten(1).float(), logits[:, 0].float()

    def judge_all(self, real: Tensor, reconstruction: Tensor, generated: Tensor) -> tuple[Tensor, Tensor]:
        """`judge` of [x; x~; x_p]: (3B, F) features and (3B,) logits. With ``"separate"``
        batches each kind is its own batch-norm batch, as a DCGAN's real and fake batches are."""
        if self.config.discriminator_batches == "joint":
            return self.judge(torch.cat([real, reconstruction, generated]))
        parts = [self.judge(images) for images in (real, reconstruction, generated)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    # --- the three losses ---------------------------------------------------------------------------

    def losses(self, x: Tensor, step: int = 0, *, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """The three networks' losses from one forward pass, and the terms they are made of.

        Returns ``encoder``, ``decoder`` and ``discriminator`` (scalars, batch means, nats per
        image), and the detached terms ``kl``, ``feature_error`` (L_llike), ``adversarial``
        (L_adv), ``real_cost`` (mean -log Dis(x)) and ``fake_cost`` (mean -log(1 - Dis) over
        reconstructions and prior samples). `step` (steps finished) sets the KL's warm-up weight;
        `generator` draws eps and z_p, for reproducible tests.
        """
        if not isinstance(x, Tensor) or x.ndim != 4:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"VAEGAN.losses expects images (B, C, H, W), got {got}")
        b, latent_dim = len(x), self.config.latent_dim
        mean, logvar = self.encode(x)  # (B, L) each
        z = self.reparameterize(mean, logvar, generator=generator)  # (B, L), z ~ q(z | x)
        if generator is None:
            z_prior = torch.randn(b, latent_dim, device=x.device, dtype=z.dtype)
        else:
            z_prior = torch.randn(b, latent_dim, generator=generator, device=generator.device).to(z)
        decoded = self.decode(torch.cat([z, z_prior]))  # (2B, C, H, W): x~ then x_p, one decoder pass
        reconstruction, generated = decoded[:b], decoded[b:]
        features, logits = self.judge_all(x.to(decoded.dtype), reconstruction, generated)  # (3B, F), (3B,)
        real_features, reconstruction_features = features[:b], features[b:2 * b]  # (B, F) each
        real_logits, fake_logits = logits[:b], logits[b:]  # (B,), (2B,): x~ then x_p

        kl_per_dimension = self.kl_per_dimension(mean, logvar)  # (B, L)
        if self.config.free_bits > 0:  # as in the VAE: dimensions under free_bits nats cost free_bits
            kl_term = kl_per_dimension.mean(dim=0).clamp(min=self.config.free_bits).sum()
        else:
            kl_term = kl_per_dimension.sum(dim=1).mean()
        # L_llike: -log N(Dis_l(x) | Dis_l(x~), I) without its constant, summed over features
        feature_error = 0.5 * (real_features - reconstruction_features).pow(2).sum(dim=1).mean()
        # L_GAN: real images weigh 1, reconstructions and prior samples 1/2 each (a mean over 2B)
        gan = discriminator_loss(real_logits, fake_logits)
        if self.config.adversarial == "non_saturating":
            adversarial = generator_loss_non_saturating(fake_logits)  # -mean log Dis(fake)
        else:
            adversarial = generator_loss_minimax(fake_logits)  # mean log(1 - Dis(fake)), = -L_GAN + const
        with torch.no_grad():
            real_cost = torch.nn.functional.softplus(-real_logits).mean()  # -log Dis(x)
            fake_cost = torch.nn.functional.softplus(fake_logits).mean()  # -log(1 - Dis(fake))
        return {
            "encoder": self.kl_weight(step) * kl_term + feature_error,
            "decoder": self.config.gamma * feature_error + adversarial,
            "discriminator": gan,
            "kl": kl_per_dimension.sum(dim=1).mean().detach(),
            "feature_error": feature_error.detach(),
            "adversarial": adversarial.detach(),
            "real_cost": real_cost,
            "fake_cost": fake_cost,
        }

    # --- the training contract ----------------------------------------------------------------------

    def training_step(self, batch: Batch, step: Step) -> dict[str, Tensor]:
        """One forward pass, three losses, each network updated on its own (the encoder always;
        the decoder and the discriminator unless `balance` skips one)."""
        with step.autocast():
            terms = self.losses(batch.x, step.global_step)
        # The costs of the whole batch: under data-parallel training every process holds a share of
        # it, and all must make the same decision (in one process all_mean returns its argument).
        costs = torch.stack([terms["real_cost"].float(), terms["fake_cost"].float()])
        real_cost, fake_cost = all_mean(costs).tolist()
        update_decoder, update_discriminator = balance(real_cost, fake_cost, self.config.equilibrium, self.config.margin)
        updates = {"encoder": terms["encoder"]}
        if update_decoder:
            updates["decoder"] = terms["decoder"]
        if update_discriminator:
            updates["discriminator"] = terms["discriminator"]
        step.update(updates)  # every gradient first, each on its own network; then the steps
        logs = {name: terms[name].detach() for name in ("encoder", "decoder", "discriminator")}
        logs.update({name: terms[name] for name in ("kl", "feature_error", "adversarial", "real_cost", "fake_cost")})
        one = torch.ones((), device=batch.x.device)
        logs["decoder_updated"] = one * update_decoder  # the history's mean is the update rate
        logs["discriminator_updated"] = one * update_discriminator
        return logs

    @torch.no_grad()
    def evaluation_step(self, batch: Batch) -> dict[str, Tensor]:
        """The VAE's pixel terms (ELBO at ``decoder_std``, reconstruction, KL) and the pixel mean
        squared error of reconstructions from the posterior means."""
        logs = super().evaluation_step(batch)
        logs["pixel_mse"] = (self(batch.x) - batch.x).pow(2).mean()
        return logs


# --- the book's networks and optimizers --------------------------------------------------------------


def build_vaegan(
    latent_dim: int = 32,
    *,
    image_size: int = 28,
    channels: int = 1,
    width: int = 64,
    **config_options,
) -> VAEGAN:
    """A VAE-GAN for `image_size`-pixel images: a convolutional encoder shaped like DCGAN's
    discriminator (strided convolutions, batch norm, ReLU, as in Larsen et al.'s encoder) with
    2 * `latent_dim` outputs, DCGAN's generator as the decoder and DCGAN's discriminator, all of
    width `width` and DCGAN's N(0, 0.02) initialisation. Other keywords go to `VAEGANConfig`."""
    depth = default_depth(image_size)
    encoder = ConvEncoder(2 * latent_dim, in_channels=channels, base_channels=width, image_size=image_size,
                          depth=depth, activation="relu", norm="batch", init="dcgan")
    decoder = dcgan_generator(latent_dim, image_size=image_size, channels=channels, width=width)
    discriminator = dcgan_discriminator(image_size=image_size, channels=channels, width=width)
    config = VAEGANConfig(latent_dim=latent_dim, **config_options)
    return VAEGAN(encoder, decoder, discriminator, config=config)


def vaegan_optimizers(model: VAEGAN, *, lr: float = DCGAN_LR,
                      betas: tuple[float, float] = DCGAN_BETAS) -> dict[str, torch.optim.Optimizer]:
    """One Adam per network at DCGAN's settings (the paper used RMSProp at 3e-4), named as
    `VAEGAN.training_step` expects."""
    if not isinstance(model, VAEGAN):
        raise TypeError(f"model must be a gentut VAEGAN, got {type(model).__name__}")
    return {name: torch.optim.Adam(getattr(model, name).parameters(), lr=lr, betas=betas) for name in NETWORKS}


# --- what the feature loss costs in pixels -------------------------------------------------------------


@torch.no_grad()
def gaussian_elbo_best_std(model: VAE, x: Tensor, *, generator: torch.Generator | None = None) -> dict[str, float]:
    """The pixel ELBO of a VAE (or VAE-GAN) with the Gaussian p(x | z) = N(Dec(z), s^2 I) whose one
    standard deviation s maximises it, in nats per image, from one z ~ q(z | x) per image.

    With D pixels and SE(x) = ||x - Dec(z)||^2, the bound averaged over N images is

        ELBO(s) = -D/2 log(2 pi s^2) - mean SE / (2 s^2) - mean KL,

    maximised at s^2 = mean SE / D, where it equals -D/2 (log(2 pi s^2) + 1) - mean KL. Fitting
    s after training gives a model trained on another loss (VAE-GAN's features) its best pixel
    bound, so the comparison with a VAE is not decided by a badly chosen s. Returns ``elbo``,
    ``std``, ``kl`` and ``squared_error`` (mean per image).
    """
    model_was_training = model.training
    model.eval()
    try:
        mean, logvar = model.encode(x)
        z = model.reparameterize(mean, logvar, generator=generator)
        squared_error = (x - model.decode(z)).pow(2).flatten(1).sum(dim=1).mean().item()
        kl = model.kl_per_dimension(mean, logvar).sum(dim=1).mean().item()
    finally:
        model.train(model_was_training)
    pixels = x[0].numel()
    variance = squared_error / pixels
    elbo = -pixels / 2 * (math.log(2 * math.pi * variance) + 1) - kl
    return {"elbo": elbo, "std": math.sqrt(variance), "kl": kl, "squared_error": squared_error}
