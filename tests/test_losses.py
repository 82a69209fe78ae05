"""Loss terms against hand-computed values and torch.distributions."""
import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from gentut.losses import bernoulli_nll, gaussian_kl_standard_normal, gaussian_nll, squared_error


def test_bernoulli_nll_of_zero_logits_is_log_2_per_pixel():
    logits = torch.zeros(3, 1, 4, 4)
    x = torch.rand(3, 1, 4, 4)
    # sigmoid(0) = 1/2, so each pixel costs -[x log 1/2 + (1-x) log 1/2] = log 2 whatever x is.
    assert bernoulli_nll(logits, x).item() == pytest.approx(16 * math.log(2), rel=1e-6)


def test_bernoulli_nll_matches_hand_computed_single_pixel_values():
    logits = torch.tensor([[2.0], [-1.0]])
    x = torch.tensor([[1.0], [0.25]])
    p = torch.sigmoid(logits)
    by_hand = -(x * p.log() + (1 - x) * (1 - p).log()).squeeze(1)
    assert torch.allclose(bernoulli_nll(logits, x, reduction="none"), by_hand, atol=1e-6)
    assert bernoulli_nll(logits, x).item() == pytest.approx(by_hand.mean().item(), rel=1e-6)


def test_bernoulli_nll_sums_pixels_and_averages_images():
    logits, x = torch.randn(5, 1, 3, 3), torch.rand(5, 1, 3, 3)
    per_example = bernoulli_nll(logits, x, reduction="none")
    assert per_example.shape == (5,)
    assert bernoulli_nll(logits, x).item() == pytest.approx(per_example.mean().item(), rel=1e-6)


def test_bernoulli_nll_is_finite_for_extreme_logits():
    logits = torch.tensor([[-200.0, 200.0]])
    x = torch.tensor([[0.0, 1.0]])
    loss = bernoulli_nll(logits, x)
    assert torch.isfinite(loss) and loss.item() < 1e-6


def test_gaussian_nll_matches_closed_form_and_torch_normal():
    mean, x = torch.rand(4, 1, 2, 3), torch.rand(4, 1, 2, 3)
    sigma = 0.3
    by_hand = ((x - mean) ** 2 / (2 * sigma**2) + 0.5 * math.log(2 * math.pi * sigma**2)).flatten(1).sum(1)
    from_torch = -Normal(mean, sigma).log_prob(x).flatten(1).sum(1)
    got = gaussian_nll(mean, x, sigma=sigma, reduction="none")
    assert torch.allclose(got, by_hand, atol=1e-5)
    assert torch.allclose(got, from_torch, atol=1e-5)


def test_gaussian_nll_of_perfect_mean_is_the_normalising_constant():
    x = torch.rand(2, 10)
    assert gaussian_nll(x, x).item() == pytest.approx(10 * 0.5 * math.log(2 * math.pi), rel=1e-6)


def test_gaussian_nll_accepts_a_tensor_sigma():
    mean, x = torch.zeros(2, 3), torch.ones(2, 3)
    sigma = torch.tensor([1.0, 2.0, 0.5])
    expected = -Normal(mean, sigma).log_prob(x).sum(1).mean()
    assert gaussian_nll(mean, x, sigma=sigma).item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("sigma", [0.0, -1.0, True])
def test_gaussian_nll_rejects_non_positive_sigma(sigma):
    with pytest.raises(ValueError, match="sigma must be a positive number"):
        gaussian_nll(torch.zeros(1, 2), torch.zeros(1, 2), sigma=sigma)


def test_squared_error_sums_pixels_and_averages_images():
    recon = torch.zeros(2, 1, 2, 2)
    x = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5]]).view(2, 1, 2, 2)
    assert torch.allclose(squared_error(recon, x, reduction="none"), torch.tensor([2.0, 1.0]))
    assert squared_error(recon, x).item() == pytest.approx(1.5)


def test_gaussian_kl_matches_torch_distributions():
    mean, logvar = torch.randn(6, 4), torch.randn(6, 4)
    posterior = Normal(mean, (0.5 * logvar).exp())
    prior = Normal(torch.zeros(6, 4), torch.ones(6, 4))
    expected = kl_divergence(posterior, prior).sum(1)
    got = gaussian_kl_standard_normal(mean, logvar, reduction="none")
    assert torch.allclose(got, expected, atol=1e-5)
    assert gaussian_kl_standard_normal(mean, logvar).item() == pytest.approx(expected.mean().item(), rel=1e-5)


def test_gaussian_kl_is_zero_at_the_prior():
    assert gaussian_kl_standard_normal(torch.zeros(3, 2), torch.zeros(3, 2)).item() == 0.0


