"""Bad arguments to the functions a reader calls get an error that names what was expected and
what came (issue 12's "Inputs"), at the call, not at the first batch or never.

Each case below once passed silently or failed far from the mistake; what it did is in its id.
The metrics' image ranges and sample counts are in test_metrics_samples, the lab's betas in
test_lab2d, the denoiser's noise level in test_autoencoder, evaluation NaNs in test_trainer.
"""
from __future__ import annotations

import pytest
import torch
from conftest import TinyModel

from gentut.data import ImageData, InMemoryLoader, load_book_images, load_images
from gentut.models.networks import MLP, LabelConditioned, MLPEncoder
from gentut.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


def _images(n=6):
    return torch.rand(n, 1, 28, 28)


CASES = [
    # (id: what happened before, call, error type, message)
    ("uint8 images reached the network's first layer",
     lambda: MLPEncoder(4)((_images() * 255).to(torch.uint8)),
     TypeError, r"MLPEncoder expected a floating-point tensor, got dtype torch.uint8 \(images stored as "
                r"bytes: use x.float\(\) / 255\)"),
    ("int64 codes reached a linear layer",
     lambda: MLP(3, 2)(torch.zeros(4, 3, dtype=torch.int64)),
     TypeError, r"MLP expected a floating-point tensor, got dtype torch.int64$"),
    ("a label of 12 for 10 classes: 'Class values must be smaller than num_classes.'",
     lambda: LabelConditioned(MLP(3 + 10, 2), 10)(torch.zeros(2, 3), torch.tensor([1, 12])),
     ValueError, r"labels y must be class indices in \[0, 10\) for this network's 10 classes, got values "
                 r"from 1 to 12"),
    ("a negative label: 'Class values must be non-negative.'",
     lambda: LabelConditioned(MLP(3 + 10, 2), 10)(torch.zeros(2, 3), torch.tensor([-1, 0])),
     ValueError, r"class indices in \[0, 10\) .* got values from -1 to 0"),
    ("labels outside the declared classes were accepted into the data",
     lambda: ImageData.from_tensor(_images(3), torch.tensor([0, 9, 10]), class_names=[str(c) for c in range(10)]),
     ValueError, r"'custom': labels must be in \[0, 10\) for its 10 classes, got 1 outside, e.g. 10"),
    ("batch_size=True gave batches of one image",
     lambda: InMemoryLoader(_images(), batch_size=True),
     ValueError, r"batch_size must be a positive int, got True"),
    ("batch_size=True through ImageData.loader",
     lambda: ImageData.from_tensor(_images()).loader(True),
     ValueError, r"batch_size must be a positive int, got True"),
    ("a string seed failed at the first batch ('can only concatenate str')",
     lambda: InMemoryLoader(_images(), seed="7"),
     TypeError, r"seed must be an int >= 0, got '7' \(str\)"),
    ("a float seed to the book's data",
     lambda: load_book_images("synthetic-digits", n=10, seed=1.5),
     TypeError, r"seed must be an int >= 0, got 1.5 \(float\)"),
    ("shuffle='no' shuffled",
     lambda: InMemoryLoader(_images(), shuffle="no"),
     TypeError, r"shuffle must be True or False, got 'no' \(str\)"),
    ("more images than the split has: silently fewer",
     lambda: load_images("sklearn-digits", "test", n=100_000),
     ValueError, r"n = 100,000 images were asked for, but the sklearn-digits test split has \d"),
    ("mixed_precision='no' turned bf16 on",
     lambda: Trainer(TinyModel(), torch.optim.SGD(TinyModel().parameters(), lr=0.1), device="cpu",
                     mixed_precision="no"),
     TypeError, r"mixed_precision must be True, False or None \(automatic\), got 'no'"),
]


@pytest.mark.parametrize("call, error, message", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_bad_argument_is_refused_with_what_was_expected_and_what_came(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_good_versions_of_those_calls_work():
    assert MLPEncoder(4)(_images()).shape == (6, 4)
    assert LabelConditioned(MLP(3 + 10, 2), 10)(torch.zeros(2, 3), torch.tensor([0, 9])).shape == (2, 2)
    assert len(ImageData.from_tensor(_images(3), torch.tensor([0, 9, 3]), class_names=list("abcdefghij"))) == 3
    assert len(InMemoryLoader(_images(), batch_size=4, seed=7, shuffle=False)) == 2
    test = load_images("sklearn-digits", "test")
    assert len(load_images("sklearn-digits", "test", n=len(test))) == len(test)
