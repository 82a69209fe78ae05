"""The GAN objective: config checks, update order and gradient routing, packing, the saturating
and non-saturating losses, learning a Gaussian, WGAN-GP and spectral norm through the Trainer,
and the optimal discriminator / Jensen-Shannon identity."""
import contextlib
import math

import pytest
import torch
from torch import nn

from gentut.data.loader import Batch, InMemoryLoader
from gentut.losses import generator_loss_minimax, generator_loss_non_saturating
from gentut.models import GAN, MLP, ConvDecoder, ConvEncoder, GANConfig, with_spectral_norm
from gentut.models.gan import jensen_shannon, optimal_discriminator
from gentut.trainer import Trainer


class _GANStep:
    """A stand-in for gentut.trainer.TrainStep with named optimizers, CPU, full precision.

    Records the name of each update, whether the generator had gradients after the
    discriminator's backward, and parameter snapshots of both networks before and after each
    update.
    """

    def __init__(self, model, optimizers=None):
        self.device = torch.device("cpu")
        self.model = model
        self.optimizers = optimizers or {}
        self.global_step = 0
        self.names = []
        self.generator_has_grad_after = []
        self.snapshots = []  # (name, before, after) with before/after = (G params, D params)

    def autocast(self):
        return contextlib.nullcontext()

    def _params(self):
        return (
            [p.detach().clone() for p in self.model.generator.parameters()],
            [p.detach().clone() for p in self.model.discriminator.parameters()],
        )

    def update(self, loss, name="model"):
        assert name in ("discriminator", "generator")
        self.names.append(name)
        before = self._params()
        optimizer = self.optimizers.get(name)
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.generator_has_grad_after.append(
            any(p.grad is not None for p in self.model.generator.parameters())
        )
        if optimizer is not None:
            optimizer.step()
        self.snapshots.append((name, before, self._params()))


pytestmark = pytest.mark.usefixtures("one_thread")


def _gan_2d(config=None, **overrides):
    config = config or GANConfig(latent_dim=4, **overrides)
    generator = MLP(config.latent_dim, 2, hidden=(16,))
    discriminator = MLP(2 * config.packing, 1, hidden=(16,), activation="leaky_relu")
    return GAN(generator, discriminator, config=config)


def _optimizers(model, lr=1e-3, betas=(0.5, 0.999)):
    return {
        "discriminator": torch.optim.Adam(model.discriminator.parameters(), lr=lr, betas=betas),
        "generator": torch.optim.Adam(model.generator.parameters(), lr=lr, betas=betas),
    }


# --- config --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(latent_dim=0), "latent_dim must be a positive int"),
        (dict(latent_dim=2.0), "latent_dim must be a positive int"),
        (dict(latent_dim=2, loss="wgan"), "loss must be one of"),
        (dict(latent_dim=2, gradient_penalty=-1.0), "gradient_penalty must be a non-negative"),
        (dict(latent_dim=2, gradient_penalty=float("nan")), "gradient_penalty must be a non-negative"),
        (dict(latent_dim=2, discriminator_steps=0), "discriminator_steps must be a positive int"),
        (dict(latent_dim=2, packing=0), "packing must be a positive int"),
        (dict(latent_dim=2, packing=True), "packing must be a positive int"),
    ],
)
def test_config_rejects_bad_values_naming_what_was_expected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GANConfig(**kwargs)


def test_config_is_frozen_with_the_papers_defaults():
    config = GANConfig(latent_dim=8)
    assert (config.loss, config.gradient_penalty, config.discriminator_steps, config.packing) == (
        "non_saturating", 10.0, 1, 1,
    )
    with pytest.raises(Exception):
        config.latent_dim = 3


def test_gan_rejects_mismatched_networks():
    with pytest.raises(TypeError, match="config must be a GANConfig"):
        GAN(MLP(4, 2), MLP(2, 1), config={"latent_dim": 4})
    with pytest.raises(ValueError, match="the generator takes noise of size 3 but config.latent_dim is 4"):
        GAN(MLP(3, 2), MLP(2, 1), config=GANConfig(latent_dim=4))
    with pytest.raises(ValueError, match="out_dim=1, got out_dim=2"):
        GAN(MLP(4, 2), MLP(2, 2), config=GANConfig(latent_dim=4))


