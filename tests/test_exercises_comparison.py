"""The closing chapter's checkers pass right answers (written differently from the package's) and
fail each plausible wrong one with the message that names its mistake."""
from __future__ import annotations

import pytest
import torch

from gentut.exercises import ExerciseCheckError, check_quantize, check_roc_auc


def pairwise_auc(scores, is_anomaly):
    # the definition: over all (anomaly, normal) pairs, a win counts 1 and a tie 1/2
    a, n = scores[is_anomaly], scores[~is_anomaly]
    return ((a[:, None] > n[None]).float() + 0.5 * (a[:, None] == n[None]).float()).mean()


def rank_auc(scores, is_anomaly):
    # Mann-Whitney from average ranks: (R_a - n_a (n_a + 1) / 2) / (n_a n_n)
    order = scores.argsort()
    ranks = torch.empty(len(scores), dtype=torch.float64)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    for value in scores.unique():  # ties share their average rank
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    n_a, n_n = int(is_anomaly.sum()), int((~is_anomaly).sum())
    return float((ranks[is_anomaly].sum() - n_a * (n_a + 1) / 2) / (n_a * n_n))


@pytest.mark.parametrize("fn", [pairwise_auc, rank_auc])
def test_right_aucs_pass(fn, capsys):
    check_roc_auc(fn)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("wrong, words", [
    (lambda s, y: ((s[y][:, None] > s[~y][None]).float()).mean(), "Ties count one half"),
    (lambda s, y: ((s[y][:, None] >= s[~y][None]).float()).mean(), "counting '>='"),
    (lambda s, y: 1 - pairwise_auc(s, y), "wrong way round"),
    (lambda s, y: pairwise_auc(s, y).reshape(1, 1).expand(2, 2), "one number"),
    (lambda s, y: None, "should return a torch.Tensor"),
])
def test_wrong_aucs_fail_naming_the_mistake(wrong, words):
    with pytest.raises(ExerciseCheckError, match=words):
        check_roc_auc(wrong)


def test_a_right_quantiser_passes(capsys):
    def mine(values, bits, low, high):
        levels = 2**bits - 1
        step = (high - low) / levels
        return low + torch.round((torch.minimum(torch.maximum(values, low), high) - low) / step) * step

    check_quantize(mine)
    assert "Correct:" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (lambda v, b, lo, hi: lo + ((v.clamp(lo, hi) - lo) / (hi - lo) * 2**b).round().clamp(max=2**b) / 2**b * (hi - lo),
     "2\\*\\*bits - 1"),
    (lambda v, b, lo, hi: lo + ((v - lo) / (hi - lo) * (2**b - 1)).round() / (2**b - 1) * (hi - lo), "clipped"),
    (lambda v, b, lo, hi: lo + ((v.clamp(lo, hi) - lo) / (hi - lo) * (2**b - 1)).floor() / (2**b - 1) * (hi - lo),
     "nearest level"),
    (lambda v, b, lo, hi: v, "expected"),
])
def test_wrong_quantisers_fail_naming_the_mistake(wrong, words):
    with pytest.raises(ExerciseCheckError, match=words):
        check_quantize(wrong)
