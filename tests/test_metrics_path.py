"""format_path: the classifier's reading of images along an interpolation path."""
import pytest
import torch
from torch import nn

from gentut.metrics import format_path


class _Fixed(nn.Module):
    """A stand-in classifier over 3 classes whose probabilities follow the image's mean grey value."""

    num_classes = 3
    feature_dim = 2

    def features(self, x):
        m = x.flatten(1).mean(dim=1, keepdim=True)
        return torch.cat([m, 1 - m], dim=1)

    def head(self, features):
        return torch.log(torch.cat([features, torch.full_like(features[:, :1], 1e-6)], dim=1))

    def forward(self, x):
        return self.head(self.features(x))


def test_path_rows_are_the_class_probabilities_and_the_confidence():
    path = torch.linspace(0, 1, 5).view(5, 1, 1, 1).expand(5, 1, 4, 4).contiguous()  # mean grey 0, .25, ..., 1
    text = format_path(_Fixed(), {"mix": path}, first=0, last=1, class_names=["bright", "dark", "other"])
    lines = text.splitlines()
    assert lines[0] == "mix:"
    assert lines[1].split()[1:] == ["0.00", "0.25", "0.50", "0.75", "1.00"]  # p(bright | x) = mean grey
    assert lines[2].split()[1:] == ["1.00", "0.75", "0.50", "0.25", "0.00"]
    assert lines[3].split()[1:] == ["1.00", "0.75", "0.50", "0.75", "1.00"]  # the dip in the middle


def test_a_class_outside_the_classifier_is_a_clear_error():
    with pytest.raises(ValueError, match=r"last must be a class index in \[0, 3\), got 7"):
        format_path(_Fixed(), {"mix": torch.zeros(2, 1, 4, 4)}, first=0, last=7)