# --- shapes --------------------------------------------------------------------------------------


def test_sample_generate_and_discriminate_shapes_for_points():
    model = _gan_2d()
    assert model.generate(torch.randn(5, 4)).shape == (5, 2)
    samples = model.sample(7)
    assert samples.shape == (7, 2) and not samples.requires_grad
    assert model.discriminate(samples).shape == (7,)
    with pytest.raises(ValueError, match=r"z must have shape \(B, 4\), got \(5, 3\)"):
        model.generate(torch.randn(5, 3))


def test_sample_is_reproducible_with_a_generator_and_restores_train_mode():
    model = _gan_2d()
    model.train()
    first = model.sample(4, generator=torch.Generator().manual_seed(1))
    second = model.sample(4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first, second)
    assert model.generator.training


def test_the_generators_sigmoid_output_gives_images_in_0_1():
    config = GANConfig(latent_dim=3)
    model = GAN(ConvDecoder(3, base_channels=4), ConvEncoder(1, base_channels=4), config=config)
    images = model.sample(6)
    assert images.shape == (6, 1, 28, 28)
    assert images.min() >= 0 and images.max() <= 1
    assert model.discriminate(images).shape == (6,)


# --- the training step ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3])
def test_training_step_updates_discriminator_k_times_then_generator(k):
    model = _gan_2d(discriminator_steps=k)
    step = _GANStep(model, _optimizers(model))
    logs = model.training_step(Batch(torch.randn(8, 2)), step)
    assert step.names == ["discriminator"] * k + ["generator"]
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    for value in logs.values():
        assert value.shape == () and not value.requires_grad
    assert 0 < logs["d_real"] < 1 and 0 < logs["d_fake"] < 1


def test_discriminator_update_leaves_generator_alone_and_vice_versa():
    model = _gan_2d()
    step = _GANStep(model, _optimizers(model))
    model.training_step(Batch(torch.randn(8, 2)), step)
    (d_name, d_before, d_after), (g_name, g_before, g_after) = step.snapshots
    assert (d_name, g_name) == ("discriminator", "generator")
    # D's update: D moved, G did not (and got no gradient at all: the fakes were detached).
    assert any(not torch.equal(a, b) for a, b in zip(d_before[1], d_after[1]))
    assert all(torch.equal(a, b) for a, b in zip(d_before[0], d_after[0]))
    assert step.generator_has_grad_after == [False, True]
    # G's update: G moved, D did not (its stale gradients are zeroed at D's next update).
    assert any(not torch.equal(a, b) for a, b in zip(g_before[0], g_after[0]))
    assert all(torch.equal(a, b) for a, b in zip(g_before[1], g_after[1]))


def test_discriminator_loss_at_logits_zero_is_log_4():
    model = _gan_2d()
    for p in model.discriminator.parameters():
        nn.init.zeros_(p)  # every logit 0: D(x) = 1/2
    loss = model.discriminator_loss(torch.randn(6, 2), model.sample(6))
    assert loss.item() == pytest.approx(math.log(4), rel=1e-6)


# --- packing -------------------------------------------------------------------------------------


class _Recorder(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(()))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return x.flatten(1).sum(1, keepdim=True) * self.weight


def test_packing_concatenates_consecutive_samples_along_the_feature_axis():
    recorder = _Recorder()
    model = GAN(MLP(2, 3), recorder, config=GANConfig(latent_dim=2, packing=2))
    x = torch.arange(18.0).reshape(6, 3)
    assert model.discriminate(x).shape == (3,)
    packed = recorder.seen[-1]
    assert packed.shape == (3, 6)
    assert torch.equal(packed[0], torch.cat([x[0], x[1]]))
    assert torch.equal(packed[2], torch.cat([x[4], x[5]]))
    images = torch.rand(4, 1, 5, 5)
    model.discriminate(images)
    packed = recorder.seen[-1]
    assert packed.shape == (2, 2, 5, 5)  # channels: one per packed grey image
    assert torch.equal(packed[1, 0], images[2, 0]) and torch.equal(packed[1, 1], images[3, 0])


