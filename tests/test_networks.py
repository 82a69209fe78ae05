"""Shapes, argument checks and input checks of the shared encoder/decoder networks."""
import pytest
import torch

from gentut.models.networks import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder


@pytest.mark.parametrize("norm", ["none", "batch"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_mlp_encoder_and_decoder_round_trip_digit_shapes(norm, activation):
    encoder = MLPEncoder(16, norm=norm, activation=activation)
    decoder = MLPDecoder(16, norm=norm, activation=activation)
    x = torch.rand(4, 1, 28, 28)
    z = encoder(x)
    assert z.shape == (4, 16)
    assert decoder(z).shape == (4, 1, 28, 28)


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_conv_encoder_and_decoder_round_trip_digit_shapes(norm):
    encoder = ConvEncoder(8, norm=norm)
    decoder = ConvDecoder(8, norm=norm)
    z = encoder(torch.rand(3, 1, 28, 28))
    assert z.shape == (3, 8)
    assert decoder(z).shape == (3, 1, 28, 28)


def test_encoder_with_out_dim_one_is_a_discriminator_and_two_latent_is_a_vae_head():
    assert ConvEncoder(1, activation="leaky_relu")(torch.rand(2, 1, 28, 28)).shape == (2, 1)
    assert MLPEncoder(2 * 5)(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_mlp_networks_handle_small_8x8_images():
    encoder = MLPEncoder(4, image_shape=(1, 8, 8), hidden=(32,))
    decoder = MLPDecoder(4, image_shape=(1, 8, 8), hidden=(32,))
    assert decoder(encoder(torch.rand(5, 1, 8, 8))).shape == (5, 1, 8, 8)


def test_conv_networks_follow_image_size_and_channels():
    encoder = ConvEncoder(3, in_channels=3, image_size=32, base_channels=8)
    decoder = ConvDecoder(3, out_channels=3, image_size=32, base_channels=8)
    assert decoder(encoder(torch.rand(2, 3, 32, 32))).shape == (2, 3, 32, 32)


def test_conv_encoder_downsamples_28_to_14_to_7():
    encoder = ConvEncoder(2, base_channels=4)
    features = encoder.net[:3](torch.rand(1, 1, 28, 28))  # conv, act, conv
    assert features.shape == (1, 8, 7, 7)


def test_decoder_outputs_unbounded_logits_not_probabilities():
    decoder = MLPDecoder(2)
    with torch.no_grad():
        decoder.net[-2].bias.fill_(5.0)  # final Linear
    assert decoder(torch.zeros(1, 2)).min() > 1.0


def test_conv_encoder_rejects_flattened_input_naming_expected_shape():
    with pytest.raises(ValueError, match=r"ConvEncoder expected input of shape \(B, 1, 28, 28\), got \(B, 784\)"):
        ConvEncoder(2)(torch.rand(4, 784))


def test_mlp_encoder_rejects_wrong_image_size():
    with pytest.raises(ValueError, match=r"MLPEncoder expected input of shape \(B, 1, 28, 28\), got \(B, 1, 8, 8\)"):
        MLPEncoder(2)(torch.rand(4, 1, 8, 8))


def test_decoders_reject_codes_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"MLPDecoder expected input of shape \(B, 3\), got \(B, 4\)"):
        MLPDecoder(3)(torch.rand(2, 4))
    with pytest.raises(ValueError, match=r"ConvDecoder expected input of shape \(B, 3\)"):
        ConvDecoder(3)(torch.rand(2, 1, 3))


def test_forward_rejects_non_tensor_input():
    with pytest.raises(TypeError, match="expected a torch.Tensor"):
        MLPEncoder(2)([[0.0]])


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: MLPEncoder(0), "out_dim must be a positive int"),
        (lambda: MLPEncoder(2.5), "out_dim must be a positive int"),
        (lambda: MLPEncoder(True), "out_dim must be a positive int"),
        (lambda: MLPEncoder(2, hidden=(64, -1)), r"hidden\[1\] must be a positive int"),
        (lambda: MLPEncoder(2, image_shape=(28, 28)), "image_shape must be a"),
        (lambda: MLPDecoder(-3), "latent_dim must be a positive int"),
        (lambda: MLPDecoder(2, norm="layer"), "norm must be one of"),
        (lambda: ConvEncoder(2, image_size=30), "image_size must be divisible by 4"),
        (lambda: ConvDecoder(2, image_size=14), "image_size must be divisible by 4"),
        (lambda: ConvDecoder(2, base_channels=0), "base_channels must be a positive int"),
        (lambda: ConvEncoder(2, activation="tanh"), "activation must be one of"),
    ],
)
def test_constructors_reject_bad_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_networks_record_their_sizes_for_compatibility_checks():
    assert MLPEncoder(7).out_dim == 7
    assert ConvDecoder(7).latent_dim == 7
    assert ConvEncoder(7, image_size=12).image_shape == (1, 12, 12)
