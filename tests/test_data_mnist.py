"""MNIST loading without the network: small IDX files in tmp_path, file:// URLs, fake openers.

The real Fashion-MNIST files are checked too where Debian's dataset-fashion-mnist is installed.
"""
import dataclasses
import gzip
import hashlib
import os
import struct
import urllib.error

import numpy as np
import pytest
import torch

import gentut.data.download as download_module
import gentut.data.mnist as mnist_module
from gentut.data.download import ChecksumError, OfflineError, download, probe
from gentut.data.idx import IMAGES_MAGIC, read_idx, read_idx_images, read_idx_labels, write_idx
from gentut.data.mnist import MNIST, RemoteDataset, load_fashion_mnist, load_idx_dataset, load_mnist


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _small_mnist(folder, split="train", n=6):
    """Write a tiny MNIST-shaped split (.gz) into folder; returns (images, labels, pins).

    `pins` holds the keyword arguments of RemoteDataset that make these files the pinned release:
    idx_sha256 (decompressed contents) and gz_sha256 (the .gz bytes written here).
    """
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    idx, gz = {}, {}
    for base, array in zip(MNIST.files(split), (images, labels)):
        write_idx(folder / f"{base}.gz", array)
        gz[f"{base}.gz"] = _sha256(folder / f"{base}.gz")
        idx[base] = hashlib.sha256(gzip.decompress((folder / f"{base}.gz").read_bytes())).hexdigest()
    for other in ("train", "test"):  # every key present, as in the real tables
        for base in MNIST.files(other):
            idx.setdefault(base, "0" * 64)
            gz.setdefault(f"{base}.gz", "0" * 64)
    return images, labels, {"idx_sha256": idx, "gz_sha256": gz}


def _recompress(folder, base, level=1):
    """Compress `base`'s contents again, as another tool would: other bytes, same contents."""
    contents = gzip.decompress((folder / f"{base}.gz").read_bytes())
    (folder / f"{base}.gz").write_bytes(gzip.compress(contents, compresslevel=level, mtime=1234567890))


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
    images, labels, pins = _small_mnist(tmp_path / "mnist", "test")
    monkeypatch.setattr(mnist_module, "MNIST", dataclasses.replace(MNIST, **pins))  # tiny files' own checksums
    data = load_mnist("test", root=tmp_path, download=False)
    assert data.images.shape == (6, 1, 28, 28) and data.images.dtype == torch.float32
    assert torch.allclose(data.images[:, 0] * 255, torch.from_numpy(images).float(), atol=1e-3)
    assert data.labels.tolist() == labels.tolist() and data.name == "mnist"
    assert "MNIST test split" in data.source


def test_missing_file_without_download_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_mnist("train", root=tmp_path, download=False)


def test_recompressed_and_uncompressed_files_are_accepted_by_their_contents(tmp_path, monkeypatch):
    images, labels, pins = _small_mnist(tmp_path / "mnist", "test")
    monkeypatch.setattr(mnist_module, "MNIST", dataclasses.replace(MNIST, **pins))
    images_base, labels_base = MNIST.files("test")
    _recompress(tmp_path / "mnist", images_base)  # the .gz pin no longer matches these bytes
    assert _sha256(tmp_path / "mnist" / f"{images_base}.gz") != pins["gz_sha256"][f"{images_base}.gz"]
    label_gz = tmp_path / "mnist" / f"{labels_base}.gz"  # and the labels decompressed, as a reader may keep them
    (tmp_path / "mnist" / labels_base).write_bytes(gzip.decompress(label_gz.read_bytes()))
    label_gz.unlink()
    data = load_mnist("test", root=tmp_path, download=False)
    assert torch.equal((data.images[:, 0] * 255).round().to(torch.uint8), torch.from_numpy(images))
    assert data.labels.tolist() == labels.tolist()


