"""Shapes, argument checks and input checks of the shared encoder/decoder networks."""
import pytest
import torch

from gentut.models.networks import MLP, ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder


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


def test_decoder_logits_are_unbounded_and_forward_applies_the_output_activation():
    decoder = MLPDecoder(2)
    with torch.no_grad():
        decoder.net[-2].bias.fill_(5.0)  # final Linear
    z = torch.zeros(1, 2)
    assert decoder.logits(z).min() > 1.0
    assert torch.allclose(decoder(z), torch.sigmoid(decoder.logits(z)))
    tanh = MLPDecoder(2, output="tanh")
    assert torch.allclose(tanh(z), torch.tanh(tanh.logits(z)))
    identity = ConvDecoder(2, output="identity")
    assert torch.equal(identity(z), identity.logits(z))


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
        (lambda: ConvEncoder(2, image_size=30), r"image_size must be divisible by 2\*\*depth = 4"),
        (lambda: ConvDecoder(2, image_size=14), r"image_size must be divisible by 2\*\*depth = 4"),
        (lambda: ConvEncoder(2, depth=3), r"divisible by 2\*\*depth = 8 .*pad=True to zero-pad the image to 32"),
        (lambda: ConvEncoder(2, depth=2, channels=(8,)), "one width per stride-2 stage, depth=2, got 1"),
        (lambda: ConvDecoder(2, output="softplus"), "output must be one of"),
        (lambda: MLPEncoder(2, init="xavier"), "init must be one of"),
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


# --- MLP (vectors) -------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_mlp_maps_vectors_to_vectors(activation):
    from gentut.models.networks import MLP

    net = MLP(2, 1, hidden=(16, 8), activation=activation)
    assert net(torch.randn(5, 2)).shape == (5, 1)
    assert (net.in_dim, net.out_dim, net.hidden) == (2, 1, (16, 8))
    linear = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(2, 16), (16, 8), (8, 1)]


def test_mlp_output_activation_bounds_the_output():
    from gentut.models.networks import MLP

    x = 100 * torch.randn(50, 3)
    sigmoid = MLP(3, 4, output="sigmoid")(x)
    tanh = MLP(3, 4, output="tanh")(x)
    assert sigmoid.min() >= 0 and sigmoid.max() <= 1
    assert tanh.min() >= -1 and tanh.max() <= 1
    assert MLP(3, 4, hidden=())(x).abs().max() > 1  # no activation, no hidden layer: linear


def test_mlp_rejects_inputs_of_the_wrong_width():
    from gentut.models.networks import MLP

    with pytest.raises(ValueError, match=r"MLP expected input of shape \(B, 2\), got \(B, 3\)"):
        MLP(2, 1)(torch.randn(4, 3))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda m: m(0, 1), "in_dim must be a positive int"),
        (lambda m: m(2, 1.5), "out_dim must be a positive int"),
        (lambda m: m(2, 1, hidden=(8, 0)), r"hidden\[1\] must be a positive int"),
        (lambda m: m(2, 1, activation="gelu"), "activation must be one of"),
        (lambda m: m(2, 1, output="softmax"), "output must be one of"),
    ],
)
def test_mlp_rejects_bad_arguments(build, message):
    from gentut.models.networks import MLP

    with pytest.raises(ValueError, match=message):
        build(MLP)


# --- MLPEncoder dropout --------------------------------------------------------------------------


def test_mlp_encoder_has_no_dropout_by_default_and_keeps_its_layers():
    encoder = MLPEncoder(1, activation="leaky_relu")
    assert encoder.dropout == 0.0
    assert not any(isinstance(m, torch.nn.Dropout) for m in encoder.modules())
    # the same layers, so the same state_dict keys as before the option existed
    assert list(encoder.state_dict()) == [
        "net.1.weight", "net.1.bias", "net.3.weight", "net.3.bias", "net.5.weight", "net.5.bias",
    ]
    assert list(MLPEncoder(1, dropout=0.3).state_dict()) == [
        "net.1.weight", "net.1.bias", "net.4.weight", "net.4.bias", "net.7.weight", "net.7.bias",
    ]


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_mlp_encoder_dropout_follows_each_hidden_activation(norm):
    encoder = MLPEncoder(1, hidden=(64, 32, 16), activation="leaky_relu", norm=norm, dropout=0.3)
    layers = list(encoder.net)
    dropouts = [i for i, m in enumerate(layers) if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 3
    for i in dropouts:
        assert isinstance(layers[i - 1], torch.nn.LeakyReLU)
        assert layers[i].p == 0.3
    assert isinstance(layers[-1], torch.nn.Linear)  # no dropout on the output
    assert encoder(torch.rand(5, 1, 28, 28)).shape == (5, 1)


def test_mlp_encoder_dropout_is_random_in_train_mode_and_off_in_eval_mode():
    torch.manual_seed(0)
    encoder = MLPEncoder(4, dropout=0.5)
    x = torch.rand(8, 1, 28, 28)
    encoder.train()
    assert not torch.allclose(encoder(x), encoder(x))
    encoder.eval()
    assert torch.equal(encoder(x), encoder(x))
    # eval mode with dropout equals the same weights without dropout
    plain = MLPEncoder(4).eval()
    plain.net[1].load_state_dict(encoder.net[1].state_dict())
    plain.net[3].load_state_dict(encoder.net[4].state_dict())
    plain.net[5].load_state_dict(encoder.net[7].state_dict())
    assert torch.allclose(plain(x), encoder(x))


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), True, "0.3", None])
def test_mlp_encoder_rejects_bad_dropout(bad):
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\)"):
        MLPEncoder(1, dropout=bad)