def test_losses_reject_mismatched_shapes_instead_of_broadcasting():
    with pytest.raises(ValueError, match=r"logits and x must have the same shape, got \(2, 784\) and \(2, 1, 28, 28\)"):
        bernoulli_nll(torch.zeros(2, 784), torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="same shape"):
        squared_error(torch.zeros(2, 3), torch.zeros(3))
    with pytest.raises(ValueError, match="same shape"):
        gaussian_kl_standard_normal(torch.zeros(2, 3), torch.zeros(2, 4))


def test_losses_reject_unknown_reduction():
    with pytest.raises(ValueError, match="reduction must be 'none' or 'mean', got 'sum'"):
        bernoulli_nll(torch.zeros(1, 2), torch.zeros(1, 2), reduction="sum")


def test_bernoulli_nll_backpropagates_to_logits():
    logits = torch.zeros(2, 3, requires_grad=True)
    bernoulli_nll(logits, torch.ones(2, 3)).backward()
    # d/dl of -log sigmoid(l) at l = 0 is -(1 - 1/2) = -1/2, divided by batch size 2.
    assert torch.allclose(logits.grad, torch.full((2, 3), -0.25))


# --- log-densities -------------------------------------------------------------------------------


def test_gaussian_log_density_matches_torch_normal_summed_over_dimensions():
    from gentut.losses import gaussian_log_density

    generator = torch.Generator().manual_seed(0)
    x, mean, logvar = (torch.randn(5, 2, 3, generator=generator) for _ in range(3))
    expected = Normal(mean, (0.5 * logvar).exp()).log_prob(x).flatten(1).sum(1)
    got = gaussian_log_density(x, mean, logvar, reduction="none")
    assert got.shape == (5,)
    assert torch.allclose(got, expected, atol=1e-5)
    assert gaussian_log_density(x, mean, logvar).item() == pytest.approx(expected.mean().item(), rel=1e-5)


def test_gaussian_log_density_broadcasts_a_shared_log_variance_once_per_element():
    from gentut.losses import gaussian_log_density

    x, mean = torch.randn(4, 6), torch.randn(4, 6)
    logvar = torch.tensor(math.log(0.3**2))
    expected = Normal(mean, 0.3).log_prob(x).sum(1)
    assert torch.allclose(gaussian_log_density(x, mean, logvar, reduction="none"), expected, atol=1e-5)
    # and agrees with the negative of gaussian_nll at the same sigma
    assert torch.allclose(expected, -gaussian_nll(mean, x, sigma=0.3, reduction="none"), atol=1e-5)
    with pytest.raises(ValueError, match=r"logvar of shape \(3,\) does not broadcast"):
        gaussian_log_density(x, mean, torch.zeros(3))


def test_standard_normal_log_density_matches_torch_normal():
    from gentut.losses import standard_normal_log_density

    z = torch.randn(7, 3)
    expected = Normal(0.0, 1.0).log_prob(z).sum(1)
    assert torch.allclose(standard_normal_log_density(z, reduction="none"), expected, atol=1e-6)
    assert standard_normal_log_density(torch.zeros(1, 2)).item() == pytest.approx(-math.log(2 * math.pi))


# --- GAN losses ----------------------------------------------------------------------------------


def test_discriminator_loss_at_logits_zero_is_log_4():
    from gentut.losses import discriminator_loss

    # D = 1/2 everywhere: -[log 1/2 + log 1/2] = log 4, whatever the batch sizes
    assert discriminator_loss(torch.zeros(5, 1), torch.zeros(3)).item() == pytest.approx(math.log(4))


def test_discriminator_loss_matches_hand_computed_log_probabilities():
    from gentut.losses import discriminator_loss

    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    by_hand = -(torch.sigmoid(real).log().mean() + (1 - torch.sigmoid(fake)).log().mean())
    assert discriminator_loss(real, fake).item() == pytest.approx(by_hand.item(), rel=1e-6)


def test_discriminator_loss_is_finite_for_extreme_logits():
    from gentut.losses import discriminator_loss, generator_loss_non_saturating

    assert discriminator_loss(torch.tensor([200.0]), torch.tensor([-200.0])).item() < 1e-6
    assert discriminator_loss(torch.tensor([-200.0]), torch.tensor([200.0])).item() == pytest.approx(400.0)
    assert generator_loss_non_saturating(torch.tensor([-200.0])).item() == pytest.approx(200.0)


def test_generator_losses_match_their_equations():
    from gentut.losses import generator_loss_minimax, generator_loss_non_saturating

    fake = torch.tensor([[0.0], [2.0], [-1.0]])
    d = torch.sigmoid(fake)
    assert generator_loss_minimax(fake).item() == pytest.approx(torch.log(1 - d).mean().item(), rel=1e-6)
    assert generator_loss_non_saturating(fake).item() == pytest.approx(-torch.log(d).mean().item(), rel=1e-6)
    # at D = 1/2 the minimax loss is log(1/2) and the non-saturating one log 2
    assert generator_loss_minimax(torch.zeros(4)).item() == pytest.approx(-math.log(2))
    assert generator_loss_non_saturating(torch.zeros(4)).item() == pytest.approx(math.log(2))


