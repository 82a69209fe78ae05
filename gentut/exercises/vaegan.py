"""Checkers for the exercises of the VAE-GAN chapter: the three losses routed to their networks, and
the balancing rule that skips a player's update."""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gentut.exercises.checks import _as_tensor, _call, _close, _fail, _passed
from gentut.models.vaegan import NETWORKS, balance, build_vaegan

__all__ = ["check_vaegan_losses", "check_balance"]

GAMMA = 0.05  # large enough that leaving gamma out changes the decoder's gradient visibly


def _reference(kl: Tensor, feature_error: Tensor, real_logits: Tensor, fake_logits: Tensor,
               gamma: float) -> dict[str, Tensor]:
    return {
        "encoder": kl + feature_error,
        "decoder": gamma * feature_error + F.softplus(-fake_logits).mean(),
        "discriminator": F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean(),
    }


def _mistakes(kl: Tensor, feature_error: Tensor, real_logits: Tensor, fake_logits: Tensor,
              gamma: float) -> dict[str, list[tuple[Tensor, str]]]:
    """Per network: losses that typical mistakes give, with the explanation to print."""
    b = len(real_logits)
    adversarial = F.softplus(-fake_logits).mean()
    gan = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    paper_sign = -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()  # log D(x) + log(1 - D(fake))
    return {
        "encoder": [
            (kl + feature_error + adversarial, "The adversarial loss reached the encoder: in VAE-GAN the encoder "
             "learns from the prior KL and the feature reconstruction only (Larsen et al. 2016)."),
            (feature_error, "The encoder's loss has lost its KL term: without it q(z | x) drifts from the prior "
             "the decoder is sampled from."),
            (kl + GAMMA * feature_error, "gamma weighs the feature error in the DECODER's loss; the encoder's is "
             "KL + feature error."),
        ],
        "decoder": [
            (gamma * feature_error - adversarial, "The adversarial term has the wrong sign: the decoder would "
             "make its images easier to reject."),
            (gamma * feature_error - paper_sign, "This is Algorithm 1 of the paper read with the paper's sign of L_GAN: "
             "minimising gamma L_llike - L_GAN with L_GAN = log D(x) + log(1 - D(x~)) makes the decoder help the "
             "discriminator. Use the decoder's own non-saturating term -log D(fake)."),
            (feature_error + adversarial, "The feature error in the decoder's loss is weighted by gamma."),
            (gamma * feature_error - F.softplus(fake_logits).mean(), "That is the minimax term log(1 - D(fake)) "
             "(the authors' code); the exercise asks for the non-saturating -log D(fake)."),
            (adversarial, "The decoder's loss lost its feature reconstruction term gamma * L_llike."),
        ],
        "discriminator": [
            (gan + feature_error, "The discriminator must not learn from the feature error: it would shrink "
             "its features to make every reconstruction look good."),
            (F.softplus(-real_logits).mean() + F.softplus(fake_logits[:b]).mean()
             + F.softplus(fake_logits[b:]).mean(), "Reconstructions and prior samples count half each (one mean "
             "over all 2B fakes), so real and fake images weigh the same."),
            (F.softplus(-real_logits).mean() + F.softplus(fake_logits[b:]).mean(), "The reconstructions are fakes "
             "too: the discriminator judges real images, reconstructions and prior samples."),
            (-gan, "The discriminator's loss has the wrong sign: it is the binary cross-entropy it minimises."),
        ],
    }