# --- depth, widths, sizes, feature taps, DCGAN init, spectral norm -------------------------------


@pytest.mark.parametrize("size, depth", [(28, 2), (32, 3), (64, 4), (28, 3)])
def test_conv_networks_take_any_size_that_halves_depth_times_or_pad_to_it(size, depth):
    pad = size % 2**depth != 0
    encoder = ConvEncoder(5, base_channels=4, image_size=size, depth=depth, pad=pad)
    decoder = ConvDecoder(5, base_channels=4, image_size=size, depth=depth, pad=pad)
    x = torch.rand(2, 1, size, size)
    assert encoder(x).shape == (2, 5)
    assert decoder(encoder(x)).shape == (2, 1, size, size)
    convs = [m for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [4 * 2**i for i in range(depth)]


def test_a_28_pixel_image_padded_for_depth_3_is_seen_as_32_and_cropped_back():
    encoder = ConvEncoder(2, depth=3, pad=True, base_channels=4)
    assert isinstance(encoder.net[0], torch.nn.ZeroPad2d)
    assert encoder.features(torch.rand(1, 1, 28, 28), block=0).shape == (1, 4, 16, 16)  # 32 / 2
    decoder = ConvDecoder(2, depth=3, pad=True, base_channels=4)
    assert decoder.net[0].out_features == 16 * 4 * 4  # a 4x4 map of the top width (4 * 2**2)


def test_default_conv_networks_keep_the_layers_the_chapters_were_trained_with():
    # Same modules in the same order: the same state_dict keys and the same random initialisation.
    assert list(ConvEncoder(32).state_dict()) == [
        "net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.5.weight", "net.5.bias",
    ]
    assert list(ConvDecoder(32).state_dict()) == [
        "net.0.weight", "net.0.bias", "net.3.weight", "net.3.bias", "net.5.weight", "net.5.bias",
    ]
    batch = list(ConvEncoder(32, norm="batch").state_dict())
    assert batch[:5] == ["net.0.weight", "net.0.bias", "net.2.weight", "net.3.weight", "net.3.bias"]


def test_channels_can_be_given_stage_by_stage():
    encoder = ConvEncoder(2, channels=(8, 16, 16), depth=3, image_size=32)
    decoder = ConvDecoder(2, channels=(8, 16, 16), depth=3, image_size=32)
    assert [m.out_channels for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)] == [8, 16, 16]
    assert [m.out_channels for m in decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)] == [16, 8, 1]


def test_batch_norm_skips_the_encoders_first_layer_and_the_decoders_output():
    encoder = ConvEncoder(1, depth=3, image_size=32, norm="batch")
    decoder = ConvDecoder(4, depth=3, image_size=32, norm="batch")
    layers = list(encoder.net)
    assert not isinstance(layers[1], torch.nn.BatchNorm2d)  # conv, then straight to LeakyReLU/ReLU
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in layers) == 2
    assert isinstance(list(decoder.net)[-1], torch.nn.ConvTranspose2d)


@pytest.mark.parametrize("make", [lambda: MLPEncoder(3, hidden=(16, 8)), lambda: ConvEncoder(3, base_channels=4)])
def test_feature_taps_return_each_hidden_blocks_activations(make):
    encoder = make()
    x = torch.rand(2, 1, 28, 28)
    first, last = encoder.features(x, 0), encoder.features(x)
    assert last.shape[1:] == ((8,) if isinstance(encoder, MLPEncoder) else (8, 7, 7))
    assert first.shape[1:] == ((16,) if isinstance(encoder, MLPEncoder) else (4, 14, 14))
    assert (last >= 0).all()  # after the block's ReLU
    with pytest.raises(ValueError, match=r"block must be an int in \[-2, 2\), got 2"):
        encoder.features(x, 2)