def test_file_with_other_contents_is_named_and_left_alone(tmp_path, monkeypatch):
    _, _, pins = _small_mnist(tmp_path / "mnist", "test")
    monkeypatch.setattr(mnist_module, "MNIST", dataclasses.replace(MNIST, **pins))
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    write_idx(path, np.zeros((6, 28, 28), dtype=np.uint8))  # a valid IDX file, but not the release
    before = path.read_bytes()
    with pytest.raises(ChecksumError) as caught:
        load_mnist("test", root=tmp_path, download=False)
    message = str(caught.value)
    expected = pins["idx_sha256"]["t10k-images-idx3-ubyte"]
    found = hashlib.sha256(gzip.decompress(before)).hexdigest()
    assert f"sha256 {found}" in message and expected in message and "t10k-images-idx3-ubyte.gz" in message
    assert "delete" not in message.lower() and "left the file as it is" in message
    assert path.read_bytes() == before


def test_system_folder_is_searched_before_the_cache(tmp_path, monkeypatch):
    system = tmp_path / "usr-share"
    images, _, pins = _small_mnist(system, "train", n=4)
    _recompress(system, "train-images-idx3-ubyte", level=9)
    _small_mnist(tmp_path / "cache" / "mnist", "train", n=4)
    dataset = dataclasses.replace(MNIST, **pins, system_dirs=(str(system),), system_package="dataset-tiny")
    monkeypatch.setenv("GENTUT_DATA", str(tmp_path / "cache"))
    paths, where = mnist_module.find_files(dataset, "train")
    assert paths[0].parent == system and where == "the system package dataset-tiny"
    data = load_idx_dataset(dataset, "train", download_missing=False)
    assert "from the system package dataset-tiny" in data.source and str(tmp_path) not in data.source
    assert mnist_module.find_files(dataset, "test") is None  # the test split is in neither folder


@pytest.mark.skipif(not mnist_module.is_available(mnist_module.FASHION_MNIST, "test"),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_installed_fashion_mnist_matches_the_pinned_release():
    data = load_fashion_mnist("test", download=False)
    assert data.images.shape == (10_000, 1, 28, 28)
    assert data.labels.bincount().tolist() == [1000] * 10  # the release's balanced test split
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"


def test_download_from_file_url_verifies_and_writes_atomically(tmp_path):
    source = tmp_path / "mirror"
    _, labels, pins = _small_mnist(source, "train")
    destination = tmp_path / "cache" / "train-labels-idx1-ubyte.gz"
    destination.parent.mkdir()
    url = (source / "train-labels-idx1-ubyte.gz").as_uri()
    path = download([url], destination, sha256=pins["gz_sha256"]["train-labels-idx1-ubyte.gz"])
    assert path == destination and np.array_equal(read_idx_labels(path), labels)
    assert sorted(p.name for p in destination.parent.iterdir()) == [destination.name]


def test_download_tries_next_mirror(tmp_path):
    source = tmp_path / "mirror"
    _, _, pins = _small_mnist(source, "train")
    name = "train-labels-idx1-ubyte.gz"
    urls = [(tmp_path / "missing" / name).as_uri(), (source / name).as_uri()]
    path = download(urls, tmp_path / name, sha256=pins["gz_sha256"][name])
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
    images, labels, pins = _small_mnist(mirror, "train", n=12)
    _recompress(mirror, "train-images-idx3-ubyte")  # a mirror that compressed the file its own way
    dataset = RemoteDataset(
        name="tiny", title="Tiny", mirrors=(mirror.as_uri() + "/",), **pins,
        class_names=tuple("0123456789"), citation="test",
    )
    data = load_idx_dataset(dataset, "train", root=tmp_path / "cache")
    assert len(data) == 12 and data.labels.tolist() == labels.tolist()
    assert (tmp_path / "cache" / "tiny" / "train-images-idx3-ubyte.gz").exists()
    assert data.source.endswith("downloaded into the gentut data cache")


def test_download_with_other_contents_is_rejected_and_not_kept(tmp_path):
    mirror = tmp_path / "mirror"
    _, _, pins = _small_mnist(mirror, "train", n=12)
    pins["idx_sha256"]["train-labels-idx1-ubyte"] = "1" * 64  # a release other than the mirror's
    pins["gz_sha256"]["train-labels-idx1-ubyte.gz"] = "2" * 64
    dataset = RemoteDataset(
        name="tiny", title="Tiny", mirrors=(mirror.as_uri() + "/",), **pins,
        class_names=tuple("0123456789"), citation="test",
    )
    with pytest.raises(ChecksumError, match="train-labels-idx1-ubyte.gz served other contents than the pinned release"):
        load_idx_dataset(dataset, "train", root=tmp_path / "cache")
    assert not (tmp_path / "cache" / "tiny" / "train-labels-idx1-ubyte.gz").exists()


def test_pinned_checksums_are_sha256_hex():
    from gentut.data.mnist import DATASETS

    for dataset in DATASETS.values():
        bases = {*dataset.files("train"), *dataset.files("test")}
        assert set(dataset.idx_sha256) == bases and set(dataset.gz_sha256) == {b + ".gz" for b in bases}
        for value in [*dataset.idx_sha256.values(), *dataset.gz_sha256.values()]:
            assert len(value) == 64 and int(value, 16) >= 0


# --- hostile or malformed IDX files fail fast, in bounded memory, naming the file -----------------


def test_idx_a_pipe_or_a_folder_is_refused_without_reading(tmp_path):
    pipe = tmp_path / "images.idx"
    os.mkfifo(pipe)  # reading it would block forever: nothing writes to it
    with pytest.raises(ValueError, match=r"images.idx is not a regular file"):
        read_idx_images(pipe)
    with pytest.raises(ValueError, match="is not a regular file"):
        read_idx_images(tmp_path)


def test_idx_a_gzip_bomb_stops_at_the_limit(tmp_path):
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(b"\0" * (4 << 20)))  # 4 KB on disk, 4 MiB unpacked
    assert path.stat().st_size < 10_000
    with pytest.raises(ValueError, match=r"bomb.gz unpacks to more than 1,048,576 bytes"):
        read_idx(path, max_bytes=1 << 20)


