"""The autoencoder objective: config checks, corruption, the training contract, overfitting."""

import pytest
import torch
from conftest import ManualStep

from gentut.data.loader import Batch
from gentut.losses import bernoulli_nll, gaussian_nll
from gentut.models import (
    Autoencoder,
    AutoencoderConfig,
    ConvDecoder,
    ConvEncoder,
    MLPDecoder,
    MLPEncoder,
    anomaly_scores,
)


pytestmark = pytest.mark.usefixtures("one_thread")


def _digit_like_images(n=16, size=28, seed=0):
    """Binary images of a few random strokes (bars), a stand-in for digits."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.zeros(n, 1, size, size)
    for i in range(n):
        for _ in range(3):
            r, c = torch.randint(2, size - 10, (2,), generator=generator).tolist()
            length = int(torch.randint(5, 10, (1,), generator=generator))
            if torch.rand(1, generator=generator) < 0.5:
                images[i, 0, r : r + 2, c : c + length] = 1.0
            else:
                images[i, 0, r : r + length, c : c + 2] = 1.0
    return images


def _mlp_autoencoder(latent_dim=8, config=None):
    return Autoencoder(
        MLPEncoder(latent_dim, hidden=(128,)), MLPDecoder(latent_dim, hidden=(128,)), config=config
    )


# --- config --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(likelihood="poisson"), "likelihood must be 'bernoulli' or 'gaussian'"),
        (dict(corruption="salt"), "corruption must be 'none', 'gaussian' or 'masking'"),
        (dict(noise_level=0.1), "noise_level must be 0 when corruption='none'"),
        (dict(corruption="gaussian"), r"must be > 0 for corruption='gaussian', got 0.0"),
        (dict(corruption="gaussian", noise_level=-0.1), "must be > 0"),
        (dict(corruption="masking", noise_level=1.0), r"must be in \(0, 1\) for corruption='masking', got 1.0"),
        (dict(corruption="masking", noise_level=0.0), r"must be in \(0, 1\)"),
        (dict(corruption="masking", noise_level=float("nan")), "noise_level must be a finite number"),
            (dict(corruption="gaussian", noise_level=float("inf")), "noise_level must be a finite number, got inf"),
        (dict(corruption="masking", noise_level="0.3"), "noise_level must be a finite number"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AutoencoderConfig(**kwargs)


def test_config_is_frozen():
    config = AutoencoderConfig()
    with pytest.raises(Exception):
        config.noise_level = 0.5


def test_autoencoder_rejects_mismatched_encoder_and_decoder():
    with pytest.raises(ValueError, match="encoder outputs 4 numbers but the decoder expects codes of size 8"):
        Autoencoder(MLPEncoder(4), MLPDecoder(8))


def test_autoencoder_rejects_a_non_config():
    with pytest.raises(TypeError, match="config must be an AutoencoderConfig"):
        Autoencoder(MLPEncoder(4), MLPDecoder(4), config={"likelihood": "bernoulli"})


# --- shapes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("convolutional", [False, True])
def test_encode_decode_forward_shapes_and_range(convolutional):
    if convolutional:
        model = Autoencoder(ConvEncoder(2, base_channels=8), ConvDecoder(2, base_channels=8))
    else:
        model = _mlp_autoencoder(latent_dim=2)
    x = torch.rand(5, 1, 28, 28)
    z = model.encode(x)
    assert z.shape == (5, 2)
    x_hat = model.decode(z)
    assert x_hat.shape == (5, 1, 28, 28)
    assert x_hat.min() >= 0 and x_hat.max() <= 1
    assert torch.allclose(model(x), x_hat)


def test_reconstruction_loss_is_per_example_nll_of_the_likelihood():
    x = torch.rand(4, 1, 28, 28)
    model = _mlp_autoencoder()
    logits = model.decoder.logits(model.encoder(x))
    assert torch.allclose(model.reconstruction_loss(x), bernoulli_nll(logits, x, reduction="none"))
    gaussian = _mlp_autoencoder(config=AutoencoderConfig(likelihood="gaussian"))
    logits = gaussian.decoder.logits(gaussian.encoder(x))
    expected = gaussian_nll(torch.sigmoid(logits), x, reduction="none")
    assert torch.allclose(gaussian.reconstruction_loss(x), expected)


# --- corruption ----------------------------------------------------------------------------------


def test_no_corruption_returns_the_input():
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(_mlp_autoencoder().corrupt(x), x)


def test_masking_zeroes_the_requested_fraction_independently_per_image():
    model = _mlp_autoencoder(config=AutoencoderConfig(corruption="masking", noise_level=0.3))
    x = 0.1 + 0.9 * torch.rand(32, 1, 28, 28)
    original = x.clone()
    corrupted = model.corrupt(x)
    assert torch.equal(x, original), "corrupt must not modify its input"
    zeroed = corrupted == 0
    assert torch.equal(corrupted[~zeroed], x[~zeroed])  # kept pixels are unchanged
    assert zeroed.float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert not torch.equal(zeroed[0], zeroed[1])


def test_gaussian_corruption_has_the_requested_spread_and_stays_in_unit_interval():
    model = _mlp_autoencoder(config=AutoencoderConfig(corruption="gaussian", noise_level=0.1))
    x = torch.full((64, 1, 28, 28), 0.5)
    corrupted = model.corrupt(x)
    assert corrupted.min() >= 0 and corrupted.max() <= 1
    assert (corrupted - x).std().item() == pytest.approx(0.1, rel=0.05)
    clipped = model.corrupt(torch.ones(8, 1, 28, 28))
    assert clipped.max() == 1.0


def test_corruption_is_reproducible_with_a_generator():
    model = _mlp_autoencoder(config=AutoencoderConfig(corruption="masking", noise_level=0.5))
    x = torch.rand(2, 1, 28, 28)
    first = model.corrupt(x, generator=torch.Generator().manual_seed(3))
    second = model.corrupt(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, second)


# --- training contract ---------------------------------------------------------------------------


def test_training_step_updates_once_and_returns_detached_loss():
    model = _mlp_autoencoder()
    step = ManualStep(torch.optim.Adam(model.parameters(), lr=1e-3))
    before = [p.detach().clone() for p in model.parameters()]
    logs = model.training_step(Batch(torch.rand(4, 1, 28, 28)), step)
    assert set(logs) == {"loss"}
    assert logs["loss"].shape == () and not logs["loss"].requires_grad
    assert len(step.losses) == 1
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


def test_denoising_trains_on_corrupted_inputs_but_scores_clean_targets():
    model = _mlp_autoencoder(config=AutoencoderConfig(corruption="masking", noise_level=0.5))
    x = _digit_like_images(4)
    seen = []
    model.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    with torch.no_grad():
        model.decoder.net[-2].bias.fill_(2.0)  # logits far from 0, so the target matters
    step = ManualStep()  # records the loss, no optimizer: parameters stay fixed
    torch.manual_seed(0)
    model.training_step(Batch(x), step)
    torch.manual_seed(0)
    corrupted = model.corrupt(x)
    assert torch.equal(seen[0], corrupted) and not torch.equal(seen[0], x)
    with torch.no_grad():
        logits = model.decoder.logits(model.encoder(corrupted))
    clean_target = bernoulli_nll(logits, x)
    corrupted_target = bernoulli_nll(logits, corrupted)
    assert step.losses[0].item() == pytest.approx(clean_target.item(), rel=1e-5)
    assert abs(clean_target.item() - corrupted_target.item()) > 10


def test_evaluation_step_reports_clean_loss_and_per_pixel_mse():
    model = _mlp_autoencoder(config=AutoencoderConfig(corruption="masking", noise_level=0.5))
    x = torch.rand(6, 1, 28, 28)
    with torch.no_grad():
        metrics = model.evaluation_step(Batch(x))
        assert metrics["loss"].item() == pytest.approx(model.reconstruction_loss(x).mean().item(), rel=1e-6)
        assert metrics["mse"].item() == pytest.approx(((model(x) - x) ** 2).mean().item(), rel=1e-6)


@pytest.mark.parametrize("convolutional", [False, True])
def test_autoencoder_overfits_a_fixed_batch_of_16_images(convolutional):
    torch.manual_seed(0)
    x = _digit_like_images(16)
    if convolutional:
        model = Autoencoder(ConvEncoder(16, base_channels=8), ConvDecoder(16, base_channels=8))
    else:
        model = _mlp_autoencoder(latent_dim=16)
    step = ManualStep(torch.optim.Adam(model.parameters(), lr=3e-3))
    for _ in range(300):
        logs = model.training_step(Batch(x), step)
    initial, final = step.losses[0].item(), logs["loss"].item()
    assert initial > 500  # about 784 log 2 nats per image before training
    assert final < 1.0, f"loss fell only from {initial:.1f} to {final:.1f} nats per image"
    assert ((model(x) - x) ** 2).mean().item() < 1e-3


def test_denoising_autoencoder_learns_to_restore_masked_pixels():
    torch.manual_seed(0)
    x = _digit_like_images(16)
    model = _mlp_autoencoder(latent_dim=16, config=AutoencoderConfig(corruption="masking", noise_level=0.25))
    step = ManualStep(torch.optim.Adam(model.parameters(), lr=3e-3))
    for _ in range(300):
        model.training_step(Batch(x), step)
    with torch.no_grad():
        corrupted = model.corrupt(x)
        restored = model(corrupted)
    # The restored images are closer to the clean ones than the corrupted inputs were.
    assert ((restored - x) ** 2).mean() < 0.05 * ((corrupted - x) ** 2).mean()


# --- anomaly scores ------------------------------------------------------------------------------


def test_anomaly_scores_match_per_example_loss_in_batches_and_restore_mode():
    model = _mlp_autoencoder()
    model.train()
    x = torch.rand(10, 1, 28, 28)
    scores = anomaly_scores(model, x, batch_size=3)
    assert scores.shape == (10,) and not scores.requires_grad
    with torch.no_grad():
        assert torch.allclose(scores, model.reconstruction_loss(x), atol=1e-4)
    assert model.training


def test_anomaly_scores_rejects_bad_arguments():
    model = _mlp_autoencoder()
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        anomaly_scores(model, torch.rand(2, 1, 28, 28), batch_size=0)
    with pytest.raises(TypeError, match="reconstruction_loss"):
        anomaly_scores(torch.nn.Linear(2, 2), torch.rand(2, 1, 28, 28))
