"""Train the book's feature classifier once and ship it with the package.

    python bench/ship_classifier.py [--dataset fashion-mnist] [--train 20000]

Every score in the book (Frechet distance, precision, recall, coverage, class shares) is read in
the features of one small classifier (`gentut.metrics.load_or_train_classifier`). Trained again on
another CPU it comes out with other weights (float sums run in another order), and every score
moves a little: on Fashion-MNIST, 86.5% held-out accuracy on one machine against 86.2% on another,
and the held-out real images' FD 0.910 against 0.918. Shipping the weights fixes the feature space,
as published metrics fix Inception-v3's.

This script trains the classifier exactly as a chapter would (same data, seed, epochs and code,
with the cache and the shipped file bypassed), adds the provenance (command, package version,
commit, torch version, date) to its metadata, writes it to ``gentut/weights/`` atomically and
rewrites ``gentut/weights/SHA256SUMS``. The chapters then load it instead of training
(``load_or_train_classifier`` checks the SHA-256 first). Bump `CLASSIFIER_VERSION` and run this
again when the classifier's architecture or recipe changes; the tests fail until you do.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import torch

import gentut
from gentut.checkpoint import load_checkpoint, save_checkpoint
from gentut.data import load_book_images
from gentut.metrics.samples import SHIPPED_DIR, SHIPPED_SUMS, load_or_train_classifier, shipped_sums
from gentut.results import _commit  # the same commit the results files record

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--train", type=int, default=20_000, help="training images (the cpu profile's 20,000)")
    parser.add_argument("--test", type=int, default=5_000, help="held-out images for the accuracy it reports")
    parser.add_argument("--output", type=Path, default=SHIPPED_DIR, help="folder to write to")
    args = parser.parse_args(argv)

    train = load_book_images(args.dataset, "train", n=args.train)
    test = load_book_images(args.dataset, "test", n=args.test)
    with tempfile.TemporaryDirectory() as scratch:
        _, info = load_or_train_classifier(train, eval_data=test, cache=scratch, shipped=False, progress=False)
        state = load_checkpoint(info.path)
        state["metadata"]["provenance"] = {
            "command": "python bench/ship_classifier.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "gentut": gentut.__version__, "commit": _commit(ROOT), "torch": str(torch.__version__),
            "machine": platform.machine(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        args.output.mkdir(parents=True, exist_ok=True)
        target = args.output / Path(info.path).name
        save_checkpoint(target, state)
        target.chmod(0o644)  # a package file every user reads (the atomic write creates it 0600)
    # One file per (data, seed, epochs); files of other data stay listed.
    sums = {name: digest for name, digest in shipped_sums(args.output).items() if (args.output / name).is_file()}
    sums[target.name] = hashlib.sha256(target.read_bytes()).hexdigest()
    listing = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
    temporary = args.output / (SHIPPED_SUMS + ".tmp")
    temporary.write_text(listing)
    shutil.move(temporary, args.output / SHIPPED_SUMS)
    print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target.name}: "
          f"{target.stat().st_size / 1e6:.2f} MB, held-out accuracy {100 * info.accuracy:.2f}%, "
          f"trained in {info.seconds:.0f} s, SHA-256 {sums[target.name]}")


if __name__ == "__main__":
    main()
