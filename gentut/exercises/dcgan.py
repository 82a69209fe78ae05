"""Checkers for the exercises of the DCGAN chapter: the output size of a convolution and of a
transposed convolution, and DCGAN's weight initialisation."""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from gentut.exercises.checks import _call, _fail, _passed
from gentut.models.networks import DCGAN_INIT_STD

__all__ = ["check_conv_output_size", "check_transposed_output_size", "check_dcgan_init"]

# (size, kernel, stride, padding): DCGAN's own layers first, then cases where the floor matters
# (an odd size through stride 2), kernels larger than the stride, and no padding.
CONV_CASES = [(28, 4, 2, 1), (14, 4, 2, 1), (64, 4, 2, 1), (7, 3, 1, 1), (28, 5, 2, 2), (7, 4, 2, 1),
              (15, 3, 2, 0), (9, 4, 3, 1), (32, 5, 1, 0), (10, 2, 2, 0), (5, 3, 2, 1), (13, 7, 3, 2)]
# (size, kernel, stride, padding, output_padding): the book's generators (7 -> 14 -> 28, 4 -> 8)
# and cases where output_padding or an odd kernel matters.
TRANSPOSED_CASES = [(7, 4, 2, 1, 0), (14, 4, 2, 1, 0), (4, 4, 2, 1, 0), (1, 4, 1, 0, 0), (7, 3, 2, 1, 1),
                    (5, 5, 2, 2, 0), (6, 3, 2, 0, 0), (3, 4, 3, 1, 2), (10, 2, 2, 0, 0), (8, 5, 1, 2, 0)]


def _measured_conv(size: int, kernel: int, stride: int, padding: int) -> int:
    layer = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, bias=False)
    return layer(torch.zeros(1, 1, size, size)).shape[-1]


def _measured_transposed(size: int, kernel: int, stride: int, padding: int, output_padding: int) -> int:
    layer = nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding, output_padding=output_padding,
                               bias=False)
    return layer(torch.zeros(1, 1, size, size)).shape[-1]


def _int_result(fn: Callable[..., Any], args: tuple[int, ...], what: str) -> int:
    got = _call(fn, *args, what=what)
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, float) and got.is_integer():
        _fail(f"your {what} returned the float {got!r} for {args}; a size is a whole number: use integer "
              "division // (which floors), not /")
    if isinstance(got, bool) or not isinstance(got, int):
        _fail(f"your {what} should return an int, got {type(got).__name__} ({got!r}) for {args}")
    return got


def _check_sizes(fn: Callable[..., Any], cases: list[tuple[int, ...]], measure: Callable[..., int], what: str,
                 layer: str, names: tuple[str, ...], mistakes: list[tuple[Callable[..., int], str]]) -> None:
    """Compare the reader's size function with what `layer` returns on every case; when it fails,
    name the first known mistake that gives the reader's numbers on every case."""
    got = [_int_result(fn, case, what) for case in cases]
    expected = [measure(*case) for case in cases]
    if got == expected:
        return
    hint = next((text for wrong, text in mistakes if [wrong(*case) for case in cases] == got), "")
    i = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
    where = ", ".join(f"{name} {value}" for name, value in zip(names, cases[i]))
    _fail(f"for {where}, {layer} returns a side of {expected[i]}, your function {got[i]}. {hint}".rstrip())