def test_idx_a_header_declaring_a_huge_array_is_refused_before_anything_is_built(tmp_path):
    path = tmp_path / "huge.idx"
    path.write_bytes(struct.pack(">i", IMAGES_MAGIC) + struct.pack(">3I", 4_000_000_000, 60_000, 60_000) + b"\0" * 100)
    with pytest.raises(ValueError, match=r"huge.idx declares shape \(4000000000, 60000, 60000\), "
                                         r"14,400,000,000,000,000,000 data bytes, more than the"):
        read_idx_images(path)


def test_idx_a_file_larger_than_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.idx"
    write_idx(path, np.zeros((50, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"big.idx is 39,216 bytes, more than the 10,000-byte limit"):
        read_idx(path, max_bytes=10_000)


def test_idx_gzip_with_several_members_is_read_and_trailing_junk_is_named(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / "one.idx", array)
    payload = (tmp_path / "one.idx").read_bytes()
    two = tmp_path / "two.gz"
    two.write_bytes(gzip.compress(payload[:500]) + gzip.compress(payload[500:]))  # as `cat a.gz b.gz` makes
    np.testing.assert_array_equal(read_idx_images(two), array)
    junk = tmp_path / "junk.gz"
    junk.write_bytes(gzip.compress(payload) + b"not gzip")
    with pytest.raises(ValueError, match=r"junk.gz is not a complete gzip file \(8 bytes of other data follow it\)"):
        read_idx_images(junk)


# --- transfers that go wrong: the next mirror, then a clear error --------------------------------


class _Response:
    """A fake HTTP response: `blocks` of bytes, and the Content-Length it announces (or none)."""

    def __init__(self, blocks, announced=None):
        self.blocks = list(blocks)
        self.headers = {} if announced is None else {"Content-Length": str(announced)}

    def read(self, size):
        return self.blocks.pop(0) if self.blocks else b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_cut_transfer_is_caught_against_the_announced_size_even_without_a_checksum(tmp_path, monkeypatch):
    monkeypatch.setattr(download_module, "_open", lambda url, timeout: _Response([b"x" * 60], announced=100))
    with pytest.raises(download_module.BadDownloadError, match=r"cut short: 60 of the 100 bytes announced"):
        download(["https://a.invalid/x.gz"], tmp_path / "x.gz", sha256=None)
    assert list(tmp_path.iterdir()) == []  # nothing renamed into place as complete


def test_a_bad_copy_from_one_mirror_moves_on_to_the_next(tmp_path, monkeypatch):
    good = b"the real file"
    served = {"https://a.invalid/x.gz": _Response([b"a captive portal's page"], announced=23),
              "https://b.invalid/x.gz": _Response([good], announced=len(good))}
    monkeypatch.setattr(download_module, "_open", lambda url, timeout: served[url])
    path = download(list(served), tmp_path / "x.gz", sha256=hashlib.sha256(good).hexdigest())
    assert path.read_bytes() == good


def test_every_mirror_bad_is_an_offline_error_callers_fall_back_from_naming_each_mirror(tmp_path, monkeypatch):
    served = {"https://a.invalid/x.gz": lambda: _Response([b"wrong bytes"]),
              "https://b.invalid/x.gz": lambda: _Response([b"half"], announced=10)}
    monkeypatch.setattr(download_module, "_open", lambda url, timeout: served[url]())
    with pytest.raises(download_module.BadDownloadError) as caught:
        download(list(served), tmp_path / "x.gz", sha256="0" * 64)
    message = str(caught.value)
    assert "a.invalid" in message and "checksum mismatch" in message and "b.invalid" in message and "cut short" in message
    assert isinstance(caught.value, OfflineError) and isinstance(caught.value, ChecksumError)
    assert list(tmp_path.iterdir()) == []


def test_a_transfer_over_the_size_cap_or_the_deadline_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(download_module, "_open", lambda url, timeout: _Response([b"x" * 10], announced=10 ** 9))
    with pytest.raises(download_module.BadDownloadError, match=r"announces 1,000,000,000 bytes, more than the 1,000"):
        download(["https://a.invalid/x"], tmp_path / "x", sha256=None, max_bytes=1000)
    monkeypatch.setattr(download_module, "_open", lambda url, timeout: _Response([b"x" * 600] * 5))  # no header
    with pytest.raises(download_module.BadDownloadError, match=r"sent more than the 1,000 bytes allowed"):
        download(["https://a.invalid/x"], tmp_path / "x", sha256=None, max_bytes=1000)
    clock = iter(range(0, 10_000, 100))  # every read takes 100 s
    monkeypatch.setattr(download_module.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(download_module, "_open", lambda url, timeout: _Response([b"x"] * 50))
    with pytest.raises(download_module.BadDownloadError, match=r"took longer than 250 s in all"):
        download(["https://a.invalid/x"], tmp_path / "x", sha256=None, deadline=250)
    assert list(tmp_path.iterdir()) == []


# --- a real server on the loopback interface that lies or dies (issue 12) -------------------------


class _Mirrors:
    """An HTTP server on 127.0.0.1 with one mirror per way a download goes wrong.

    /good/<file>    the file
    /cut/<file>     announces the file's size, sends half of it, closes the connection
    /portal/<file>  200 with a captive portal's HTML page (no Content-Length, as portals do)
    /huge/<file>    announces 10 GB
    /gone/<file>    404
    """

    def __init__(self, folder):
        import http.server
        import threading

        files = {path.name: path.read_bytes() for path in folder.iterdir()}
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                _, kind, name = self.path.split("/", 2)
                outer.requests.append(kind)
                body = files.get(name)
                if kind == "gone" or body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if kind == "portal":
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b"<html><body>Please log in to the hotel Wi-Fi</body></html>")
                    return
                self.send_header("Content-Length", str(10 ** 10 if kind == "huge" else len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if kind in ("cut", "huge") else body)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, kind):
        return f"http://127.0.0.1:{self.server.server_address[1]}/{kind}/"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _tiny(pins, mirrors=("https://unused.invalid/",)):
    return RemoteDataset(name="mnist", title="MNIST", mirrors=tuple(mirrors), **pins,
                         class_names=tuple("0123456789"), citation="test")


def test_over_a_real_server_every_bad_mirror_is_passed_over_for_the_good_one(tmp_path, monkeypatch):
    images, labels, pins = _small_mnist(tmp_path / "served", "train", n=12)
    monkeypatch.delenv("GENTUT_OFFLINE", raising=False)
    with _Mirrors(tmp_path / "served") as server:
        order = ["cut", "portal", "huge", "gone", "good"]
        data = load_idx_dataset(_tiny(pins), "train", root=tmp_path / "cache",
                                mirrors=[server.url(kind) for kind in order])
    assert data.labels.tolist() == labels.tolist()
    assert server.requests == order * 2  # the images file, then the labels file, each down the list
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]  # no partial or temporary files


def test_over_a_real_server_only_bad_mirrors_is_a_bad_download_naming_each(tmp_path, monkeypatch):
    _, _, pins = _small_mnist(tmp_path / "served", "train")
    monkeypatch.delenv("GENTUT_OFFLINE", raising=False)
    with _Mirrors(tmp_path / "served") as server:
        with pytest.raises(download_module.BadDownloadError) as error:
            load_idx_dataset(_tiny(pins), "train", root=tmp_path / "cache",
                             mirrors=[server.url(kind) for kind in ("cut", "portal", "huge", "gone")])
    message = str(error.value)
    for kind in ("cut", "portal", "huge", "gone"):
        assert server.url(kind) in message
    assert isinstance(error.value, OfflineError)  # what load_book_images falls back from
    assert not any((tmp_path / "cache" / "mnist").iterdir())


def test_the_mirror_setting_points_the_book_at_another_server_and_falls_back_when_it_lies(tmp_path, monkeypatch):
    # load_book_images reads GENTUT_MNIST_MIRRORS for its connection probe and its download;
    # a server that answers every file with a portal page leaves the synthetic digits.
    _small_mnist(tmp_path / "served", "test")
    monkeypatch.delenv("GENTUT_OFFLINE", raising=False)
    monkeypatch.setenv("GENTUT_PROFILE", "cpu")  # the smoke profile would not download at all
    from gentut.data import load_book_images

    with _Mirrors(tmp_path / "served") as server:
        monkeypatch.setenv("GENTUT_MNIST_MIRRORS", server.url("portal"))
        data = load_book_images("mnist", "test", n=20, root=tmp_path / "cache")
    assert server.requests and set(server.requests) == {"portal"}
    assert data.name == "synthetic-digits" and len(data) == 20
    assert "MNIST is not on this machine and its download failed; using" in data.source


def test_mirrors_of_reads_the_argument_then_the_environment_then_the_built_in_list(monkeypatch):
    monkeypatch.delenv("GENTUT_MNIST_MIRRORS", raising=False)
    assert mnist_module.mirrors_of(MNIST) == MNIST.mirrors
    monkeypatch.setenv("GENTUT_MNIST_MIRRORS", "http://127.0.0.1:8000  file:///srv/mnist/")
    assert mnist_module.mirrors_of(MNIST) == ("http://127.0.0.1:8000/", "file:///srv/mnist/")
    assert mnist_module.mirrors_of(MNIST, ["https://example.org/m"]) == ("https://example.org/m/",)
    monkeypatch.setenv("GENTUT_FASHION_MNIST_MIRRORS", "http://proxy.local/fashion/")
    assert mnist_module.mirrors_of(mnist_module.FASHION_MNIST) == ("http://proxy.local/fashion/",)
    monkeypatch.setenv("GENTUT_MNIST_MIRRORS", "ftp://old.example/")
    with pytest.raises(ValueError, match="GENTUT_MNIST_MIRRORS must hold http://, https:// or file:// base URLs, "
                                         "got 'ftp://old.example/'"):
        mnist_module.mirrors_of(MNIST)
    with pytest.raises(ValueError, match="mirrors must be a non-empty list of base URLs, got 'http://a/'"):
        mnist_module.mirrors_of(MNIST, "http://a/")