def check_vaegan_losses(fn: Callable[..., dict[str, Tensor]]) -> None:
    """Check ``fn(kl, feature_error, real_logits, fake_logits, gamma)`` -> ``{"encoder": ...,
    "decoder": ..., "discriminator": ...}``: the three networks' losses from the terms of one
    forward pass of a small VAE-GAN (`kl` and `feature_error` batch means, `real_logits` (B,),
    `fake_logits` (2B,): reconstructions, then prior samples). The values are compared with the
    reference, then each network's gradient of your loss with respect to its own parameters,
    which is what would train it: a term that leaks into the wrong loss changes a gradient."""
    torch.manual_seed(0)
    model = build_vaegan(4, width=4)
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.enable_grad():
        mean, logvar = model.encode(x)
        z = model.reparameterize(mean, logvar, generator=torch.Generator().manual_seed(2))
        z_prior = torch.randn(z.shape, generator=torch.Generator().manual_seed(3))
        decoded = model.decode(torch.cat([z, z_prior]))
        features, logits = model.judge_all(x, decoded[:8], decoded[8:])
        kl = model.kl_per_dimension(mean, logvar).sum(dim=1).mean()
        feature_error = 0.5 * (features[:8] - features[8:16]).pow(2).sum(dim=1).mean()
        terms = (kl, feature_error, logits[:8], logits[8:], GAMMA)
        got = _call(fn, *terms, what="function")
    if not isinstance(got, dict) or set(got) != set(NETWORKS):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        _fail(f"your function should return a dict with keys {list(NETWORKS)}, got {keys}")
    expected, mistakes = _reference(*terms), _mistakes(*terms)
    for name in NETWORKS:
        value = _as_tensor(got[name], f"{name} loss")
        if value.numel() != 1:
            _fail(f"the {name} loss should be one number (a batch mean), got shape {tuple(value.shape)}")
        if _close(value.reshape(()), expected[name].detach(), rtol=1e-4, atol=1e-5):
            continue
        hint = next((text for wrong, text in mistakes[name] if _close(value.reshape(()), wrong.detach(),
                                                                         rtol=1e-4, atol=1e-5)), "")
        _fail(f"the {name}'s loss is {value.item():.6g}, expected {expected[name].item():.6g}. {hint}".rstrip())
    # the values match; now what each network would learn from its loss
    for name in NETWORKS:
        if not isinstance(got[name], Tensor) or not got[name].requires_grad:
            _fail(f"the {name}'s loss carries no gradient: build it from the terms with torch operations "
                  "(no .item(), .detach() or float())")
        parameters = list(getattr(model, name).parameters())
        mine = torch.autograd.grad(got[name], parameters, retain_graph=True, allow_unused=True)
        want = torch.autograd.grad(expected[name], parameters, retain_graph=True, allow_unused=True)
        for a, b in zip(mine, want):
            a = torch.zeros_like(b) if a is None and b is not None else a
            if b is None or a is None:
                continue
            if not torch.allclose(a, b, rtol=1e-4, atol=1e-6):
                _fail(f"the {name}'s loss has the right value but the wrong gradient for the {name}: a term "
                      "was detached, or one that should be there was replaced by a constant")
    _passed("each network's loss matches, and so does the gradient that would train it: the encoder on "
            "KL + feature error, the decoder on gamma * feature error - log D(fakes), the discriminator on its "
            "cross-entropy over real images and both kinds of fakes.")


# (real cost, fake cost) pairs around the default equilibrium 0.68 and margin 0.35: inside, just
# outside each edge, on the edges, and both far out in opposite directions.
BALANCE_CASES = [(0.69, 0.69), (0.20, 0.69), (0.69, 0.20), (1.20, 0.69), (0.69, 1.20), (0.10, 1.50),
                 (1.50, 0.10), (0.33, 0.69), (1.03, 0.69), (0.34, 1.02), (0.05, 0.05), (2.0, 2.0),
                 (0.40, 0.30), (1.10, 0.50)]


def check_balance(fn: Callable[[float, float, float, float], Any]) -> None:
    """Check ``fn(real_cost, fake_cost, equilibrium, margin)`` -> ``(update_decoder,
    update_discriminator)``, the rule of the authors' code, on cases around the default
    equilibrium 0.68 and margin 0.35 and at another setting."""
    mistakes = [
        (lambda r, f, e, m: (not (r > e + m or f > e + m), not (r < e - m or f < e - m)),
         "When both players would rest, both must update instead (otherwise only the encoder learns)."),
        (lambda r, f, e, m: balance(r, f, e, m)[::-1],
         "The two answers are swapped: a cost BELOW equilibrium - margin means the discriminator is far ahead, "
         "so IT rests."),
        (lambda r, f, e, m: _with_and(r, f, e, m),
         "A player rests when EITHER cost is past the edge (or), not only when both are."),
    ]
    settings = [(0.68, 0.35), (0.5, 0.1)]
    for equilibrium, margin in settings:
        answers = []
        for real, fake in BALANCE_CASES:
            got = _call(fn, real, fake, equilibrium, margin, what="function")
            if not (isinstance(got, tuple) and len(got) == 2):
                _fail(f"your function should return a pair (update_decoder, update_discriminator), got {got!r}")
            answers.append(tuple(bool(v) for v in got))
        for (real, fake), got in zip(BALANCE_CASES, answers):
            expected = balance(real, fake, equilibrium, margin)
            if got != expected:
                hint = next((text for wrong, text in mistakes
                             if [tuple(wrong(r, f, equilibrium, margin)) for r, f in BALANCE_CASES] == answers), "")
                _fail(f"for real cost {real}, fake cost {fake} (equilibrium {equilibrium}, margin {margin}) you "
                      f"return update_decoder={got[0]}, update_discriminator={got[1]}; expected {expected[0]}, "
                      f"{expected[1]}. {hint}".rstrip())
    _passed(f"your rule agrees with the authors' on all {len(BALANCE_CASES) * len(settings)} cases.")


def _with_and(r: float, f: float, e: float, m: float) -> tuple[bool, bool]:
    update_discriminator = not (r < e - m and f < e - m)
    update_decoder = not (r > e + m and f > e + m)
    if not (update_decoder or update_discriminator):
        return True, True
    return update_decoder, update_discriminator
