"""The VAE objective: config checks, reparameterisation, the ELBO's terms, KL schedules,
conditioning, overfitting a batch and training through the Trainer."""
import math

import pytest
import torch
from conftest import ManualStep

from gentut.data.loader import Batch, InMemoryLoader
from gentut.losses import bernoulli_nll, gaussian_kl_standard_normal
from gentut.models import VAE, ConvDecoder, ConvEncoder, LabelConditioned, MLPDecoder, MLPEncoder, VAEConfig
from gentut.trainer import Trainer


pytestmark = pytest.mark.usefixtures("one_thread")


def _binary_images(n=16, size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, size, size, generator=generator) < 0.3).float()


def _small_vae(latent_dim=2, size=8, hidden=(64,), output="sigmoid", **config):
    config = VAEConfig(latent_dim, **config)
    k = config.num_classes
    encoder = MLPEncoder(2 * latent_dim, image_shape=(1 + k, size, size), hidden=hidden)
    decoder = MLPDecoder(latent_dim + k, hidden=hidden, image_shape=(1, size, size), output=output)
    if k:
        encoder, decoder = LabelConditioned(encoder, k), LabelConditioned(decoder, k)
    return VAE(encoder, decoder, config=config)


# --- config --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(latent_dim=0), "latent_dim must be a positive int, got 0"),
        (dict(latent_dim=2.0), "latent_dim must be a positive int"),
        (dict(latent_dim=2, likelihood="poisson"), "likelihood must be 'bernoulli' or 'gaussian'"),
        (dict(latent_dim=2, decoder_std=0.1), "decoder_std is for likelihood='gaussian' only"),
        (dict(latent_dim=2, likelihood="gaussian", decoder_std=0.0), "decoder_std must be a positive number"),
        (dict(latent_dim=2, beta=-1.0), "beta must be a non-negative number, got -1.0"),
        (dict(latent_dim=2, beta=float("nan")), "beta must be a non-negative number"),
        (dict(latent_dim=2, kl_warmup_steps=-5), "kl_warmup_steps must be a non-negative int"),
        (dict(latent_dim=2, kl_warmup_steps=10.5), "kl_warmup_steps must be a non-negative int"),
        (dict(latent_dim=2, free_bits=-0.1), "free_bits must be a non-negative number"),
        (dict(latent_dim=2, num_classes=-1), "num_classes must be a non-negative int"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VAEConfig(**kwargs)


def test_config_is_frozen():
    with pytest.raises(Exception):
        VAEConfig(2).beta = 4.0


def test_vae_rejects_mismatched_networks_and_non_configs():
    with pytest.raises(ValueError, match=r"outputs 2 numbers but .* needs 2 \* latent_dim = 4"):
        VAE(MLPEncoder(2), MLPDecoder(2), config=VAEConfig(2))
    with pytest.raises(ValueError, match="decoder expects codes of size 3 but this VAE gives it latent_dim = 2"):
        VAE(MLPEncoder(4), MLPDecoder(3), config=VAEConfig(2))
    with pytest.raises(ValueError, match=r"encoder is conditioned on 0 classes but config.num_classes is 10"):
        VAE(MLPEncoder(4, image_shape=(11, 28, 28)), MLPDecoder(12), config=VAEConfig(2, num_classes=10))
    with pytest.raises(ValueError, match=r"images of shape \(1, 28, 28\) but the decoder makes \(1, 8, 8\)"):
        VAE(MLPEncoder(4), MLPDecoder(2, image_shape=(1, 8, 8)), config=VAEConfig(2))
    with pytest.raises(ValueError, match="Bernoulli VAE needs a decoder with output='sigmoid'"):
        _small_vae(output="identity")
    with pytest.raises(ValueError, match="must be built for more than num_classes=10 channels, got 1"):
        LabelConditioned(MLPEncoder(4), 10)
    with pytest.raises(TypeError, match="config must be a VAEConfig"):
        VAE(MLPEncoder(4), MLPDecoder(2), config={"latent_dim": 2})


# --- shapes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("convolutional", [False, True])
def test_shapes_and_ranges_of_encode_decode_sample_forward(convolutional):
    if convolutional:
        model = VAE(ConvEncoder(6, base_channels=8), ConvDecoder(3, base_channels=8), config=VAEConfig(3))
    else:
        model = VAE(MLPEncoder(6, hidden=(32,)), MLPDecoder(3, hidden=(32,)), config=VAEConfig(3))
    x = torch.rand(5, 1, 28, 28)
    mean, logvar = model.encode(x)
    assert mean.shape == logvar.shape == (5, 3)
    assert model.decode(mean).shape == (5, 1, 28, 28)
    assert model(x).shape == (5, 1, 28, 28)
    samples = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (4, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    again = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(samples, again)
    terms = model.elbo_terms(x)
    assert set(terms) == {"reconstruction", "kl", "elbo"}
    assert all(value.shape == (5,) for value in terms.values())


def test_encoder_log_variance_is_clamped_to_a_finite_range():
    model = _small_vae()
    with torch.no_grad():
        model.encoder.net[-1].bias[2:] = torch.tensor([500.0, -500.0])
    _, logvar = model.encode(_binary_images(3))
    assert logvar.max().item() == 20.0 and logvar.min().item() == -30.0
    assert torch.isfinite(model.elbo_terms(_binary_images(3))["kl"]).all()


# --- reparameterisation and the ELBO ------------------------------------------------------------


def test_reparameterize_matches_the_gaussian_and_passes_gradients_to_mean_and_logvar():
    model = _small_vae(latent_dim=3)
    mean = torch.tensor([[0.5, -1.0, 2.0]]).repeat(20_000, 1).requires_grad_(True)
    logvar = torch.tensor([[0.0, math.log(4.0), math.log(0.25)]]).repeat(20_000, 1).requires_grad_(True)
    z = model.reparameterize(mean, logvar, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), torch.tensor([0.5, -1.0, 2.0]), atol=0.05)
    assert torch.allclose(z.var(0), torch.tensor([1.0, 4.0, 0.25]), rtol=0.05)
    z.sum().backward()
    assert torch.allclose(mean.grad, torch.ones_like(mean))  # dz/dmean = 1
    # dz/dlogvar = 0.5 * exp(logvar / 2) * eps, nonzero and exactly (z - mean) / 2
    assert torch.allclose(logvar.grad, 0.5 * (z - mean).detach(), atol=1e-5)


def test_elbo_terms_are_reconstruction_and_closed_form_kl():
    model = _small_vae()
    x = _binary_images(6)
    terms = model.elbo_terms(x, generator=torch.Generator().manual_seed(0))
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar, generator=torch.Generator().manual_seed(0))
    logits = model.decoder.logits(z)
    assert torch.allclose(terms["reconstruction"], bernoulli_nll(logits, x, reduction="none"), atol=1e-5)
    assert torch.allclose(terms["kl"], gaussian_kl_standard_normal(mean, logvar, reduction="none"))
    assert torch.allclose(terms["elbo"], -(terms["reconstruction"] + terms["kl"]))
    assert (terms["elbo"] < 0).all()


