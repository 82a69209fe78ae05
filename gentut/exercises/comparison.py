"""Checkers for the exercises of the closing chapter: the ROC AUC written from its definition as a
probability, and the uniform quantiser that turns a code into bits."""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from gentut.applications import quantize
from gentut.exercises.checks import _as_tensor, _call, _compare, _fail, _passed
from gentut.metrics import roc_auc

__all__ = ["check_roc_auc", "check_quantize"]


def _pairs_auc(scores: Tensor, is_anomaly: Tensor, tie: float) -> float:
    a, n = scores[is_anomaly], scores[~is_anomaly]
    above = (a[:, None] > n[None, :]).double().mean()
    ties = (a[:, None] == n[None, :]).double().mean()
    return float(above + tie * ties)


def _auc_cases() -> list[tuple[str, Tensor, Tensor]]:
    generator = torch.Generator().manual_seed(0)
    labels = torch.rand(300, generator=generator) < 0.2
    continuous = torch.randn(300, generator=generator) + 1.2 * labels
    rounded = (continuous * 2).round() / 2  # many ties, as integer-valued scores have
    return [
        ("300 scores without ties", continuous, labels),
        ("300 scores with many ties (rounded to halves)", rounded, labels),
        ("a score that ranks every anomaly below every normal example", -continuous.abs() - 10 * labels, labels),
        ("scores all equal", torch.zeros(300), labels),
    ]


def check_roc_auc(fn: Callable[[Tensor, Tensor], Any]) -> None:
    """Check ``fn(scores, is_anomaly)`` -> the ROC AUC as a float: the probability that a random
    anomaly scores higher than a random normal example, ties counting one half, compared with
    `gentut.metrics.roc_auc` (scikit-learn's area under the curve) on scores with and without ties."""
    for label, scores, is_anomaly in _auc_cases():
        got = _as_tensor(_call(fn, scores.clone(), is_anomaly.clone(), what="function"), "function")
        if got.numel() != 1:
            _fail(f"your function should return one number, got shape {tuple(got.shape)}")
        expected = torch.tensor(roc_auc(scores, is_anomaly), dtype=torch.float64)
        mistakes = [
            (torch.tensor(_pairs_auc(scores, is_anomaly, 0.0)), "Ties count one half: a pair with equal scores is "
             "ranked right half the time by any tie-breaking rule. Counting only '>' gives too little."),
            (torch.tensor(_pairs_auc(scores, is_anomaly, 1.0)), "Ties count one half; counting '>=' as a win gives "
             "too much (and an AUC of 1 to a score that is the same for everything)."),
            (1 - expected, "The comparison is the wrong way round: the AUC is the chance that an ANOMALY scores "
             "higher (higher score = more anomalous)."),
        ]
        _compare(got.reshape(()).double(), expected, what=f"your AUC on {label}", mistakes=mistakes,
                 rtol=1e-6, atol=1e-6)
    _passed("your AUC matches scikit-learn's area under the ROC curve, ties included: the area is the "
            "probability that a random anomaly outscores a random normal example.")


def check_quantize(fn: Callable[[Tensor, int, Tensor, Tensor], Any]) -> None:
    """Check ``fn(values, bits, low, high)`` -> the reconstruction of each value of `values` (N, D)
    after uniform quantisation to 2**bits levels spread evenly over [low, high] (per column,
    values outside clipped), against `gentut.applications.quantize`."""
    generator = torch.Generator().manual_seed(0)
    low, high = torch.tensor([-2.0, 0.0, 1.0]), torch.tensor([2.0, 1.0, 5.0])
    values = low + (high - low) * (torch.rand(200, 3, generator=generator) * 1.4 - 0.2)  # some outside
    for bits in (1, 3, 6):
        got = _as_tensor(_call(fn, values.clone(), bits, low.clone(), high.clone(), what="function"), "function")
        expected = quantize(values, bits, low, high)
        width = high - low
        clipped = values.clamp(low, high)
        mistakes = [
            (low + ((clipped - low) / width * 2**bits).round().clamp(max=2**bits) / 2**bits * width,
             f"{bits} bits give 2**{bits} = {2**bits} levels, so {2**bits - 1} steps between low and high: divide "
             f"the range by 2**bits - 1, not 2**bits."),
            (low + ((values - low) / width * (2**bits - 1)).round() / (2**bits - 1) * width,
             "Values outside [low, high] must be clipped first: a quantiser has only its 2**bits levels."),
            (low + ((clipped - low) / width * (2**bits - 1)).floor() / (2**bits - 1) * width,
             "Round to the nearest level, not down: flooring doubles the worst error and biases every value low."),
        ]
        _compare(got, expected, what=f"your quantised values at {bits} bits", mistakes=mistakes, rtol=1e-5, atol=1e-5)
        if len(torch.unique(got[:, 0])) > 2**bits:
            _fail(f"at {bits} bits a column may take at most {2**bits} values, yours takes "
                  f"{len(torch.unique(got[:, 0]))}")
    _passed("your quantiser matches: 2**bits levels spread evenly from low to high, values clipped, "
            "each rounded to the nearest level. Its error is at most half a step, (high - low) / (2 * (2**bits - 1)).")
