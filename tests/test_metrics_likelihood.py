"""ELBO and importance-sampled log-likelihood, checked on a linear-Gaussian model whose log p(x)
is known exactly: p(z) = N(0, I), p(x | z) = N(Wz + b, s^2 I)  =>  p(x) = N(b, W W^T + s^2 I)."""

import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal

from gentut.metrics.likelihood import elbo, importance_sampled_log_likelihood
from gentut.models import VAE, LabelConditioned, MLPDecoder, MLPEncoder, VAEConfig

DATA_DIM, LATENT_DIM, NOISE_STD = 6, 2, 0.5


pytestmark = pytest.mark.usefixtures("one_thread")


def _linear_gaussian(num_images=200, seed=0):
    """A linear-Gaussian VAE with the exact posterior as encoder, its data, and exact log p(x)."""
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(DATA_DIM, LATENT_DIM, generator=generator, dtype=torch.float64))
    weight = q * torch.tensor([1.5, 0.8], dtype=torch.float64)  # orthogonal columns -> diagonal posterior
    bias = torch.randn(DATA_DIM, generator=generator, dtype=torch.float64)
    s2 = NOISE_STD**2
    # Exact posterior: covariance S = (I + W^T W / s^2)^-1 (diagonal here), mean S W^T (x - b) / s^2.
    posterior_var = 1.0 / (1.0 + (weight**2).sum(0) / s2)  # (L,)
    gain = posterior_var[:, None] * weight.T / s2  # (L, D)

    encoder = nn.Sequential(nn.Flatten(), nn.Linear(DATA_DIM, 2 * LATENT_DIM))  # (B, 1, 1, D) -> (B, 2L)
    decoder = nn.Sequential(nn.Linear(LATENT_DIM, DATA_DIM), nn.Unflatten(1, (1, 1, DATA_DIM)))
    decoder.output = "identity"  # a decoder of one's own: forward gives the mean as it is
    model = VAE(encoder, decoder, config=VAEConfig(
        LATENT_DIM, likelihood="gaussian", decoder_std=NOISE_STD
    )).double()
    with torch.no_grad():
        encoder[1].weight.copy_(torch.cat([gain, torch.zeros_like(gain)]))
        encoder[1].bias.copy_(torch.cat([-gain @ bias, posterior_var.log()]))
        decoder[0].weight.copy_(weight)
        decoder[0].bias.copy_(bias)

    z = torch.randn(num_images, LATENT_DIM, generator=generator, dtype=torch.float64)
    x = z @ weight.T + bias + NOISE_STD * torch.randn(num_images, DATA_DIM, generator=generator, dtype=torch.float64)
    marginal = MultivariateNormal(bias, weight @ weight.T + s2 * torch.eye(DATA_DIM, dtype=torch.float64))
    return model, x.view(num_images, 1, 1, DATA_DIM), marginal.log_prob(x).float()


def _spoil_encoder(model, scale=1.0):
    """Shift the posterior means and inflate the variances: a valid but wrong q(z | x)."""
    with torch.no_grad():
        model.encoder[1].bias += scale * torch.tensor([0.2, -0.15, 0.4, 0.25], dtype=torch.float64)


def _expected_elbo(model, x, draws=400, seed=0):
    """E_q[ELBO] per image, averaging `draws` one-sample ELBOs (the ELBO's KL is already exact)."""
    generator = torch.Generator().manual_seed(seed)
    repeated = x.repeat(draws, 1, 1, 1)  # (draws * N, 1, 1, D), draw-major
    return elbo(model, repeated, batch_size=len(repeated), generator=generator).view(draws, len(x)).mean(0)


def test_with_the_exact_posterior_every_importance_weight_is_p_x():
    model, x, exact = _linear_gaussian()
    # log p(x|z) + log p(z) - log q(z|x) = log p(x) for every z when q is the true posterior, so
    # even a single importance sample is exact: zero variance.
    for samples in (1, 20):
        got = importance_sampled_log_likelihood(model, x, samples=samples, generator=torch.Generator().manual_seed(0))
        assert got.shape == (len(x),) and got.dtype == torch.float32 and got.device.type == "cpu"
        assert torch.allclose(got, exact, atol=1e-4)


def test_with_the_exact_posterior_the_expected_elbo_is_log_p_x():
    # The one-sample ELBO uses the closed-form KL, so it still varies with z through log p(x|z);
    # its expectation is log p(x) because KL(q || p(z|x)) = 0.
    model, x, exact = _linear_gaussian()
    one = elbo(model, x, generator=torch.Generator().manual_seed(0))
    assert one.shape == (len(x),) and one.dtype == torch.float32 and one.device.type == "cpu"
    expected = _expected_elbo(model, x)
    # one draw has a standard deviation of about 0.8 nats here: 400 draws leave 0.04 per image
    assert (expected - exact).abs().max() < 0.2
    assert (expected - exact).mean().abs() < 0.015


