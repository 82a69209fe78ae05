"""Anomaly detection by every kind of model in the book: one class held out at a time.

    python bench/anomaly.py [--epochs 5] [--train 20000] [--classes 0 1 ... 9] [--output PATH]
    python bench/anomaly.py --smoke --output /tmp/anomaly.json   # toy size: proves the code path

For each class c of the data set, three detectors train on the training images of the other
classes, with the comparison's candidates (`gentut.comparison.book_candidates`, the same networks
and optimizers as the closing chapter's table) and the same budget: the autoencoder, the VAE (on
binarised images) and the DCGAN (width 32). Each then scores every test image; the held-out
class is the anomaly, and the ROC AUC says how well a score separates it from the other classes:

* autoencoder: the reconstruction error, in nats per image (the autoencoder chapter's score);
* VAE: minus the IWAE estimate of log p(x) (`--iwae` samples) on a binarised copy of the test
  images: the model's own surprise;
* DCGAN: minus the discriminator's logit: how fake it finds an image;

beside the autoencoder chapter's trivial baselines, which need no training: the ink (total
brightness) and the entropy floor of each image (the least reconstruction loss any model can
reach on it, the sum of its pixels' binary entropies). The autoencoder's and the VAE's scores are
also given minus the floor: the surprise in excess of what the image's own grey levels make
unavoidable, the autoencoder chapter's correction. An AUC of 0.5 is chance; below 0.5 a score
ranks the anomalies as *more* normal.

The trained models are cached under `gentut.comparison`'s keys (the held-out class changes the
data, so the key), in ``--cache``; a second run re-reads them. Writes the AUC of each score for
each held-out class, the means, and the provenance to bench/results/anomaly.json.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch

from gentut.comparison import book_candidates, code_files, load_trained, run_comparison
from gentut.data import load_book_images
from gentut.data.download import cache_dir
from gentut.metrics import format_table, load_or_train_classifier, roc_auc
from gentut.metrics.likelihood import importance_sampled_log_likelihood
from gentut.models.autoencoder import anomaly_scores
from gentut.models.sampling import evaluation_mode
from gentut.results import fingerprint, results_path, write_results

OUTPUT = results_path("anomaly.json")
DETECTORS = {"Autoencoder": "autoencoder", "VAE": "vae", "DCGAN": "dcgan"}  # candidate name -> column
SIZES = {
    "full": {"train": 20_000, "test": 10_000, "width": 32, "iwae": 64},
    "smoke": {"train": 300, "test": 200, "width": 8, "iwae": 2},
}
COLUMNS = ["autoencoder", "vae", "dcgan", "ink", "floor", "autoencoder_excess", "vae_excess"]
HEADERS = {"autoencoder": "AE loss", "vae": "VAE -log p", "dcgan": "DCGAN -D", "ink": "ink",
           "floor": "floor", "autoencoder_excess": "AE - floor", "vae_excess": "VAE - floor"}


def sources() -> list[str]:
    candidates = book_candidates(1, width=8, names=list(DETECTORS))
    files = {f"gentut/{name}" for cand in candidates for name in code_files(cand.spec)}
    return sorted(files | {"bench/anomaly.py", "gentut/models/classifier.py", "gentut/weights/SHA256SUMS",
                           "gentut/data/mnist.py", "gentut/metrics/reconstruction.py"})


def scores_of(name: str, model: torch.nn.Module, test, seed: int, iwae: int) -> torch.Tensor:
    """Per test image: higher means more anomalous."""
    if name == "Autoencoder":
        return anomaly_scores(model, test.images)
    if name == "VAE":  # the model was trained on binarised images: its likelihood is of those
        binary = test.binarized(seed + 1).images
        return -importance_sampled_log_likelihood(model, binary, samples=iwae,
                                                  generator=torch.Generator().manual_seed(seed))
    device = next(model.parameters()).device
    with torch.no_grad(), evaluation_mode(model):
        return torch.cat([-model.discriminate(x.to(device)).float().cpu() for x in test.images.split(500)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="passes over the training images, every detector")
    parser.add_argument("--train", type=int, default=None, help="training images before the class is held out")
    parser.add_argument("--classes", type=int, nargs="+", default=None, help="held-out classes (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist", "synthetic-digits"])
    parser.add_argument("--cache", type=Path, default=None, help="folder of the trained models")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the results (JSON)")
    parser.add_argument("--smoke", action="store_true", help="toy size (small data and networks, one epoch, two classes)")
    args = parser.parse_args(argv)
    size = dict(SIZES["smoke" if args.smoke else "full"])
    if args.smoke:
        args.epochs = 1
        args.classes = args.classes or [0, 1]
    size["train"] = args.train or size["train"]

    code = fingerprint(sources())
    train = load_book_images(args.dataset, "train", n=size["train"])
    test = load_book_images(args.dataset, "test", n=size["test"])
    print(train.source, flush=True)
    classifier, _ = load_or_train_classifier(train, eval_data=test, progress=False)  # scores nothing here;
    # run_comparison keys its results by the classifier as well
    classes = args.classes if args.classes is not None else list(range(len(train.class_names)))
    cache = args.cache or cache_dir() / "comparison"

    p = test.images.clamp(1e-6, 1 - 1e-6)
    floor = -(p * p.log() + (1 - p) * (1 - p).log()).flatten(1).sum(dim=1)  # (N,) nats per image
    ink = test.images.flatten(1).sum(dim=1)
    started = time.perf_counter()
    rows, seconds = {}, {}
    for c in classes:
        candidates = book_candidates(args.epochs, width=size["width"], seed=args.seed, names=list(DETECTORS))
        results = run_comparison(candidates, train.exclude_classes(c), test.subset(200), classifier=classifier,
                                 cache=cache, n_eval=200, iwae_samples=2, iwae_images=20, progress=False)
        is_anomaly = test.labels == c
        row = {"ink": roc_auc(ink, is_anomaly), "floor": roc_auc(floor, is_anomaly)}
        for result in results:
            model = load_trained(result)
            scores = scores_of(result["name"], model, test, args.seed, size["iwae"])
            column = DETECTORS[result["name"]]
            row[column] = roc_auc(scores, is_anomaly)
            if column in ("autoencoder", "vae"):  # the surprise beyond the image's own entropy
                row[f"{column}_excess"] = roc_auc(scores - floor, is_anomaly)
            seconds[f"{result['name']}, without {test.class_names[c]}"] = result["seconds"]
        rows[test.class_names[c]] = row
        print(f"held out {test.class_names[c]}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    rows["mean"] = {k: sum(r[k] for r in rows.values()) / len(rows) for k in COLUMNS}
    table = format_table(
        rows, COLUMNS, first="held-out class", headers=HEADERS, formats={k: ".3f" for k in COLUMNS},
        footer=f"ROC AUC of each score for the held-out class against the others, on {len(test):,} test images; "
               f"detectors trained {args.epochs} epoch{'s' * (args.epochs != 1)} on the other classes of "
               f"{len(train):,} {args.dataset} training images, seed {args.seed}")
    elapsed = time.perf_counter() - started
    print(f"\n{table}\n\n{elapsed:.0f} s in all")
    record = {"data": train.source, "epochs": args.epochs, "train": len(train), "test": len(test), "sizes": size,
              "classes": [test.class_names[c] for c in classes], "auc": rows, "table": table,
              "training_seconds": seconds}
    command = " ".join(["python bench/anomaly.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    path = write_results(args.output, record, command=command, seeds=[args.seed], seconds=elapsed, sources=code)
    print(f"results written to {path}")


if __name__ == "__main__":
    main()
