"""How well a VAE explains data: the ELBO and the importance-sampled log-likelihood, per image.

The ELBO is a lower bound on log p(x). Importance sampling with the encoder as proposal gives a
tighter one (Burda, Grosse & Salakhutdinov 2016, the IWAE bound):

    log p(x) >= L_k(x) = E[ log (1/k) sum_{i=1..k} p(x | z_i) p(z_i) / q(z_i | x) ],  z_i ~ q(z | x),

with L_1 = ELBO <= L_k <= L_{k+1} -> log p(x) as k grows. One draw of the inside is the estimate
reported here; with thousands of samples it is the standard estimate of a VAE's test
log-likelihood.

All numbers are in nats per image: log-likelihoods are negative, the negative log-likelihood
(NLL) is minus them. Results are CPU tensors of shape (N,).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gentut.batched import per_example
from gentut.losses import gaussian_log_density, standard_normal_log_density
from gentut.validation import positive_int

__all__ = ["elbo", "importance_sampled_log_likelihood"]


def _check_model(model: nn.Module) -> None:
    for method in ("encode", "reparameterize", "log_likelihood", "elbo_terms"):
        if not callable(getattr(model, method, None)):
            raise TypeError(
                f"model must be a VAE (with encode, reparameterize, log_likelihood, elbo_terms), "
                f"got {type(model).__name__} without {method}"
            )


def _check_labels(images: Tensor, labels: Tensor | None) -> None:
    if labels is None:
        return
    if not isinstance(labels, Tensor) or labels.shape != (len(images),):
        got = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(f"labels must be a tensor of shape ({len(images)},), got {got}")


class _LabelsInStep:
    """Hands out the labels of each batch `per_example` processes, which it does in order."""

    def __init__(self, labels: Tensor | None) -> None:
        self.labels, self.position = labels, 0

    def next(self, x: Tensor) -> Tensor | None:
        if self.labels is None:
            return None
        y = self.labels[self.position : self.position + len(x)].to(x.device)
        self.position += len(x)
        return y


def elbo(
    model: nn.Module,
    images: Tensor,
    labels: Tensor | None = None,
    *,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One-sample ELBO of each image (nats; a lower bound on log p(x)), shape (N,), on the CPU.

    Runs in eval mode without gradients (see `gentut.batched.per_example`). Deterministic given
    `generator`.
    """
    _check_model(model)
    _check_labels(images, labels)
    batch_labels = _LabelsInStep(labels)

    def batch_elbo(x: Tensor) -> Tensor:
        return model.elbo_terms(x, batch_labels.next(x), generator=generator)["elbo"]  # (B,)

    return per_example(model, images, batch_elbo, batch_size=batch_size)


def importance_sampled_log_likelihood(
    model: nn.Module,
    images: Tensor,
    labels: Tensor | None = None,
    *,
    samples: int = 1000,
    chunk: int = 100,
    batch_size: int = 32,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The IWAE estimate of log p(x) for each image, with `samples` importance samples: (N,).

        log p(x) ~ log (1/k) sum_i w_i,   log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x),

    z_i ~ q(z | x) (Burda et al. 2016). The sum over samples runs in chunks of `chunk` samples,
    keeping a running logsumexp, so the decoder sees at most batch_size * chunk codes at once:
    peak memory is about 4 bytes * batch_size * chunk * (C*H*W + the decoder's hidden widths)
    (32 * 100 digits: 32 * 100 * 784 * 4 B = 10 MB of outputs), whatever `samples` is.

    Deterministic given `generator`, `samples` and `batch_size`; `chunk` does not change the
    result (the noise is drawn one sample at a time). Eval mode, no gradients; CPU result in nats.
    """
    _check_model(model)
    _check_labels(images, labels)
    samples = positive_int("samples", samples)
    chunk = positive_int("chunk", chunk)
    batch_labels = _LabelsInStep(labels)

    def normal(shape: torch.Size, like: Tensor) -> Tensor:
        if generator is None:
            return torch.randn(shape, device=like.device, dtype=like.dtype)
        return torch.randn(shape, generator=generator, device=generator.device,
                           dtype=like.dtype).to(like.device)

    def batch_log_likelihood(x: Tensor) -> Tensor:
        y = batch_labels.next(x)
        mean, logvar = model.encode(x, y)  # (B, L) each
        batch, latent_dim = mean.shape
        std = torch.exp(0.5 * logvar)
        running = torch.full((batch,), -math.inf, device=mean.device, dtype=mean.dtype)  # (B,)
        for start in range(0, samples, chunk):
            size = min(chunk, samples - start)
            # (S, B, L): one draw per sample, so the stream of noise does not depend on `chunk`.
            eps = torch.stack([normal(mean.shape, mean) for _ in range(size)])
            z = (mean + std * eps).reshape(size * batch, latent_dim)  # (S*B, L)
            repeat = (size,) + (1,) * (x.ndim - 1)
            log_p_x_given_z = model.log_likelihood(
                x.repeat(repeat), z, None if y is None else y.repeat(size)
            )  # (S*B,)
            log_p_z = standard_normal_log_density(z, reduction="none")  # (S*B,)
            log_q_z = gaussian_log_density(
                z, mean.repeat(size, 1), logvar.repeat(size, 1), reduction="none"
            )  # (S*B,)
            log_weights = (log_p_x_given_z + log_p_z - log_q_z).view(size, batch)  # (S, B)
            running = torch.logaddexp(running, torch.logsumexp(log_weights, dim=0))
        return running - math.log(samples)  # (B,) log of the mean weight

    return per_example(model, images, batch_log_likelihood, batch_size=batch_size)
