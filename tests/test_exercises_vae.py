"""Exercise checkers of the VAE chapter: the reference passes, each typical mistake fails with its own message."""
import pytest
import torch
import torch.nn.functional as F

from gentut.exercises import (
    ExerciseCheckError,
    check_elbo,
    check_gaussian_kl,
    check_reparameterize,
)
from gentut.losses import bernoulli_nll, gaussian_kl_standard_normal

# --- variational autoencoders --------------------------------------------------------------------


def _reference_reparameterize(mean, logvar):
    return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)


def test_reparameterize_checker_accepts_the_reference_and_leaves_the_rng_alone(capsys):
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    assert check_reparameterize(_reference_reparameterize) is None
    assert torch.equal(torch.rand(3), before)
    assert capsys.readouterr().out.startswith("Correct: ")


_FIXED_EPS = torch.randn(20_000, 4)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda m, lv: m + torch.exp(lv) * torch.randn_like(m), r"std = exp\(logvar\), but exp\(logvar\) is the variance"),
        (lambda m, lv: m + lv * torch.randn_like(m), "used logvar itself as the standard deviation"),
        (lambda m, lv: m + torch.randn_like(m), "noise is not scaled"),
        (lambda m, lv: m, "not random"),
        (lambda m, lv: m + torch.exp(0.5 * lv) * _FIXED_EPS, "two calls gave the same z"),
        (lambda m, lv: torch.normal(m, torch.exp(0.5 * lv)), r"torch.normal\(mean, std\) samples without passing gradients"),
        (lambda m, lv: (m + torch.exp(0.5 * lv) * torch.randn_like(m)).detach(), "no gradient can flow"),
        (lambda m, lv: m[:, :1] + torch.randn(len(m), 1), r"you returned shape \(20000, 1\)"),
        (lambda m, lv: 1 + m + torch.exp(0.5 * lv) * torch.randn_like(m), "should be centred on mean"),
    ],
)
def test_reparameterize_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_reparameterize(wrong)


def _reference_kl(mean, logvar):
    return (0.5 * (mean**2 + logvar.exp() - 1 - logvar)).sum(1).mean()


def test_gaussian_kl_checker_accepts_the_reference(capsys):
    check_gaussian_kl(_reference_kl)
    check_gaussian_kl(gaussian_kl_standard_normal)
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda m, lv: (0.5 * (m**2 + lv.exp() - 1 - lv)).mean(), "averaged over the latent dimensions"),
        (lambda m, lv: (0.5 * (m**2 + lv.exp() - 1 - lv)).sum(), "summed over the batch"),
        (lambda m, lv: (m**2 + lv.exp() - 1 - lv).sum(1).mean(), "factor 0.5"),
        (lambda m, lv: -_reference_kl(m, lv), "sign is flipped"),
        (lambda m, lv: (0.5 * (m**2 + lv**2 - 1 - torch.log(lv**2))).sum(1).mean(), "treated logvar as the standard deviation"),
        (lambda m, lv: (0.5 * (m**2 + lv.exp() ** 2 - 1 - 2 * lv)).sum(1).mean(), r"treated exp\(logvar\) as the standard deviation"),
        (lambda m, lv: (0.5 * (m**2 + lv.exp() - lv)).sum(1).mean(), "The -1 inside the sum is missing"),
        (lambda m, lv: (0.5 * (m**2 + lv.exp() - 1 - lv)).sum(1), "one KL per example"),
    ],
)
def test_gaussian_kl_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_gaussian_kl(wrong)


def _reference_elbo(x, logits, mean, logvar):
    log_likelihood = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    return (log_likelihood - gaussian_kl_standard_normal(mean, logvar, reduction="none")).mean()


def test_elbo_checker_accepts_the_reference(capsys):
    check_elbo(_reference_elbo)
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda *a: -_reference_elbo(*a), "returned the loss"),
        (lambda x, l, m, lv: -bernoulli_nll(l, x) + gaussian_kl_standard_normal(m, lv), "KL is added"),
        (lambda x, l, m, lv: -bernoulli_nll(l, x), "KL term is missing"),
        (lambda x, l, m, lv: -F.binary_cross_entropy_with_logits(l, x) - gaussian_kl_standard_normal(m, lv),
         "averaged the cross-entropy over pixels"),
        (lambda x, l, m, lv: _reference_elbo(x, l, m, lv).expand(8), "one value per example"),
    ],
)
def test_elbo_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_elbo(wrong)
