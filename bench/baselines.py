"""Each chapter's main model beside a plain baseline of its kind, at equal epochs on the book's data.

    python bench/baselines.py [--models vae gan] [--dataset fashion-mnist] [--output PATH]
    python bench/baselines.py --smoke --output /tmp/baselines.json   # toy size: proves the code path

The baselines are the architectures and settings a reader finds in the standard minimal examples,
built from the package's layers so that both sides are trained by the same loop and scored by the
same code:

- VAE: pytorch/examples' ``vae/main.py``: 784-400-20 encoder and 20-400-784 decoder (ReLU,
  Bernoulli likelihood), Adam 1e-3, batch 128. The chapter's model: 784-512-256 encoder to a
  16-number code and a 256-512 decoder, Adam 1e-3, batch 128. Both on the chapter's binarised
  images for the chapter's epochs; scored by the held-out ELBO and the importance-sampled log p(x)
  (k = 1000, the chapter's numbers), in nats per image.
- GAN: the MLP GAN of the common tutorials: G 100-256-512-1024-784, D 784-1024-512-256-1, leaky
  ReLU 0.2, dropout 0.3 in D, no batch norm, Adam 2e-4 with betas (0.5, 0.999), batch 64. The
  chapter's model: G 64-256-512-784 with batch norm, D 784-512-256-1 with leaky ReLU and dropout
  0.3, Adam 1e-3 with the same betas, batch 64. Both for the chapter's epochs; scored with the
  book's classifier metrics on 2000 samples against 2000 held-out test images.

Writes the tables with their provenance (`gentut.results`) to ``bench/results/baselines.json``,
which the VAE and GAN chapters read.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch

from gentut.data import load_book_images
from gentut.metrics import (elbo, evaluate_generator, format_metrics, format_table, importance_sampled_log_likelihood,
                            load_or_train_classifier)
from gentut.models import GAN, GANConfig, VAE, VAEConfig, MLPDecoder, MLPEncoder
from gentut.results import fingerprint, write_results
from gentut.trainer import Trainer

OUTPUT = Path(__file__).resolve().parent / "results" / "baselines.json"
SOURCES = [
    "bench/baselines.py",
    "gentut/models/vae.py",
    "gentut/models/gan.py",
    "gentut/models/networks.py",
    "gentut/losses.py",
    "gentut/step.py",
    "gentut/trainer.py",
    "gentut/metrics/samples.py",
    "gentut/metrics/likelihood.py",
    "gentut/models/classifier.py",
    "gentut/weights/SHA256SUMS",  # the shipped feature classifier the metrics read
    "gentut/data/loader.py",
    "gentut/data/mnist.py",
]
SIZES = {"full": {"train": 20_000, "test": 5_000, "vae_epochs": 10, "gan_epochs": 30, "n_eval": 500,
                  "samples": 1_000, "n_metric": 2_000},
         "smoke": {"train": 1_000, "test": 500, "vae_epochs": 1, "gan_epochs": 1, "n_eval": 20,
                   "samples": 10, "n_metric": 200}}


def _fit(model, optimizers, loader, epochs: int) -> float:
    started = time.perf_counter()
    Trainer(model, optimizers, device="cpu", progress=False).fit(loader, epochs=epochs)
    return time.perf_counter() - started


def vae_rows(train, test, size: dict, seed: int) -> dict:
    train_binary, test_binary = train.binarized(seed=1), test.binarized(seed=2)  # as the chapter
    models = {
        "chapter: 512-256, d = 16": lambda: VAE(MLPEncoder(32), MLPDecoder(16), config=VAEConfig(latent_dim=16)),
        "pytorch/examples: 400, d = 20": lambda: VAE(MLPEncoder(40, hidden=(400,)), MLPDecoder(20, hidden=(400,)),
                                                     config=VAEConfig(latent_dim=20)),
    }
    rows = {}
    images = test_binary.images[: size["n_eval"]]
    for name, build in models.items():
        torch.manual_seed(seed)
        model = build()
        seconds = _fit(model, torch.optim.Adam(model.parameters(), lr=1e-3),
                       train_binary.loader(batch_size=128, seed=seed), size["vae_epochs"])
        model.eval()
        rows[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "elbo": elbo(model, images).mean().item(),
            "iwae": importance_sampled_log_likelihood(
                model, images, samples=size["samples"], generator=torch.Generator().manual_seed(0)).mean().item(),
            "seconds": seconds,
        }
    return rows


def gan_rows(train, test, size: dict, seed: int) -> dict:
    classifier, _ = load_or_train_classifier(train, eval_data=test, progress=False)
    n = size["n_metric"]
    reference, held_out = test.images[:n], test.images[n: 2 * n]
    betas = (0.5, 0.999)

    def chapter():
        g = MLPDecoder(64, hidden=(256, 512), norm="batch")
        d = MLPEncoder(1, hidden=(512, 256), activation="leaky_relu", dropout=0.3)
        return GAN(g, d, config=GANConfig(latent_dim=64)), 1e-3

    def tutorial():
        g = MLPDecoder(100, hidden=(256, 512, 1024), activation="leaky_relu")
        d = MLPEncoder(1, hidden=(1024, 512, 256), activation="leaky_relu", dropout=0.3)
        return GAN(g, d, config=GANConfig(latent_dim=100)), 2e-4

    rows = {"real (held out)": evaluate_generator(held_out, reference, classifier)}
    for name, build in (("chapter: batch norm in G, lr 1e-3", chapter), ("tutorial MLP GAN, lr 2e-4", tutorial)):
        torch.manual_seed(seed)
        gan, lr = build()
        optimizers = {"discriminator": torch.optim.Adam(gan.discriminator.parameters(), lr=lr, betas=betas),
                      "generator": torch.optim.Adam(gan.generator.parameters(), lr=lr, betas=betas)}
        seconds = _fit(gan, optimizers, train.loader(batch_size=64, seed=seed), size["gan_epochs"])
        samples = gan.sample(n, generator=torch.Generator().manual_seed(123)).cpu()
        rows[name] = {**evaluate_generator(samples, reference, classifier), "seconds": seconds}
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=["vae", "gan"], default=["vae", "gan"])
    parser.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist", "synthetic-digits"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the results (JSON)")
    parser.add_argument("--smoke", action="store_true", help="toy size, to check that the code runs")
    args = parser.parse_args(argv)

    sources = fingerprint(SOURCES)
    size = SIZES["smoke" if args.smoke else "full"]
    train = load_book_images(args.dataset, "train", n=size["train"])
    test = load_book_images(args.dataset, "test", n=size["test"])
    print(train.source)
    started = time.perf_counter()
    results = {"data": train.source, "epochs": {"vae": size["vae_epochs"], "gan": size["gan_epochs"]}}
    if "vae" in args.models:
        rows = vae_rows(train, test, size, args.seed)
        results["vae"] = {"rows": rows, "table": format_table(
            rows, ["parameters", "elbo", "iwae", "seconds"], first="VAE",
            headers={"elbo": "ELBO", "iwae": "log p(x) (IWAE)", "seconds": "s"},
            formats={"elbo": ".1f", "iwae": ".1f", "seconds": ".0f"},
            footer=f"{size['vae_epochs']} epochs on {len(train):,} binarised images; {size['n_eval']} test images, "
                   f"k = {size['samples']}; nats per image, higher is better")}
        print(results["vae"]["table"], flush=True)
    if "gan" in args.models:
        rows = gan_rows(train, test, size, args.seed)
        results["gan"] = {"rows": rows, "table": format_metrics(rows)}
        print(results["gan"]["table"], flush=True)
    seconds = time.perf_counter() - started
    command = " ".join(["python bench/baselines.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    path = write_results(args.output, results, command=command, seeds=[args.seed], seconds=seconds, sources=sources)
    print(f"{seconds:.0f} s; results written to {path}")


if __name__ == "__main__":
    main()
