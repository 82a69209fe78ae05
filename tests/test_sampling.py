"""One sampling contract for every generative model: sample(n, *, labels=None, generator=None)
in eval mode and back, without gradients, a CPU generator accepted, images in [0, 1]."""
import pytest
import torch

from gentut.models import GAN, VAE, GANConfig, LabelConditioned, MLPDecoder, MLPEncoder, VAEConfig
from gentut.models.sampling import prior_noise

pytestmark = pytest.mark.usefixtures("one_thread")


def _models():
    torch.manual_seed(0)
    batch_norm = dict(hidden=(16,), norm="batch")
    return {
        "gan": GAN(MLPDecoder(4, **batch_norm), MLPEncoder(1, hidden=(16,)), config=GANConfig(latent_dim=4)),
        # batch norm in the decoder: in train mode a batch of one would raise
        "vae": VAE(MLPEncoder(8, **batch_norm), MLPDecoder(4, **batch_norm), config=VAEConfig(4)),
    }


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_sample_runs_in_eval_mode_restores_the_mode_and_gives_images_in_0_1(name):
    model = _models()[name].train()
    one = model.sample(1)  # batch norm on running statistics: one sample is fine
    assert one.shape == (1, 1, 28, 28) and not one.requires_grad
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    model.sample(2)
    assert not model.training
    samples = model.sample(64, generator=torch.Generator().manual_seed(0))
    assert 0 <= samples.min() and samples.max() <= 1


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_the_same_cpu_generator_seed_gives_the_same_samples(name):
    model = _models()[name]
    a = model.sample(5, generator=torch.Generator().manual_seed(1))
    b = model.sample(5, generator=torch.Generator().manual_seed(1))
    c = model.sample(5, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_bad_counts_and_unwanted_labels_are_refused(name):
    model = _models()[name]
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="n must be a positive int"):
            model.sample(bad)
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(2, labels=torch.tensor([0, 1]))


def test_a_conditional_vae_draws_the_requested_classes():
    torch.manual_seed(0)
    model = VAE(LabelConditioned(MLPEncoder(4, image_shape=(4, 8, 8), hidden=(8,)), 3),
                LabelConditioned(MLPDecoder(5, image_shape=(1, 8, 8), hidden=(8,)), 3),
                config=VAEConfig(2, num_classes=3))
    generator = torch.Generator().manual_seed(0)
    a = model.sample(3, labels=torch.tensor([0, 1, 2]), generator=generator)
    b = model.sample(3, labels=torch.tensor([1, 1, 1]), generator=torch.Generator().manual_seed(0))
    assert a.shape == (3, 1, 8, 8) and not torch.equal(a, b)
    with pytest.raises(ValueError, match="needs labels y"):
        model.sample(3)


def test_prior_noise_is_drawn_where_the_generator_lives_then_moved():
    generator = torch.Generator().manual_seed(0)
    z = prior_noise(4, 3, device=torch.device("cpu"), generator=generator)
    assert torch.equal(z, torch.randn(4, 3, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        prior_noise(4, 3, device=torch.device("cpu"), generator=0)