def test_wasserstein_losses_are_differences_of_mean_scores():
    from gentut.losses import wasserstein_critic_loss, wasserstein_generator_loss

    real, fake = torch.tensor([3.0, 5.0]), torch.tensor([[1.0], [-1.0], [3.0]])
    assert wasserstein_critic_loss(real, fake).item() == pytest.approx(1.0 - 4.0)
    assert wasserstein_generator_loss(fake).item() == pytest.approx(-1.0)


def test_hinge_losses_cost_nothing_beyond_the_margin_and_are_linear_inside_it():
    from gentut.losses import hinge_discriminator_loss, hinge_generator_loss

    # real scores 2 (beyond the margin: 0), 0.5 (0.5) and -1 (2); fake scores -3 (0) and 0 (1)
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([[-3.0], [0.0]])
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx((0 + 0.5 + 2) / 3 + (0 + 1) / 2)
    # confidently separated examples give D no gradient at all: only those inside the margin move it
    real = torch.tensor([2.0, 0.5], requires_grad=True)
    fake = torch.tensor([-3.0, 0.0], requires_grad=True)
    hinge_discriminator_loss(real, fake).backward()
    assert real.grad.tolist() == [0.0, -0.5] and fake.grad.tolist() == [0.0, 0.5]
    assert hinge_generator_loss(torch.tensor([1.0, -3.0])).item() == pytest.approx(1.0)


def test_gan_losses_reject_logits_that_are_not_one_per_example():
    from gentut.losses import discriminator_loss, generator_loss_non_saturating

    with pytest.raises(ValueError, match=r"fake_logits must have shape \(B,\) or \(B, 1\), one per example, got \(4, 2\)"):
        discriminator_loss(torch.zeros(4), torch.zeros(4, 2))
    with pytest.raises(TypeError, match="must be a tensor"):
        generator_loss_non_saturating([0.0, 1.0])


def _linear_critic(weight_norm, features=3):
    critic = torch.nn.Linear(features, 1)
    with torch.no_grad():
        direction = torch.randn(1, features)
        critic.weight.copy_(weight_norm * direction / direction.norm())
    return critic


@pytest.mark.parametrize("weight_norm, penalty", [(1.0, 0.0), (3.0, 4.0), (0.0, 1.0)])
def test_gradient_penalty_of_a_linear_critic_is_norm_minus_one_squared(weight_norm, penalty):
    from gentut.losses import gradient_penalty

    # A linear critic's gradient is its weight everywhere: (||w|| - 1)^2 at every interpolate.
    critic = _linear_critic(weight_norm)
    got = gradient_penalty(critic, torch.randn(16, 3), torch.randn(16, 3))
    assert got.item() == pytest.approx(penalty, abs=1e-5)


def test_gradient_penalty_is_differentiable_in_the_critic_parameters():
    from gentut.losses import gradient_penalty

    critic = _linear_critic(3.0)
    fake = torch.randn(8, 3, requires_grad=True)
    penalty = gradient_penalty(critic, torch.randn(8, 3), fake)
    penalty.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 2 * w / 3
    assert torch.allclose(critic.weight.grad, 4 * critic.weight.detach() / 3, atol=1e-5)
    assert fake.grad is None  # the penalty trains the critic only


def test_gradient_penalty_interpolates_with_one_eps_per_example():
    from gentut.losses import gradient_penalty

    seen = []

    def critic(x):
        seen.append(x.detach())
        return x.sum(dim=(1, 2, 3))  # gradient of ones: norm sqrt(12)

    real, fake = torch.ones(5, 3, 2, 2), torch.zeros(5, 3, 2, 2)
    got = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    x_hat = seen[0]
    # each example is eps * 1 + (1 - eps) * 0 = eps, constant over its own pixels
    assert torch.allclose(x_hat, x_hat[:, :1, :1, :1].expand_as(x_hat))
    assert x_hat.flatten(1)[:, 0].unique().numel() == 5
    assert got.item() == pytest.approx((math.sqrt(12) - 1) ** 2, rel=1e-5)


def test_gradient_penalty_of_a_packed_critic_takes_one_norm_per_score():
    from gentut.losses import gradient_penalty

    def packed_critic(x):  # scores pairs of consecutive samples: (B, 2) -> (B/2,)
        return (2.0 * x).reshape(len(x) // 2, 4).sum(dim=1)

    # each score's gradient: 2 on each of its 4 inputs, norm 4: penalty (4 - 1)^2 = 9
    got = gradient_penalty(packed_critic, torch.randn(6, 2), torch.randn(6, 2))
    assert got.item() == pytest.approx(9.0, rel=1e-5)