def test_one_sample_elbo_is_unbiased_for_its_expectation():
    # E_q[log p(x|z)] by brute force on a grid is awkward; instead compare the mean of many
    # one-sample ELBOs with reconstruction averaged over the same samples plus the closed-form KL,
    # and check the spread of single samples shrinks as 1/sqrt(n).
    model = _small_vae()
    x = _binary_images(1).repeat(4000, 1, 1, 1)
    with torch.no_grad():
        terms = model.elbo_terms(x, generator=torch.Generator().manual_seed(0))
        mean, logvar = model.encode(x[:1])
        kl = gaussian_kl_standard_normal(mean, logvar, reduction="none")
        # an independent Monte Carlo estimate of E_q[log p(x|z)]
        z = model.reparameterize(mean.repeat(4000, 1), logvar.repeat(4000, 1),
                                 generator=torch.Generator().manual_seed(1))
        expected_log_likelihood = model.log_likelihood(x, z).mean()
    assert torch.allclose(terms["kl"], kl.expand(4000), atol=1e-5)  # KL is exact: no noise
    standard_error = terms["elbo"].std() / math.sqrt(4000)
    assert abs(terms["elbo"].mean() - (expected_log_likelihood - kl[0])) < 4 * math.sqrt(2) * standard_error


def test_gaussian_likelihood_with_fixed_and_learned_std():
    x = torch.rand(4, 1, 8, 8)
    fixed = _small_vae(likelihood="gaussian", decoder_std=0.5)
    z = torch.randn(4, 2)
    mean = fixed.decoder(z)  # the decoder's sigmoid output
    expected = torch.distributions.Normal(mean, 0.5).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(fixed.log_likelihood(x, z), expected, atol=1e-4)
    linear = _small_vae(likelihood="gaussian", decoder_std=0.5, output="identity")
    expected = torch.distributions.Normal(linear.decoder.logits(z), 0.5).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(linear.log_likelihood(x, z), expected, atol=1e-4)
    assert not any(p.ndim == 0 for p in fixed.parameters())
    learned = _small_vae(likelihood="gaussian")
    assert learned.decoder_std().item() == pytest.approx(0.1)
    assert learned.decoder_log_std in set(learned.parameters())
    learned.log_likelihood(x, z).sum().backward()
    assert learned.decoder_log_std.grad is not None


# --- KL weight: beta, warm-up, free bits --------------------------------------------------------


def test_kl_weight_warms_up_linearly_to_beta():
    assert _small_vae().kl_weight(0) == 1.0
    model = _small_vae(beta=4.0, kl_warmup_steps=100)
    assert [model.kl_weight(s) for s in (0, 25, 50, 100, 1000)] == [0.0, 1.0, 2.0, 4.0, 4.0]
    with pytest.raises(ValueError, match="step must be a non-negative int"):
        model.kl_weight(-1)