def test_dcgan_init_draws_weights_from_n_0_0_02_and_batch_norm_scales_around_1():
    torch.manual_seed(0)
    decoder = ConvDecoder(100, base_channels=64, depth=3, image_size=32, norm="batch", init="dcgan")
    weights = torch.cat([m.weight.flatten() for m in decoder.modules()
                         if isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d))])
    assert abs(weights.mean().item()) < 1e-3 and weights.std().item() == pytest.approx(0.02, rel=0.02)
    scales = torch.cat([m.weight for m in decoder.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert scales.mean().item() == pytest.approx(1.0, abs=0.01)
    assert all(m.bias is None or (m.bias == 0).all() for m in decoder.modules() if isinstance(m, torch.nn.Linear))


def test_spectral_norm_option_normalises_every_layer():
    encoder = ConvEncoder(1, base_channels=4, spectral_norm=True)
    layers = [m for m in encoder.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    assert encoder.options["spectral_norm"] is True
    with pytest.raises(TypeError, match="spectral_norm must be a bool"):
        MLP(2, 1, spectral_norm="yes")


def test_networks_record_the_options_they_were_built_with():
    assert MLPDecoder(4, hidden=[8]).options == {
        "latent_dim": 4, "hidden": (8,), "image_shape": (1, 28, 28), "activation": "relu", "norm": "none",
        "output": "sigmoid", "init": "default", "spectral_norm": False,
    }


def test_label_conditioning_joins_one_hot_labels_as_channels_or_features():
    from gentut.models.networks import LabelConditioned

    encoder = LabelConditioned(MLPEncoder(4, image_shape=(4, 8, 8), hidden=(8,)), 3)
    decoder = LabelConditioned(MLPDecoder(5, image_shape=(1, 8, 8), hidden=(8,)), 3)
    assert encoder.image_shape == (1, 8, 8) and decoder.latent_dim == 2 and encoder.out_dim == 4
    x, y = torch.rand(2, 1, 8, 8), torch.tensor([0, 2])
    joined = encoder.join(x, y)
    assert joined.shape == (2, 4, 8, 8)
    assert (joined[0, 1] == 1).all() and (joined[0, 2:] == 0).all() and (joined[1, 3] == 1).all()
    assert decoder(torch.zeros(2, 2), y).shape == (2, 1, 8, 8)
    assert torch.equal(decoder.join(torch.zeros(2, 2), y)[:, 2:], torch.tensor([[1.0, 0, 0], [0, 0, 1]]))
    with pytest.raises(ValueError, match="needs y, one int per example"):
        decoder(torch.zeros(2, 2), None)
    with pytest.raises(ValueError, match=r"integer tensor of shape \(2,\)"):
        decoder(torch.zeros(2, 2), torch.zeros(2))
    with pytest.raises(TypeError, match="one of gentut's networks"):
        LabelConditioned(torch.nn.Linear(2, 2), 2)


@pytest.mark.parametrize("image_size, depth, pad", [(28, 2, False), (28, 3, True), (32, 3, False), (64, 4, False)])
def test_resize_upsampling_gives_the_same_shapes_as_transposed_convolutions(image_size, depth, pad):
    z = torch.randn(3, 5)
    shapes = {kind: ConvDecoder(5, image_size=image_size, depth=depth, pad=pad, base_channels=4, upsample=kind)(z).shape
              for kind in ("transposed", "resize")}
    assert shapes["transposed"] == shapes["resize"] == (3, 1, image_size, image_size)


def test_a_transposed_convolution_paints_a_checkerboard_from_a_constant_input_and_resizing_does_not():
    torch.manual_seed(0)
    constant = torch.ones(1, 8, 6, 6)  # the first stage takes the 8 channels of the 7x7 map
    transposed = ConvDecoder(2, upsample="transposed", base_channels=4).net[3]  # the first upsampling stage
    resize = ConvDecoder(2, upsample="resize", base_channels=4).net[3:5]
    assert isinstance(transposed, torch.nn.ConvTranspose2d) and isinstance(resize[0], torch.nn.Upsample)
    with torch.no_grad():
        inner_t, inner_r = transposed(constant)[..., 2:-2, 2:-2], resize(constant)[..., 2:-2, 2:-2]  # (1, C, 8, 8)
    # period 2: even and odd pixels differ, and every second pixel repeats
    assert (inner_t[..., 0::2, :] - inner_t[..., 1::2, :]).abs().max() > 1e-3
    assert torch.allclose(inner_t[..., 0::2, 0::2], inner_t[..., 0:1, 0:1].expand_as(inner_t[..., 0::2, 0::2]))
    assert torch.allclose(inner_r, inner_r[..., :1, :1].expand_as(inner_r), atol=1e-6)


def test_an_unknown_upsampling_is_a_clear_error():
    with pytest.raises(ValueError, match="upsample"):
        ConvDecoder(2, upsample="bilinear")