def test_with_a_wrong_posterior_elbo_below_iwae_below_exact():
    model, x, exact = _linear_gaussian()
    _spoil_encoder(model)
    expected_elbo = _expected_elbo(model, x)
    iwae = importance_sampled_log_likelihood(model, x, samples=1000, generator=torch.Generator().manual_seed(0))
    assert (exact - expected_elbo).mean() > 0.25  # the spoiled encoder leaves a real gap
    assert expected_elbo.mean() < iwae.mean() - 0.2
    assert (expected_elbo <= iwae + 0.1).all()
    # IWAE_k is a lower bound in expectation; one estimate per image scatters around it by about
    # 0.02 nats at k = 1000, so per image allow a few of those, on average much less.
    assert (iwae - exact).abs().max() < 0.1
    assert (iwae - exact).mean().abs() < 0.01


def test_iwae_bound_tightens_as_the_number_of_samples_grows():
    # Averaged over many images, the estimates at k = 1, 10, 100, 1000 climb towards log p(x)
    # (gaps of about 0.7, 0.05, 0.004 and 0.000 nats). One batch and one seed make the runs share
    # their first samples (common random numbers), so the small later steps are not lost in noise.
    model, x, exact = _linear_gaussian(num_images=2000)
    _spoil_encoder(model, scale=1.5)
    means = [
        importance_sampled_log_likelihood(
            model, x, samples=k, batch_size=len(x), generator=torch.Generator().manual_seed(0)
        ).mean().item()
        for k in (1, 10, 100, 1000)
    ]
    assert means == sorted(means), means
    assert means[-1] <= exact.mean().item() + 0.01


def test_chunking_does_not_change_the_estimate():
    model, x, _ = _linear_gaussian(num_images=20)
    _spoil_encoder(model)
    estimates = [
        importance_sampled_log_likelihood(
            model, x, samples=50, chunk=chunk, batch_size=8, generator=torch.Generator().manual_seed(3)
        )
        for chunk in (1, 7, 50, 200)
    ]
    for estimate in estimates[1:]:
        assert torch.allclose(estimate, estimates[0], atol=1e-5)


def test_iwae_is_tighter_than_the_elbo_on_a_trained_vae():
    torch.manual_seed(0)
    x = (torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    model = VAE(MLPEncoder(4, image_shape=(1, 8, 8), hidden=(32,)), MLPDecoder(2, hidden=(32,), image_shape=(1, 8, 8)),
                config=VAEConfig(2))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(200):
        loss = -model.elbo_terms(x)["elbo"].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    expected_elbo = _expected_elbo(model, x, draws=50)
    iwae = importance_sampled_log_likelihood(model, x, samples=200, generator=torch.Generator().manual_seed(0))
    assert iwae.mean() > expected_elbo.mean() + 0.1  # about 0.2 nats tighter
    assert model.training  # evaluation restored the mode


def test_labels_reach_a_conditional_vae_batch_by_batch():
    config = VAEConfig(2, num_classes=3)
    model = VAE(LabelConditioned(MLPEncoder(4, image_shape=(4, 4, 4), hidden=(16,)), 3),
                LabelConditioned(MLPDecoder(5, hidden=(16,), image_shape=(1, 4, 4)), 3), config=config)
    x = torch.rand(10, 1, 4, 4)
    y = torch.arange(10) % 3
    a = importance_sampled_log_likelihood(model, x, y, samples=5, batch_size=4, generator=torch.Generator().manual_seed(0))
    b = importance_sampled_log_likelihood(model, x, (y + 1) % 3, samples=5, batch_size=4,
                                          generator=torch.Generator().manual_seed(0))
    assert a.shape == (10,) and not torch.allclose(a, b)
    # Labels are sliced batch by batch. With a (nearly) noiseless encoder the ELBO is
    # deterministic, so batches of 4 must give what one batch gives.
    with torch.no_grad():
        model.encoder.network.net[-1].weight[2:] = 0.0
        model.encoder.network.net[-1].bias[2:] = -30.0  # std 3e-7
    batched = elbo(model, x, y, batch_size=4)
    one_batch = model.elbo_terms(x, y)["elbo"].detach()
    assert torch.allclose(batched, one_batch, atol=1e-4)
    assert not torch.allclose(batched, elbo(model, x, (y + 1) % 3, batch_size=4), atol=1e-4)
    with pytest.raises(ValueError, match="needs labels"):
        elbo(model, x)


def test_likelihood_functions_reject_bad_arguments():
    model, x, _ = _linear_gaussian(num_images=4)
    with pytest.raises(TypeError, match="model must be a VAE"):
        elbo(nn.Linear(2, 2), x)
    with pytest.raises(ValueError, match=r"labels must be a tensor of shape \(4,\)"):
        elbo(model, x, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="samples must be a positive int"):
        importance_sampled_log_likelihood(model, x, samples=0)
    with pytest.raises(ValueError, match="chunk must be a positive int"):
        importance_sampled_log_likelihood(model, x, chunk=0)