def test_packing_rejects_batches_it_cannot_divide_before_any_update():
    model = _gan_2d(packing=4)
    with pytest.raises(ValueError, match="packing=4 needs a batch size divisible by 4, got a batch of 6"):
        model.discriminate(torch.randn(6, 2))
    step = _GANStep(model, _optimizers(model))
    with pytest.raises(ValueError, match="divisible by 4"):
        model.training_step(Batch(torch.randn(6, 2)), step)
    assert step.names == []


def test_packed_gan_trains_a_step():
    model = _gan_2d(packing=2)
    step = _GANStep(model, _optimizers(model))
    logs = model.training_step(Batch(torch.randn(8, 2)), step)
    assert step.names == ["discriminator", "generator"]
    assert torch.isfinite(logs["d_loss"]) and torch.isfinite(logs["g_loss"])


# --- saturation ----------------------------------------------------------------------------------


def test_non_saturating_loss_has_a_much_larger_gradient_when_fakes_are_rejected():
    batch = 4
    logits = torch.full((batch,), -5.0, requires_grad=True)  # D(G(z)) = sigmoid(-5) ~ 0.0067
    (minimax,) = torch.autograd.grad(generator_loss_minimax(logits), logits)
    (non_saturating,) = torch.autograd.grad(generator_loss_non_saturating(logits), logits)
    s = torch.sigmoid(torch.tensor(-5.0))
    # d/dl log(1 - sigmoid(l)) = -sigmoid(l);  d/dl -log sigmoid(l) = -(1 - sigmoid(l))
    assert torch.allclose(minimax, torch.full((batch,), -s.item() / batch), rtol=1e-5)
    assert torch.allclose(non_saturating, torch.full((batch,), -(1 - s.item()) / batch), rtol=1e-5)
    assert (non_saturating / minimax).min() > 100  # (1 - s) / s = e^5 ~ 148
    # both push the logit up (a descent step raises D(G(z))): the same direction, not the same size
    assert (minimax < 0).all() and (non_saturating < 0).all()


@pytest.mark.parametrize(
    "loss, expected",
    [("minimax", lambda l: generator_loss_minimax(l)),
     ("non_saturating", lambda l: generator_loss_non_saturating(l)),
     ("hinge", lambda l: -l.mean())],
)
def test_generator_loss_dispatches_on_config(loss, expected):
    model = _gan_2d(loss=loss)
    fake = model.sample(6)
    assert model.generator_loss(fake).item() == pytest.approx(
        expected(model.discriminate(fake)).item(), rel=1e-6
    )


# --- learning --------------------------------------------------------------------------------------


def test_vanilla_gan_moves_the_generator_mean_to_the_data_mean():
    torch.manual_seed(0)
    data_mean = torch.tensor([3.0, -2.0])
    data = data_mean + 0.5 * torch.randn(2048, 2)
    model = _gan_2d()
    step = _GANStep(model, _optimizers(model, lr=2e-3))
    start = (model.sample(1000).mean(0) - data_mean).norm().item()
    for i in range(300):
        batch = data[torch.randint(0, len(data), (64,))]
        model.training_step(Batch(batch), step)
        step.snapshots.clear()  # keep memory flat
    end = (model.sample(1000).mean(0) - data_mean).norm().item()
    assert start > 3.0
    assert end < 1.0 and end < start / 4, (start, end)  # ~0.2-0.4 over seeds 0-5


# --- WGAN-GP and spectral norm through the Trainer -----------------------------------------------


def test_wgan_gp_runs_through_the_trainer_and_logs_the_penalty():
    torch.manual_seed(0)
    config = GANConfig(latent_dim=4, loss="wasserstein_gp", discriminator_steps=5)
    model = _gan_2d(config)
    # Gulrajani et al. 2017: Adam(1e-4, betas=(0, 0.9))
    trainer = Trainer(model, _optimizers(model, lr=1e-4, betas=(0.0, 0.9)), device="cpu", progress=False, log_every=1)
    history = trainer.fit(InMemoryLoader(torch.randn(64, 2), batch_size=16, shuffle=True, seed=0), steps=2)
    for name in ("d_loss", "g_loss", "d_real", "d_fake", "gradient_penalty"):
        assert name in history, name
        assert all(math.isfinite(v) for v in history.series(name)[1])
    assert history.last("gradient_penalty") >= 0


