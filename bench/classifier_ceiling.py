"""Does held-out real data beat distorted copies of itself in the book's classifier features?

    python bench/classifier_ceiling.py [EPOCHS]

Trains (or loads from the cache) the book's feature classifier on the chapters' 20,000
Fashion-MNIST training images, then scores held-out real test images and noisy, blurred and
PCA-smoothed copies of them against 2000 other test images, at N = 2000 a side, in three feature
spaces: the penultimate layer the book uses, that layer joined with the pooled convolutional
activations, and the logits. Prints FD, precision, recall, density and coverage per set. The
held-out real row should be best on FD, recall and coverage; precision has no such ceiling.
"""
import sys

import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from gentut.data import load_book_images
from gentut.metrics import load_or_train_classifier
from gentut.metrics.samples import frechet_distance, precision_recall, density_coverage
from gentut.batched import per_example

torch.manual_seed(0)
train = load_book_images("fashion-mnist", "train", n=20_000)
test = load_book_images("fashion-mnist", "test")
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
clf, info = load_or_train_classifier(train, eval_data=test, epochs=epochs, progress=False)
N = 2000
reference, held = test.images[:N], test.images[N:2 * N]
noise = torch.randn(held.shape, generator=torch.Generator().manual_seed(0))
def blur(x, k):
    kernel = torch.ones(1, 1, 2 * k + 1, 2 * k + 1) / (2 * k + 1) ** 2
    return F.conv2d(x, kernel, padding=k)
def pca(x, d):
    p = PCA(n_components=d, random_state=0).fit(train.images.flatten(1).numpy())
    return torch.from_numpy(p.inverse_transform(p.transform(x.flatten(1).numpy()))).float().clamp(0, 1).view_as(x)
sets = {"held-out real": held}
for s in (0.05, 0.1, 0.25): sets[f"noise {s}"] = (held + s * noise).clamp(0, 1)
for k in (1, 2): sets[f"blur {k}"] = blur(held, k)
for d in (64, 32, 16): sets[f"PCA {d}"] = pca(held, d)
sets["train images"] = train.images[:N]

def conv_pooled(x):
    enc = clf.encoder
    h = x
    outs = []
    for layer in enc.net:
        h = layer(h)
        if isinstance(layer, torch.nn.ReLU) or isinstance(layer, torch.nn.LeakyReLU):
            if h.ndim == 4:
                outs.append(h.mean(dim=(2, 3)))
    return torch.cat(outs, 1)

spaces = {
    "penultimate": lambda x: per_example(clf, x, clf.features, batch_size=500),
    "pen+pooled": lambda x: torch.cat([per_example(clf, x, clf.features, batch_size=500),
                                       per_example(clf, x, conv_pooled, batch_size=500)], 1),
    "logits": lambda x: per_example(clf, x, lambda b: clf(b), batch_size=500),
}
print(clf.encoder.net)
for space, feat in spaces.items():
    rf = feat(reference)
    print(f"\n== {space} ({rf.shape[1]}-d), classifier {epochs} epochs, accuracy {info.accuracy:.3f}")
    print(f"{'set':<16}{'FD':>9}{'prec':>7}{'rec':>7}{'dens':>7}{'cov':>7}")
    for name, images in sets.items():
        ff = feat(images)
        fd = frechet_distance(rf, ff)
        p, r = precision_recall(rf, ff)
        dn, cv = density_coverage(rf, ff)
        print(f"{name:<16}{fd:9.3f}{p:7.3f}{r:7.3f}{dn:7.3f}{cv:7.3f}")