def _loss_at(model, x, global_step=0):
    step = ManualStep()
    step.global_step = global_step
    torch.manual_seed(0)
    logs = model.training_step(Batch(x), step)
    return step.losses[0], logs


def test_training_loss_uses_the_warm_up_weight_but_reports_the_unweighted_elbo():
    model = _small_vae(kl_warmup_steps=10)
    x = _binary_images(8)
    loss, logs = _loss_at(model, x, global_step=5)
    assert loss.item() == pytest.approx(logs["reconstruction"].item() + 0.5 * logs["kl"].item(), rel=1e-5)
    assert logs["elbo"].item() == pytest.approx(-(logs["reconstruction"] + logs["kl"]).item(), rel=1e-5)
    assert not any(value.requires_grad for value in logs.values())


def test_free_bits_clamp_the_batch_averaged_kl_of_each_dimension():
    model = _small_vae(latent_dim=2, free_bits=0.5)
    x = _binary_images(8)
    with torch.no_grad():
        model.encoder.net[-1].weight.zero_()
        # dimension 0: KL = 0.5 * mean^2 = 2 nats (above); dimension 1: at the prior, 0 nats (below)
        model.encoder.net[-1].bias.copy_(torch.tensor([2.0, 0.0, 0.0, 0.0]))
    loss, logs = _loss_at(model, x)
    assert logs["kl"].item() == pytest.approx(2.0)
    assert loss.item() == pytest.approx(logs["reconstruction"].item() + 2.0 + 0.5, rel=1e-5)
    # the clamped dimension gets no gradient from the KL term
    model.zero_grad()
    model.kl_per_dimension(*model.encode(x)).mean(0).clamp(min=0.5).sum().backward()
    assert model.encoder.net[-1].bias.grad[[1, 3]].abs().max() == 0


# --- conditional VAE -----------------------------------------------------------------------------


def test_conditional_vae_requires_labels_and_uses_them():
    model = _small_vae(num_classes=3)
    x = _binary_images(4)
    y = torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"conditional \(num_classes=3\) and needs labels"):
        model.encode(x)
    with pytest.raises(ValueError, match="batch has no labels"):
        model.training_step(Batch(x), ManualStep())
    with pytest.raises(ValueError, match=r"integer tensor of shape \(4,\)"):
        model.encode(x, torch.zeros(4))
    with pytest.raises(ValueError, match="unconditional"):
        _small_vae().encode(x, y)
    z = torch.zeros(4, 2)
    assert not torch.allclose(model.decode(z, y), model.decode(z, (y + 1) % 3))
    assert not torch.allclose(model.encode(x, y)[0], model.encode(x, (y + 1) % 3)[0])
    samples = model.sample(3, labels=torch.tensor([0, 1, 2]), generator=torch.Generator().manual_seed(0))
    assert samples.shape == (3, 1, 8, 8)
    logs = model.training_step(Batch(x, y), ManualStep())
    assert torch.isfinite(logs["loss"])
    assert set(model.evaluation_step(Batch(x, y))) == {"elbo", "reconstruction", "kl"}


def test_unconditional_vae_ignores_labels_in_the_batch():
    model = _small_vae()
    x, y = _binary_images(4), torch.tensor([0, 1, 2, 3])
    assert torch.isfinite(model.training_step(Batch(x, y), ManualStep())["loss"])


# --- learning ------------------------------------------------------------------------------------


def test_vae_overfits_a_fixed_batch():
    torch.manual_seed(0)
    model = _small_vae(latent_dim=4, hidden=(128,))
    x = _binary_images(16)
    step = ManualStep(torch.optim.Adam(model.parameters(), lr=3e-3))
    initial = model.evaluation_step(Batch(x))["elbo"].item()
    for _ in range(300):
        logs = model.training_step(Batch(x), step)
    final = model.evaluation_step(Batch(x))["elbo"].item()
    # 64 pixels at log 2 each is -44 nats; memorising 16 images costs about log 16 = 2.8 nats of KL.
    assert initial < -40
    assert final > initial + 20, (initial, final)
    assert step.global_step == 300 and logs["kl"] > 0


def test_vae_trains_and_evaluates_through_the_trainer():
    torch.manual_seed(0)
    model = _small_vae(kl_warmup_steps=4)
    x = _binary_images(16)
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-3), device="cpu", progress=False,
                      log_every=1)
    history = trainer.fit(InMemoryLoader(x, batch_size=8), steps=2, eval_loader=InMemoryLoader(x, batch_size=8))
    for name in ("loss", "reconstruction", "kl", "elbo", "eval/elbo", "eval/kl", "eval/reconstruction"):
        assert name in history, name
    assert history.last("eval/elbo") < 0