def test_hinge_discriminator_loss_dispatches_on_config_and_reports_raw_scores():
    torch.manual_seed(0)
    model = _gan_2d(GANConfig(latent_dim=4, loss="hinge"))
    real, fake = torch.randn(8, 2), model.sample(8)
    expected = (1 - model.discriminate(real)).clamp_min(0).mean() + (1 + model.discriminate(fake)).clamp_min(0).mean()
    assert model.discriminator_loss(real, fake).item() == pytest.approx(expected.item(), rel=1e-6)
    with torch.no_grad():
        scores_before = model.discriminate(real).mean().item()
    trainer = Trainer(model, _optimizers(model, lr=1e-4), device="cpu", progress=False, log_every=1)
    history = trainer.fit(InMemoryLoader(real, batch_size=8, shuffle=False), steps=1)
    # scores, not probabilities: d_real is the mean raw score D saw before its update, unsquashed
    assert history.last("d_real") == pytest.approx(scores_before, abs=1e-5)
    assert all(math.isfinite(history.last(name)) for name in ("d_loss", "g_loss"))


def test_spectral_norm_variant_runs_through_the_trainer():
    torch.manual_seed(0)
    config = GANConfig(latent_dim=4, packing=2)
    generator = MLP(4, 2, hidden=(16,))
    discriminator = with_spectral_norm(MLP(4, 1, hidden=(16,), activation="leaky_relu"))
    model = GAN(generator, discriminator, config=config)
    trainer = Trainer(model, _optimizers(model), device="cpu", progress=False, log_every=1)
    history = trainer.fit(InMemoryLoader(torch.randn(64, 2), batch_size=16, seed=0), steps=2)
    assert "d_loss" in history and "g_loss" in history


def test_with_spectral_norm_normalises_every_linear_and_conv_layer():
    network = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ConvTranspose2d(4, 2, 3), nn.Flatten(), nn.Linear(8, 1))
    assert with_spectral_norm(network) is network
    for layer in (network[0], network[1], network[3]):
        assert nn.utils.parametrize.is_parametrized(layer, "weight")
    with_spectral_norm(network)  # applying twice leaves the layers as they are
    assert len(network[3].parametrizations.weight) == 1
    # After enough power iterations, a normalised linear layer has spectral norm 1.
    linear = with_spectral_norm(nn.Linear(10, 5))
    with torch.no_grad():
        for _ in range(50):
            linear(torch.randn(1, 10))
    assert torch.linalg.matrix_norm(linear.weight.detach(), ord=2).item() == pytest.approx(1.0, abs=1e-3)


# --- the theory on a discrete example ------------------------------------------------------------


def test_optimal_discriminator_is_the_density_ratio():
    p_data = torch.tensor([0.5, 0.3, 0.2, 0.0])
    p_model = torch.tensor([0.5, 0.1, 0.0, 0.4])
    assert torch.allclose(optimal_discriminator(p_data, p_model), torch.tensor([0.5, 0.75, 1.0, 0.0]))


def test_value_at_the_optimal_discriminator_is_minus_log_4_plus_twice_the_jsd():
    p_data = torch.tensor([0.1, 0.4, 0.3, 0.2, 0.0], dtype=torch.float64)
    p_model = torch.tensor([0.3, 0.1, 0.1, 0.25, 0.25], dtype=torch.float64)
    d = optimal_discriminator(p_data, p_model)

    def xlogy(x, y):  # 0 log 0 = 0
        return torch.where(x > 0, x * torch.log(y.clamp_min(1e-300)), torch.zeros_like(x))

    value = xlogy(p_data, d).sum() + xlogy(p_model, 1 - d).sum()
    assert value.item() == pytest.approx(-math.log(4) + 2 * jensen_shannon(p_data, p_model).item(), abs=1e-12)
    # and any other discriminator does worse (V is maximised by D*)
    other = (d + 0.1).clamp(0.01, 0.99)
    assert xlogy(p_data, other).sum() + xlogy(p_model, 1 - other).sum() < value


def test_jensen_shannon_is_zero_for_equal_and_log_2_for_disjoint_distributions():
    p = torch.tensor([0.2, 0.8])
    assert jensen_shannon(p, p).item() == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])).item() == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="must be non-negative and sum to 1"):
        jensen_shannon(torch.tensor([0.5, 0.6]), p)
