"""MNIST loading without the network: small IDX files in tmp_path, file:// URLs, fake openers."""
import dataclasses
import gzip
import hashlib
import urllib.error

import numpy as np
import pytest
import torch

import gentut.data.download as download_module
import gentut.data.mnist as mnist_module
from gentut.data.download import ChecksumError, OfflineError, download, probe
from gentut.data.idx import read_idx_images, read_idx_labels, write_idx
from gentut.data.mnist import MNIST, RemoteDataset, load_idx_dataset, load_mnist


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _small_mnist(folder, split="train", n=6):
    """Write a tiny MNIST-shaped split into folder; returns (images, labels, sha256 table)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    image_file, label_file = MNIST.files(split)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / image_file, images)
    write_idx(folder / label_file, labels)
    table = {image_file: _sha256(folder / image_file), label_file: _sha256(folder / label_file)}
    return images, labels, table


def test_idx_round_trip_gzip_and_raw(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a-idx3-ubyte.gz", images)
    write_idx(tmp_path / "a-idx3-ubyte", images)
    assert gzip.decompress((tmp_path / "a-idx3-ubyte.gz").read_bytes())[:4] == b"\x00\x00\x08\x03"
    assert np.array_equal(read_idx_images(tmp_path / "a-idx3-ubyte.gz"), images)
    assert np.array_equal(read_idx_images(tmp_path / "a-idx3-ubyte"), images)


def test_idx_wrong_magic_is_named(tmp_path):
    write_idx(tmp_path / "labels.gz", np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="expected magic number 2051, got 2049"):
        read_idx_images(tmp_path / "labels.gz")


def test_idx_truncated_file_is_reported(tmp_path):
    write_idx(tmp_path / "x", np.zeros((4, 28, 28), dtype=np.uint8))
    data = (tmp_path / "x").read_bytes()
    (tmp_path / "x").write_bytes(data[:-100])
    with pytest.raises(ValueError, match="truncated.*needs 3136 data bytes, got 3036"):
        read_idx_images(tmp_path / "x")


def test_idx_broken_gzip_is_reported(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros((4, 28, 28), dtype=np.uint8))
    data = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "x.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a complete gzip file"):
        read_idx_images(tmp_path / "x.gz")


def test_load_from_cache_gives_images_in_unit_range(tmp_path, monkeypatch):
    images, labels, table = _small_mnist(tmp_path / "mnist", "test")
    monkeypatch.setattr(mnist_module, "MNIST", dataclasses.replace(MNIST, sha256=table))  # tiny files' own checksums
    data = load_mnist("test", root=tmp_path, download=False)
    assert data.images.shape == (6, 1, 28, 28) and data.images.dtype == torch.float32
    assert torch.allclose(data.images[:, 0] * 255, torch.from_numpy(images).float(), atol=1e-3)
    assert data.labels.tolist() == labels.tolist() and data.name == "mnist"
    assert "MNIST test split" in data.source


def test_missing_file_without_download_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_mnist("train", root=tmp_path, download=False)


def test_cached_file_with_wrong_checksum_says_delete_it(tmp_path, monkeypatch):
    _, _, table = _small_mnist(tmp_path / "mnist", "test")
    bad = dict(table)
    bad["t10k-images-idx3-ubyte.gz"] = "0" * 64
    monkeypatch.setattr(mnist_module, "MNIST", dataclasses.replace(MNIST, sha256=bad))
    with pytest.raises(ChecksumError, match=r"expected sha256 0{64}, got [0-9a-f]{64}; delete .*t10k-images"):
        load_mnist("test", root=tmp_path, download=False)


def test_download_from_file_url_verifies_and_writes_atomically(tmp_path):
    source = tmp_path / "mirror"
    _, labels, table = _small_mnist(source, "train")
    destination = tmp_path / "cache" / "train-labels-idx1-ubyte.gz"
    destination.parent.mkdir()
    url = (source / "train-labels-idx1-ubyte.gz").as_uri()
    path = download([url], destination, sha256=table["train-labels-idx1-ubyte.gz"])
    assert path == destination and np.array_equal(read_idx_labels(path), labels)
    assert sorted(p.name for p in destination.parent.iterdir()) == [destination.name]


def test_download_tries_next_mirror(tmp_path):
    source = tmp_path / "mirror"
    _, _, table = _small_mnist(source, "train")
    name = "train-labels-idx1-ubyte.gz"
    urls = [(tmp_path / "missing" / name).as_uri(), (source / name).as_uri()]
    path = download(urls, tmp_path / name, sha256=table[name])
    assert path.exists()


def test_corrupted_download_is_rejected_and_leaves_no_file(tmp_path):
    source = tmp_path / "mirror"
    _small_mnist(source, "train")
    (tmp_path / "cache").mkdir()
    destination = tmp_path / "cache" / "train-images-idx3-ubyte.gz"
    with pytest.raises(ChecksumError, match="checksum mismatch.*expected sha256 f{64}, got"):
        download([(source / destination.name).as_uri()], destination, sha256="f" * 64)
    assert list((tmp_path / "cache").iterdir()) == []  # neither the file nor the temporary


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    class Broken:
        def __init__(self):
            self.calls = 0

        def read(self, size):
            self.calls += 1
            if self.calls > 1:
                raise ConnectionResetError("connection reset")
            return b"partial bytes"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(download_module, "_open", lambda url, timeout: Broken())
    with pytest.raises(OfflineError):
        download(["https://example.invalid/x.gz"], tmp_path / "x.gz", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_offline_error_names_the_offline_alternative(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.delenv("GENTUT_OFFLINE", raising=False)
    monkeypatch.setattr(download_module, "_open", offline)
    with pytest.raises(OfflineError, match="seems offline.*synthetic-digits"):
        load_mnist("test", root=tmp_path)
    assert list((tmp_path / "mnist").iterdir()) == []


def test_gentut_offline_blocks_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("GENTUT_OFFLINE", "1")
    with pytest.raises(OfflineError, match="GENTUT_OFFLINE"):
        download(["https://example.invalid/x.gz"], tmp_path / "x.gz", sha256=None)
    with pytest.raises(OfflineError, match="GENTUT_OFFLINE"):
        probe("https://example.invalid/")


def test_probe_reports_unreachable_host(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.delenv("GENTUT_OFFLINE", raising=False)
    monkeypatch.setattr(download_module.socket, "create_connection", refuse)
    with pytest.raises(OfflineError, match="cannot reach example.invalid.*seems offline"):
        probe("https://example.invalid/mnist/")


def test_full_dataset_download_over_file_urls(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    images, labels, table = _small_mnist(mirror, "train", n=12)
    dataset = RemoteDataset(
        name="tiny", title="Tiny", mirrors=(mirror.as_uri() + "/",), sha256=table,
        class_names=tuple("0123456789"), citation="test",
    )
    data = load_idx_dataset(dataset, "train", root=tmp_path / "cache")
    assert len(data) == 12 and data.labels.tolist() == labels.tolist()
    assert (tmp_path / "cache" / "tiny" / "train-images-idx3-ubyte.gz").exists()


def test_pinned_checksums_are_sha256_hex():
    from gentut.data.mnist import DATASETS

    for dataset in DATASETS.values():
        assert set(dataset.sha256) == {*dataset.files("train"), *dataset.files("test")}
        assert all(len(v) == 64 and int(v, 16) >= 0 for v in dataset.sha256.values())
