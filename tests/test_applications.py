"""The applications of the closing chapter, checked where the answer is known in closed form."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gentut.applications import (add_noise, center_mask, code_rate_distortion, decoder_of, denoising_errors,
                                 encoder_of, filter_denoise, inpaint_by_search, inpaint_mean, inpaint_nearest,
                                 jpeg_rate_distortion, linear_probe, masked_error, pca_rate_distortion, quantize)
from gentut.data import make_synthetic_digits
from gentut.models import GAN, VAE, Autoencoder, GANConfig, LabelConditioned, MLPDecoder, MLPEncoder, VAEConfig

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    return make_synthetic_digits(300, seed=0, split="train"), make_synthetic_digits(40, seed=1, split="test")


def test_quantisation_error_is_at_most_half_a_step_inside_the_range():
    values = torch.rand(1000, 3) * torch.tensor([1.0, 2.0, 4.0])
    low, high = torch.zeros(3), torch.tensor([1.0, 2.0, 4.0])
    for bits in (1, 4, 8):
        step = (high - low) / (2**bits - 1)
        error = (quantize(values, bits, low, high) - values).abs()
        assert (error <= step / 2 + 1e-6).all()
        assert len(torch.unique(quantize(values, bits, low, high)[:, 0])) <= 2**bits
    assert quantize(torch.tensor([[-5.0, 9.0, 4.0]]), 4, low, high).tolist() == [[0.0, 2.0, 4.0]]  # clipped


def test_pca_rate_distortion_falls_with_bits_and_matches_the_exact_reconstruction_at_many_bits(digits):
    from sklearn.decomposition import PCA

    train, test = digits
    rows = pca_rate_distortion(train.images, test.images, components=16, bits=(2, 4, 8, 16))
    assert [r["rate"] for r in rows] == [32, 64, 128, 256]
    mses = [r["mse"] for r in rows]
    assert mses == sorted(mses, reverse=True)
    pca = PCA(16, random_state=0).fit(train.images.flatten(1).numpy())
    exact = pca.inverse_transform(pca.transform(test.images.flatten(1).numpy()))
    exact_mse = float(((torch.from_numpy(exact).float() - test.images.flatten(1)) ** 2).mean())
    assert rows[-1]["mse"] == pytest.approx(exact_mse, rel=0.02)  # 16 bits: quantisation is negligible


def test_a_perfect_code_has_only_quantisation_error(digits):
    train, test = digits
    identity = lambda x: x.flatten(1)  # noqa: E731  a "code" that is the image itself
    decode = lambda z: z.reshape(-1, 1, 28, 28)  # noqa: E731
    rows = code_rate_distortion(identity, decode, train.images, test.images, bits=(1, 8))
    assert rows[0]["rate"] == 784 and rows[1]["rate"] == 784 * 8
    # 8 bits: a step of 1/255 (MSE ~1e-6) plus the clipping of pixels beyond the 99.5th percentile
    assert rows[1]["mse"] < 2e-4 and rows[0]["mse"] > 10 * rows[1]["mse"]


def test_jpeg_spends_more_bits_for_less_error_at_higher_quality(digits):
    _, test = digits
    rows = jpeg_rate_distortion(test.images[:10], qualities=(10, 50, 95))
    assert [r["rate"] for r in rows] == sorted(r["rate"] for r in rows)
    assert [r["mse"] for r in rows] == sorted((r["mse"] for r in rows), reverse=True)
    assert rows[-1]["mse"] < 1e-3
    with pytest.raises(ValueError, match="grey-scale images"):
        jpeg_rate_distortion(torch.rand(2, 3, 8, 8))


def test_the_noisy_input_row_is_sigma_squared_and_filters_help_on_smooth_images():
    torch.manual_seed(0)
    smooth = torch.full((20, 1, 28, 28), 0.5)  # far from the clipping edges
    table = denoising_errors({"gaussian": lambda x: filter_denoise(x, "gaussian", 1.0),
                              "median": lambda x: filter_denoise(x, "median", 3)}, smooth, sigmas=(0.05, 0.1))
    for sigma in (0.05, 0.1):
        assert table["noisy input"][sigma] == pytest.approx(sigma**2, rel=0.05)
        assert table["gaussian"][sigma] < table["noisy input"][sigma] / 4
        assert table["median"][sigma] < table["noisy input"][sigma]
    assert add_noise(smooth, 0.0).equal(smooth)
    with pytest.raises(ValueError, match="sigma must be a finite number"):
        add_noise(smooth, float("inf"))
    with pytest.raises(ValueError, match="kind must be 'gaussian' or 'median'"):
        filter_denoise(smooth, "wiener", 3)


def test_mean_and_nearest_fills_keep_the_visible_pixels_and_nearest_finds_a_training_image(digits):
    train, _ = digits
    mask = center_mask((1, 28, 28), 10)
    assert mask.sum() == 784 - 100 and mask[0, 0, 14, 14] == 0 and mask[0, 0, 0, 0] == 1
    images = train.images[:5]
    nearest = inpaint_nearest(train.images, images, mask)
    assert torch.equal(nearest, images)  # each image is its own nearest training image
    mean = inpaint_mean(train.images, images, mask)
    assert torch.equal(mean * mask, images * mask)
    assert torch.allclose(mean[0] * (1 - mask[0]), train.images.mean(0) * (1 - mask[0]))
    assert masked_error(nearest, images, mask) == 0 and masked_error(mean, images, mask) > 0


def test_searching_the_code_of_a_linear_decoder_recovers_the_hidden_pixels():
    # decode(z) = W z + b: the visible pixels determine z, so the hidden ones follow exactly
    torch.manual_seed(0)
    decoder = nn.Linear(4, 784)

    def decode(z):
        return torch.sigmoid(decoder(z)).reshape(-1, 1, 28, 28)

    truth = torch.randn(6, 4)
    with torch.no_grad():
        images = decode(truth)
    mask = center_mask((1, 28, 28), 12)
    filled = inpaint_by_search(decode, 4, images, mask, steps=300, lr=0.1, restarts=2, prior_weight=0.0)
    assert masked_error(filled, images, mask) < 1e-4
    assert torch.equal(filled * mask, images * mask)
    with pytest.raises(ValueError, match="restarts must be a positive int"):
        inpaint_by_search(decode, 4, images, mask, restarts=0)


def test_encoders_and_decoders_of_the_book_s_models():
    ae = Autoencoder(MLPEncoder(4, hidden=(8,)), MLPDecoder(4, hidden=(8,)))
    vae = VAE(MLPEncoder(8, hidden=(8,)), MLPDecoder(4, hidden=(8,)), config=VAEConfig(latent_dim=4))
    gan = GAN(MLPDecoder(4, hidden=(8,), norm="batch"), MLPEncoder(1, hidden=(8,)), config=GANConfig(latent_dim=4))
    x = torch.rand(5, 1, 28, 28)
    assert encoder_of(ae)(x).shape == (5, 4) and encoder_of(vae)(x).shape == (5, 4)
    assert torch.allclose(encoder_of(vae)(x), vae.encode(x)[0])  # the posterior mean
    with pytest.raises(TypeError, match="GAN has no encoder"):
        encoder_of(gan)
    z = torch.randn(5, 4, requires_grad=True)
    gan.train()
    images = decoder_of(gan)(z)
    assert images.shape == (5, 1, 28, 28) and images.requires_grad and gan.training  # eval inside, mode restored


def test_a_linear_probe_separates_separable_features_and_not_random_labels():
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(600) % 3
    features = torch.nn.functional.one_hot(labels, 3).float() * 5 + torch.randn(600, 3, generator=generator)
    accuracy = linear_probe(features[:500], labels[:500], features[500:], labels[500:], sizes=(30, None))
    assert accuracy[30] > 0.9 and accuracy["all"] > 0.95
    noise = torch.randn(600, 3, generator=generator)
    chance = linear_probe(noise[:500], labels[:500], noise[500:], labels[500:], sizes=(None,))
    assert abs(chance["all"] - 1 / 3) < 0.15
    with pytest.raises(ValueError, match=r"sizes must be ints in \[1, 500\] or None"):
        linear_probe(features[:500], labels[:500], features[500:], labels[500:], sizes=(1000,))


def test_evaluate_applications_measures_every_model_the_way_the_single_functions_do(digits):
    from gentut.applications import evaluate_applications

    train, test = digits
    torch.manual_seed(0)
    autoencoder = Autoencoder(MLPEncoder(8, hidden=(32,)), MLPDecoder(8, hidden=(32,)))
    gan = GAN(MLPDecoder(4, hidden=(32,)), MLPEncoder(1, hidden=(32,)), config=GANConfig(latent_dim=4))
    conditional = VAE(LabelConditioned(MLPEncoder(8, image_shape=(11, 28, 28), hidden=(32,)), 10),
                      LabelConditioned(MLPDecoder(4 + 10, hidden=(32,)), 10), config=VAEConfig(latent_dim=4, num_classes=10))
    lines = []
    result = evaluate_applications({"AE": autoencoder, "GAN": gan, "cVAE": conditional}, train, test, n=30,
                                   bits=(2, 8), pca_components=(4,), jpeg_qualities=(10,), sigmas=(0.1, 0.3),
                                   n_inpaint=6, search_steps=2, restarts=1, probe_sizes=(50, None), examples=3,
                                   log=lines.append)
    assert result["models"] == ["AE", "GAN"]  # the conditional model is left out, by name
    compression = result["compression"]
    assert list(compression["models"]) == ["AE"] and compression["latent_dims"] == {"AE": 8}  # a GAN has no encoder
    assert [r["rate"] for r in compression["models"]["AE"]] == [16, 64]
    assert compression["pca"]["4"] == pca_rate_distortion(train.images, test.images[:30], 4, bits=(2, 8))
    denoising = result["denoising"]
    assert set(denoising["mse"]) == {"noisy input", "AE", "gaussian filter (0.7)", "gaussian filter (1)", "median filter (3)"}
    noisy = add_noise(test.images[:30], 0.3, seed=0)
    assert denoising["mse"]["noisy input"][1] == pytest.approx(float(((noisy - test.images[:30]) ** 2).mean()))
    assert denoising["mse"]["median filter (3)"][0] == pytest.approx(
        float(((filter_denoise(add_noise(test.images[:30], 0.1), "median", 3) - test.images[:30]) ** 2).mean()))
    inpainting = result["inpainting"]
    mask = center_mask((1, 28, 28), 12)
    targets = test.images[:6]
    assert inpainting["mse"]["mean image"] == pytest.approx(masked_error(inpaint_mean(train.images, targets, mask), targets, mask))
    assert set(inpainting["mse"]) == {"mean image", "nearest training image", "AE", "GAN"}
    assert inpainting["examples"]["masked"]["shape"] == [3, 1, 28, 28]
    probe = result["representation"]
    assert probe["sizes"] == ["50", "all"] and probe["n_train"] == len(train) and probe["n_test"] == len(test)
    assert set(probe["accuracy"]) == {"raw pixels", "PCA (4 components)", "AE"}
    assert probe["accuracy"]["raw pixels"]["all"] > 0.5  # ten classes of synthetic digits: chance is 0.1
    assert any("inpainting" in line for line in lines)
