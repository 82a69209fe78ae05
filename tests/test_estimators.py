"""Gradient estimators: both unbiased against a closed form; reparameterisation has lower variance."""
import pytest
import torch

from gentut.estimators import reparameterization_gradient, score_function_gradient


def _square(z):
    return z**2  # scalar Gaussian: E[z^2] = mean^2 + std^2


def test_both_estimators_are_unbiased_for_the_square():
    # E[z^2] = mean^2 + std^2, so d/dmean = 2 mean and d/dlog_std = 2 std^2.
    mean, log_std = 0.7, -0.3
    std = torch.tensor(log_std).exp().item()
    for estimator in (reparameterization_gradient, score_function_gradient):
        generator = torch.Generator().manual_seed(0)
        grad_mean, grad_log_std = estimator(_square, mean, log_std, 200_000, generator)
        assert grad_mean.shape == grad_log_std.shape == (200_000,)
        # tolerances: several standard errors of the score-function estimator's mean
        assert grad_mean.mean().item() == pytest.approx(2 * mean, abs=0.03)
        assert grad_log_std.mean().item() == pytest.approx(2 * std**2, abs=0.03)


def test_reparameterization_has_lower_variance_for_the_square():
    args = (_square, 0.7, -0.3, 20_000)
    reparam = reparameterization_gradient(*args, torch.Generator().manual_seed(1))
    score = score_function_gradient(*args, torch.Generator().manual_seed(1))
    for low, high in zip(reparam, score):
        assert low.var() < 0.5 * high.var()


def test_estimators_handle_a_vector_gaussian_and_match_autograd_per_sample():
    mean, log_std = torch.tensor([0.5, -1.0]), torch.tensor([0.0, -0.5])

    def f(z):  # (S, 2) -> (S,)
        return (z**2).sum(dim=1) + z[:, 0] * z[:, 1]

    grad_mean, grad_log_std = reparameterization_gradient(f, mean, log_std, 5, torch.Generator().manual_seed(2))
    assert grad_mean.shape == grad_log_std.shape == (5, 2)
    # recompute sample 0 by hand: eps from the same generator
    eps = torch.randn((5, 2), generator=torch.Generator().manual_seed(2))
    z = mean + log_std.exp() * eps
    expected_mean = torch.stack([2 * z[:, 0] + z[:, 1], 2 * z[:, 1] + z[:, 0]], dim=1)
    assert torch.allclose(grad_mean, expected_mean, atol=1e-5)
    assert torch.allclose(grad_log_std, expected_mean * log_std.exp() * eps, atol=1e-5)
    grad_mean, grad_log_std = score_function_gradient(f, mean, log_std, 5, torch.Generator().manual_seed(2))
    assert torch.allclose(grad_mean, f(z)[:, None] * eps / log_std.exp(), atol=1e-5)
    assert torch.allclose(grad_log_std, f(z)[:, None] * (eps**2 - 1), atol=1e-5)


def test_estimators_are_reproducible_and_reject_bad_arguments():
    a = score_function_gradient(_square, 0.0, 0.0, 10, torch.Generator().manual_seed(3))
    b = score_function_gradient(_square, 0.0, 0.0, 10, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="samples must be a positive int"):
        reparameterization_gradient(_square, 0.0, 0.0, 0)
    with pytest.raises(ValueError, match="same shape"):
        score_function_gradient(_square, torch.zeros(2), torch.zeros(3), 4)
    with pytest.raises(ValueError, match=r"one value per sample, shape \(4,\)"):
        reparameterization_gradient(lambda z: z.sum(), 0.0, 0.0, 4)
