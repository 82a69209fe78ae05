"""Gradient routing of gentut.step: each network learns from its own loss only, for the one-loss
form (the GAN's players, each of its four objectives) and the several-loss form (a three-network
model shaped like VAE-GAN), checked against torch.autograd.grad of each loss alone; and the
wiring mistakes that must fail loudly."""
import copy

import pytest
import torch
from conftest import record_gradients
from torch import nn

from gentut.data.loader import Batch, InMemoryLoader
from gentut.device import Precision
from gentut.models import GAN, MLP, GANConfig, MLPDecoder, MLPEncoder
from gentut.step import TrainStep, WiringError, check_optimizers
from gentut.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


# --- a three-network model shaped like VAE-GAN (Larsen et al. 2016) ------------------------------


class ThreeNetworks(nn.Module):
    """Encoder, decoder and discriminator trained from ONE forward pass on three losses."""

    def __init__(self, latent_dim=3, size=6):
        super().__init__()
        shape = (1, size, size)
        self.latent_dim = latent_dim
        self.encoder = MLPEncoder(2 * latent_dim, image_shape=shape, hidden=(16,))
        self.decoder = MLPDecoder(latent_dim, image_shape=shape, hidden=(16,))
        self.discriminator = MLPEncoder(1, image_shape=shape, hidden=(16, 8), activation="leaky_relu")

    def losses(self, x, noise, prior):
        """The three losses from one shared forward pass (`noise` and `prior` fixed inputs)."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        z = mean + (0.5 * logvar).exp() * noise
        reconstruction = self.decoder(z)
        generated = self.decoder(prior)
        kl = 0.5 * (mean**2 + logvar.exp() - 1 - logvar).sum(1).mean()
        # reconstruction error in the discriminator's feature space (its last hidden block)
        feature_error = ((self.discriminator.features(reconstruction) - self.discriminator.features(x)) ** 2).mean()
        bce = nn.functional.binary_cross_entropy_with_logits
        real, fake = self.discriminator(x), self.discriminator(reconstruction)
        prior_logits = self.discriminator(generated)
        gan = (bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
               + bce(prior_logits, torch.zeros_like(prior_logits)))
        return {
            "encoder": kl + feature_error,
            "decoder": 0.5 * feature_error - gan,
            "discriminator": gan,
        }

    def training_step(self, batch, step):
        noise = torch.randn(len(batch.x), self.latent_dim)
        prior = torch.randn(len(batch.x), self.latent_dim)
        with step.autocast():
            losses = self.losses(batch.x, noise, prior)
        step.update(losses)  # three gradients, each on its own network, then three steps
        return {name: loss.detach() for name, loss in losses.items()}


def _optimizers(model, names, lr=0.05):
    return {name: torch.optim.SGD(getattr(model, name).parameters(), lr=lr) for name in names}


def test_three_losses_from_one_forward_pass_each_train_only_their_own_network():
    torch.manual_seed(0)
    model = ThreeNetworks()
    names = ("encoder", "decoder", "discriminator")
    optimizers = _optimizers(model, names)
    records = record_gradients(optimizers)
    step = TrainStep(optimizers)
    x = torch.rand(8, 1, 6, 6)
    for iteration in range(4):  # several steps, so the weights differ from step to step
        noise, prior = torch.randn(8, 3), torch.randn(8, 3)
        losses = model.losses(x, noise, prior)
        expected = {
            name: torch.autograd.grad(losses[name], list(getattr(model, name).parameters()), retain_graph=True)
            for name in names
        }
        before = copy.deepcopy(model.state_dict())
        records.clear()
        step.update(losses)
        assert [name for name, _ in records] == list(names)  # stepped in the order given
        for name, grads in records:
            for parameter, want in zip(getattr(model, name).parameters(), expected[name]):
                got = grads[id(parameter)]
                assert got is not None and torch.allclose(got, want, atol=1e-6), (iteration, name)
        # every network moved by exactly -lr * its own gradient: no step used a moved weight
        for name in names:
            for (key, old), want in zip(
                ((k, v) for k, v in before.items() if k.startswith(name + ".")), expected[name]
            ):
                assert torch.allclose(model.state_dict()[key], old - 0.05 * want, atol=1e-6), key


def test_the_usual_zero_backward_step_loop_cannot_do_a_shared_forward_pass():
    # What the several-loss update replaces: one backward per optimizer on a shared graph.
    torch.manual_seed(0)
    model = ThreeNetworks()
    optimizers = _optimizers(model, ("encoder", "decoder", "discriminator"))
    losses = model.losses(torch.rand(4, 1, 6, 6), torch.randn(4, 3), torch.randn(4, 3))
    optimizers["encoder"].zero_grad()
    losses["encoder"].backward()
    optimizers["encoder"].step()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        losses["decoder"].backward()
    # and the gradients it leaves are wrong anyway: the encoder's backward filled the
    # discriminator's .grad, which a later update without zero_grad would add to its own
    assert any(p.grad is not None for p in model.discriminator.parameters())


def test_several_loss_update_through_the_trainer_with_clipping_and_bf16_autocast():
    torch.manual_seed(0)
    model = ThreeNetworks()
    names = ("encoder", "decoder", "discriminator")
    trainer = Trainer(model, _optimizers(model, names, lr=1e-2), device="cpu", mixed_precision=True,
                      grad_clip=0.5, progress=False, log_every=1)
    assert trainer.precision.dtype == torch.bfloat16
    before = copy.deepcopy(model.state_dict())
    history = trainer.fit(torch.rand(32, 1, 6, 6), steps=3, batch_size=8)
    assert all(name in history for name in names)
    for name in names:  # every network learned
        assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items() if k.startswith(name))


def test_gradient_clipping_caps_each_optimizers_own_gradient_norm():
    torch.manual_seed(0)
    model = ThreeNetworks()
    optimizers = _optimizers(model, ("encoder", "decoder", "discriminator"))
    records = record_gradients(optimizers)
    step = TrainStep(optimizers, grad_clip=1e-3)
    step.update(model.losses(torch.rand(8, 1, 6, 6), torch.randn(8, 3), torch.randn(8, 3)))
    for _, grads in records:
        norm = torch.sqrt(sum((g**2).sum() for g in grads.values() if g is not None))
        assert norm <= 1e-3 * (1 + 1e-4)


# --- the GAN: one loss per player, each of its four objectives ------------------------------------


@pytest.mark.parametrize("loss", ["minimax", "non_saturating", "hinge", "wasserstein_gp"])
def test_gan_players_each_learn_from_their_own_loss_only(loss):
    torch.manual_seed(0)
    config = GANConfig(latent_dim=3, loss=loss)
    model = GAN(MLP(3, 2, hidden=(16,)), MLP(2, 1, hidden=(16,), activation="leaky_relu"), config=config)
    optimizers = _optimizers(model, ("discriminator", "generator"))
    records = record_gradients(optimizers)
    step = TrainStep(optimizers)
    real = torch.randn(16, 2)
    for iteration in range(3):
        # Replay the step on a copy with the same random numbers: the fakes, the gradient
        # penalty's mixing weights, D's update by SGD, then G's loss through the updated D.
        replay = copy.deepcopy(model)
        state = torch.get_rng_state()
        fake = replay.generate(torch.randn(16, 3))
        d_loss = replay.discriminator_loss(real, fake.detach())
        d_params = list(replay.discriminator.parameters())
        want_d = torch.autograd.grad(d_loss, d_params)
        with torch.no_grad():
            for p, g in zip(d_params, want_d):
                p -= 0.05 * g
        want_g = torch.autograd.grad(replay.generator_loss(fake), list(replay.generator.parameters()))
        torch.set_rng_state(state)

        records.clear()
        model.training_step(Batch(real), step)
        (d_name, d_grads), (g_name, g_grads) = records
        assert (d_name, g_name) == ("discriminator", "generator")
        for p, want in zip(model.discriminator.parameters(), want_d):
            assert torch.allclose(d_grads[id(p)], want, atol=1e-5), (iteration, "discriminator")
            # G's update left D's gradient as D's own update made it: nothing leaked into it
            assert torch.allclose(p.grad, want, atol=1e-5), (iteration, "leak into D")
        for p, want in zip(model.generator.parameters(), want_g):
            assert torch.allclose(g_grads[id(p)], want, atol=1e-5), (iteration, "generator")


def test_gan_discriminator_update_leaves_the_generators_gradient_alone():
    torch.manual_seed(0)
    model = GAN(MLP(3, 2, hidden=(8,)), MLP(2, 1, hidden=(8,)), config=GANConfig(latent_dim=3))
    optimizers = _optimizers(model, ("discriminator", "generator"))
    records = record_gradients(optimizers)
    model.training_step(Batch(torch.randn(8, 2)), TrainStep(optimizers))
    # at the moment D stepped, no gradient had reached G (its .grad was never set)
    (_, d_grads), _ = records
    assert all(p.grad is not None for p in model.generator.parameters())  # G's own update set them
    assert all(id(p) not in d_grads for p in model.generator.parameters())


# --- wiring mistakes -----------------------------------------------------------------------------


def _gan():
    torch.manual_seed(0)
    return GAN(MLP(3, 2, hidden=(8,)), MLP(2, 1, hidden=(8,)), config=GANConfig(latent_dim=3))


def test_swapped_generator_and_discriminator_optimizers_fail_instead_of_training_silently():
    model = _gan()
    swapped = {"discriminator": torch.optim.SGD(model.generator.parameters(), lr=0.1),
               "generator": torch.optim.SGD(model.discriminator.parameters(), lr=0.1)}
    trainer = Trainer(model, swapped, device="cpu", progress=False)
    with pytest.raises(WiringError, match=r"optimizer 'discriminator' got no gradient from its loss.*swapped"):
        trainer.fit(torch.randn(16, 2), steps=1, batch_size=8)


def test_one_optimizer_under_two_names_is_refused():
    model = _gan()
    shared = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(WiringError, match="one optimizer is given under two names, 'discriminator' and 'generator'"):
        Trainer(model, {"discriminator": shared, "generator": shared}, device="cpu")


def test_a_parameter_held_by_two_optimizers_is_refused():
    model = _gan()
    optimizers = {"discriminator": torch.optim.SGD(model.parameters(), lr=0.1),
                  "generator": torch.optim.SGD(model.generator.parameters(), lr=0.1)}
    with pytest.raises(WiringError, match="held by two optimizers, 'discriminator' and 'generator'"):
        check_optimizers(model, optimizers)


def test_an_optimizer_of_another_models_parameters_is_refused():
    model, other = _gan(), _gan()
    with pytest.raises(WiringError, match="optimizer 'generator' holds a parameter of shape .* not one of the model's"):
        Trainer(model, {"discriminator": torch.optim.SGD(model.discriminator.parameters(), lr=0.1),
                        "generator": torch.optim.SGD(other.generator.parameters(), lr=0.1)}, device="cpu")


def test_bad_losses_get_clear_errors():
    model = _gan()
    step = TrainStep({"generator": torch.optim.SGD(model.generator.parameters(), lr=0.1)})
    z = torch.randn(4, 3)
    with pytest.raises(KeyError, match="no optimizer named 'discriminator'; the optimizers are"):
        step.update(model.generate(z).sum(), "discriminator")
    with pytest.raises(ValueError, match=r"the loss for 'generator' must be a scalar tensor, got shape \(4, 2\)"):
        step.update(model.generate(z), "generator")
    with torch.no_grad():
        frozen = model.generate(z).sum()
    with pytest.raises(WiringError, match="does not require grad"):
        step.update(frozen, "generator")
    with pytest.raises(ValueError, match="empty dict of losses"):
        step.update({})


def test_a_parameter_a_loss_does_not_use_keeps_no_gradient():
    # Partly used networks are fine (a conditional branch, an unused head): only "none used" fails.
    torch.manual_seed(0)
    net = nn.ModuleDict({"used": nn.Linear(2, 1), "unused": nn.Linear(2, 1)})
    step = TrainStep(torch.optim.SGD(net.parameters(), lr=0.1))
    step.update(net["used"](torch.randn(3, 2)).sum())
    assert net["used"].weight.grad is not None and net["unused"].weight.grad is None


def test_train_step_rejects_a_bad_grad_clip_and_defaults_to_full_precision():
    optimizer = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="grad_clip must be a positive number or None, got 0"):
        TrainStep(optimizer, grad_clip=0)
    assert TrainStep(optimizer).precision == Precision(dtype=None, use_scaler=False)


def test_trainer_fits_any_tensor_the_model_accepts():
    # 2-D points are not images: they are batched as they are, not checked as images
    model = _gan()
    trainer = Trainer(model, {"discriminator": torch.optim.SGD(model.discriminator.parameters(), lr=0.1),
                              "generator": torch.optim.SGD(model.generator.parameters(), lr=0.1)},
                      device="cpu", progress=False)
    history = trainer.fit(torch.randn(32, 2), steps=4, batch_size=8)
    assert trainer.global_step == 4 and "d_loss" in history
    assert isinstance(InMemoryLoader(torch.randn(4, 2)), InMemoryLoader)