def check_conv_output_size(fn: Callable[[int, int, int, int], int]) -> None:
    """Check ``fn(size, kernel, stride, padding)``: the side of the map that ``nn.Conv2d`` returns
    for a square input of side `size`. Expected: floor((size + 2 padding - kernel) / stride) + 1,
    compared with what the layer itself returns on every case."""
    mistakes = [
        (lambda n, k, s, p: (n + 2 * p - k) // s, "You forgot the +1: a kernel that fits once gives one output."),
        (lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1,
         "You rounded up; the layer drops a last, incomplete window, so the division floors."),
        (lambda n, k, s, p: (n + p - k) // s + 1, "The padding goes on both sides: size + 2 * padding."),
        (lambda n, k, s, p: (n - k) // s + 1, "You left out the padding (size + 2 * padding)."),
        (lambda n, k, s, p: n // s, "size // stride holds only for DCGAN's kernel 4, padding 1 (and even sizes); "
         "use the general formula."),
    ]
    _check_sizes(fn, CONV_CASES, _measured_conv, "convolution output size", "nn.Conv2d",
                 ("size", "kernel", "stride", "padding"), mistakes)
    _passed(f"your function matches nn.Conv2d on all {len(CONV_CASES)} cases, including odd sizes at "
            "stride 2 where the floor matters.")


def check_transposed_output_size(fn: Callable[..., int]) -> None:
    """Check ``fn(size, kernel, stride, padding, output_padding)``: the side of the map that
    ``nn.ConvTranspose2d`` returns. Expected: (size - 1) stride - 2 padding + kernel +
    output_padding, compared with what the layer itself returns on every case."""
    mistakes = [
        (lambda n, k, s, p, op: n * s - 2 * p + k + op, "It is (size - 1) * stride: the kernel is stamped at size "
         "positions, stride apart, so the first and last stamps are (size - 1) * stride apart."),
        (lambda n, k, s, p, op: (n - 1) * s - p + k + op, "Padding crops both sides: - 2 * padding."),
        (lambda n, k, s, p, op: (n - 1) * s - 2 * p + k, "You left out output_padding, which adds to one side."),
        (lambda n, k, s, p, op: (n - 1) * s + k + op, "You left out the padding, which crops the output."),
        (lambda n, k, s, p, op: n * s, "size * stride holds only for kernel 4, stride 2, padding 1; use the "
         "general formula."),
    ]
    _check_sizes(fn, TRANSPOSED_CASES, _measured_transposed, "transposed convolution output size",
                 "nn.ConvTranspose2d", ("size", "kernel", "stride", "padding", "output_padding"), mistakes)
    _passed(f"your function matches nn.ConvTranspose2d on all {len(TRANSPOSED_CASES)} cases.")


def _init_test_network() -> nn.Module:
    # Every kind of layer a DCGAN holds, big enough that a standard deviation is measured to ~2%.
    # The sizes are chosen so that PyTorch's default initialisation of each layer (uniform, with a
    # standard deviation of 1 / sqrt(3 fan_in)) is at least 25% away from 0.02: a layer the
    # reader's function skips cannot pass by accident.
    return nn.Sequential(nn.Linear(100, 2048), nn.Unflatten(1, (128, 4, 4)),
                         nn.ConvTranspose2d(128, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Conv2d(32, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
                         nn.Conv2d(128, 1, 4, 1, 0))


def _describe(name: str, tensor: torch.Tensor) -> str:
    return f"{name}: mean {tensor.mean().item():.4f}, standard deviation {tensor.std().item():.4f}"


def check_dcgan_init(fn: Callable[[nn.Module], Any]) -> None:
    """Check ``fn(module)``, which initialises a network in place as DCGAN does: the weights of
    every Linear, Conv2d and ConvTranspose2d from N(0, 0.02) and their biases 0; batch-norm scales
    from N(1, 0.02) and shifts 0. It is applied to a network with all of these layers."""
    std = DCGAN_INIT_STD
    torch.manual_seed(0)
    net = _init_test_network()
    state = torch.random.get_rng_state()
    _call(fn, net, what="initialiser")
    if torch.equal(state, torch.random.get_rng_state()):
        _fail("your initialiser drew no random numbers: the weights must be drawn from N(0, 0.02), "
              "for example with nn.init.normal_(weight, 0.0, 0.02)")
    for name, layer in net.named_children():
        label = f"layer {name} ({type(layer).__name__})"
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            w = layer.weight.detach()
            mean, spread = w.mean().item(), w.std().item()
            if abs(spread - std) > 0.1 * std or abs(mean) > 0.1 * std:
                hint = ""
                if abs(spread - math.sqrt(std)) < 0.1 * math.sqrt(std):
                    hint = " 0.02 is the standard deviation, not the variance."
                elif abs(spread - std ** 2) < 0.1 * std ** 2:
                    hint = " You squared 0.02: nn.init.normal_ takes the standard deviation."
                elif isinstance(layer, nn.ConvTranspose2d):
                    hint = (" nn.ConvTranspose2d is not a subclass of nn.Conv2d: test for both (or for "
                            "nn.modules.conv._ConvNd).")
                elif isinstance(layer, nn.Linear):
                    hint = " The generator's projection of z is a Linear layer; DCGAN initialises it too."
                _fail(f"{label} weights: {_describe('got', w)}, expected mean 0 and standard deviation {std}.{hint}")
            if layer.bias is not None and layer.bias.detach().abs().max() > 0:
                _fail(f"{label} biases should be 0 (nn.init.zeros_), got values up to "
                      f"{layer.bias.detach().abs().max().item():.4f}")
        elif isinstance(layer, nn.BatchNorm2d):
            scale, shift = layer.weight.detach(), layer.bias.detach()
            if abs(scale.mean().item() - 1) < 0.1 and abs(scale.std().item() - std) < 0.5 * std \
                    and shift.abs().max() == 0:
                continue
            if abs(scale.mean().item()) < 0.1:
                _fail(f"{label} scales: {_describe('got', scale)}. A batch norm's scale multiplies its output: "
                      "centred on 0 it silences the layer. Draw it from N(1, 0.02).")
            if scale.std().item() == 0:
                _fail(f"{label} scales are all {scale[0].item():.4g}; DCGAN draws them from N(1, 0.02)")
            if shift.abs().max() > 0:
                _fail(f"{label} shifts should be 0, got values up to {shift.abs().max().item():.4f}")
            _fail(f"{label} scales: {_describe('got', scale)}, expected mean 1 and standard deviation {std}")
    _passed("every Linear and (transposed) convolution has weights from N(0, 0.02) and zero biases, every "
            "batch norm scales from N(1, 0.02) and zero shifts.")
