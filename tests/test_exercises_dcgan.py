"""Exercise checkers of the DCGAN chapter: the reference passes, each typical mistake fails with its own message."""
import math

import pytest
import torch
from torch import nn

from gentut.exercises import (
    ExerciseCheckError,
    check_conv_output_size,
    check_dcgan_init,
    check_transposed_output_size,
)
from gentut.models.networks import dcgan_init_

# --- output sizes --------------------------------------------------------------------------------


def test_conv_size_checker_accepts_the_formula(capsys):
    check_conv_output_size(lambda n, k, s, p: (n + 2 * p - k) // s + 1)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda n, k, s, p: (n + 2 * p - k) // s, "forgot the \\+1"),
        (lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1, "rounded up"),
        (lambda n, k, s, p: (n + p - k) // s + 1, "both sides"),
        (lambda n, k, s, p: (n - k) // s + 1, "left out the padding"),
        (lambda n, k, s, p: n // s, "only for DCGAN's kernel 4"),
        (lambda n, k, s, p: (n + 2 * p - k) / s + 1, "integer division|should return an int"),
        (lambda n, k, s, p: str(n), "should return an int"),
        (lambda n, k, s: n, "raised TypeError"),
    ],
)
def test_conv_size_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_conv_output_size(wrong)


def test_transposed_size_checker_accepts_the_formula(capsys):
    check_transposed_output_size(lambda n, k, s, p, op: (n - 1) * s - 2 * p + k + op)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda n, k, s, p, op: n * s - 2 * p + k + op, "\\(size - 1\\) \\* stride"),
        (lambda n, k, s, p, op: (n - 1) * s - p + k + op, "crops both sides"),
        (lambda n, k, s, p, op: (n - 1) * s - 2 * p + k, "output_padding"),
        (lambda n, k, s, p, op: n * s, "only for kernel 4"),
        # the convolution's formula run backwards is a plausible guess that fails on odd kernels
        (lambda n, k, s, p, op: (n - 1) * s + k - 2 * p + op + (1 if k % 2 else 0), "returns a side of"),
    ],
)
def test_transposed_size_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_transposed_output_size(wrong)


# --- initialisation ------------------------------------------------------------------------------


def test_init_checker_accepts_the_packages_initialiser(capsys):
    check_dcgan_init(dcgan_init_)
    assert capsys.readouterr().out.startswith("Correct:")


def test_init_checker_accepts_a_hand_written_initialiser_applied_with_module_apply(capsys):
    def init(module):
        def one(m):
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
        module.apply(one)

    check_dcgan_init(init)
    assert capsys.readouterr().out.startswith("Correct:")


def _initialiser(*, layers=(nn.Linear, nn.Conv2d, nn.ConvTranspose2d), std=0.02, bn_mean=1.0, bn_std=0.02,
                 bias=0.0):
    def init(module):
        for m in module.modules():
            if isinstance(m, layers):
                nn.init.normal_(m.weight, 0.0, std)
                nn.init.constant_(m.bias, bias)
            elif isinstance(m, nn.BatchNorm2d):
                if bn_std:
                    nn.init.normal_(m.weight, bn_mean, bn_std)
                else:
                    nn.init.constant_(m.weight, bn_mean)
                nn.init.zeros_(m.bias)
    return init


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda module: None, "drew no random numbers"),
        (_initialiser(std=math.sqrt(0.02)), "not the variance"),
        (_initialiser(std=0.02 ** 2), "squared 0.02"),
        (_initialiser(layers=(nn.Linear, nn.Conv2d)), "not a subclass of nn.Conv2d"),
        (_initialiser(layers=(nn.Conv2d, nn.ConvTranspose2d)), "projection of z is a Linear"),
        (_initialiser(bn_mean=0.0), "silences the layer"),
        (_initialiser(bn_std=0.0), "scales are all 1"),
        (_initialiser(bias=0.1), "biases should be 0"),
    ],
)
def test_init_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_dcgan_init(wrong)


def test_a_layer_left_at_pytorchs_default_init_does_not_pass():
    # Only the convolutions initialised: the Linear layer keeps PyTorch's uniform default
    def init(module):
        for m in module.modules():
            if isinstance(m, nn.modules.conv._ConvNd):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    with pytest.raises(ExerciseCheckError, match="layer 0 \\(Linear\\)"):
        check_dcgan_init(init)
    torch.manual_seed(0)
