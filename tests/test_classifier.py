"""The feature classifier: shapes, input checks, the trainer contract, and learning digits."""

import pytest
import torch
from conftest import ManualStep

from gentut.data import make_synthetic_digits
from gentut.data.loader import Batch
from gentut.models.classifier import DigitClassifier
from gentut.trainer import Trainer


pytestmark = pytest.mark.usefixtures("one_thread")


def test_features_and_logits_have_the_documented_shapes():
    torch.manual_seed(0)
    classifier = DigitClassifier()
    x = torch.rand(5, 1, 28, 28)
    features = classifier.features(x)
    assert features.shape == (5, 128)
    assert (features >= 0).all()  # taken after a ReLU
    assert classifier(x).shape == (5, 10)
    assert torch.allclose(classifier(x), classifier.head(features))


def test_other_class_counts_sizes_and_channels():
    classifier = DigitClassifier(3, image_shape=(3, 32, 32), feature_dim=16)
    assert classifier.features(torch.rand(2, 3, 32, 32)).shape == (2, 16)
    assert classifier(torch.rand(2, 3, 32, 32)).shape == (2, 3)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(num_classes=1), ValueError, "num_classes must be at least 2, got 1"),
        (dict(num_classes=0), ValueError, "num_classes must be a positive int"),
        (dict(image_shape=(1, 28, 32)), ValueError, "image_shape must be square"),
        (dict(image_shape=(1, 30, 30)), ValueError, "divisible by 2\\*\\*depth = 4"),
        (dict(image_shape=(28, 28)), ValueError, "(channels, height, width)"),
        (dict(feature_dim=0), ValueError, "feature_dim must be a positive int"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        DigitClassifier(**kwargs)


def test_wrong_inputs_get_a_clear_error():
    classifier = DigitClassifier()
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 1, 28, 28\), got \(B, 28, 28\)"):
        classifier(torch.rand(4, 28, 28))
    with pytest.raises(ValueError, match=r"got \(B, 3, 28, 28\)"):
        classifier.features(torch.rand(4, 3, 28, 28))
    with pytest.raises(TypeError, match="expected a torch.Tensor, got ndarray"):
        classifier(torch.rand(4, 1, 28, 28).numpy())


def test_training_step_needs_labels():
    classifier = DigitClassifier()
    step = ManualStep(torch.optim.Adam(classifier.parameters()))
    with pytest.raises(ValueError, match="batch has no labels"):
        classifier.training_step(Batch(torch.rand(4, 1, 28, 28)), step)
    with pytest.raises(ValueError, match="batch has no labels"):
        classifier.evaluation_step(Batch(torch.rand(4, 1, 28, 28)))


def test_training_step_lowers_the_cross_entropy_of_a_batch():
    torch.manual_seed(0)
    classifier = DigitClassifier()
    step = ManualStep(torch.optim.Adam(classifier.parameters(), lr=1e-3))
    batch = Batch(torch.rand(16, 1, 28, 28), torch.arange(16) % 10)
    first = classifier.training_step(batch, step)
    assert set(first) == {"loss", "accuracy"}
    assert not first["loss"].requires_grad
    assert first["loss"].item() == pytest.approx(torch.log(torch.tensor(10.0)).item(), abs=0.3)
    for _ in range(60):
        last = classifier.training_step(batch, step)
    assert last["loss"].item() < 0.1  # memorised the batch
    metrics = classifier.evaluation_step(batch)
    assert metrics["accuracy"].item() == 1.0
    assert metrics["loss"].item() < 0.1


def test_learns_synthetic_digits_well_above_chance():
    train = make_synthetic_digits(1000, seed=0)
    test = make_synthetic_digits(500, seed=0, split="test")
    torch.manual_seed(0)
    classifier = DigitClassifier()
    trainer = Trainer(classifier, torch.optim.Adam(classifier.parameters(), lr=1e-3), device="cpu", progress=False)
    trainer.fit(train.loader(64, seed=0), epochs=2)
    accuracy = classifier.accuracy(test.images, test.labels)
    assert accuracy > 0.5, accuracy  # chance is 0.1


def test_accuracy_checks_its_labels():
    classifier = DigitClassifier()
    with pytest.raises(ValueError, match=r"labels must be a tensor of shape \(4,\)"):
        classifier.accuracy(torch.rand(4, 1, 28, 28), torch.zeros(3, dtype=torch.int64))
