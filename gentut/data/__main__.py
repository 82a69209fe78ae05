"""Make a data set available for the notebooks: ``python -m gentut.data fetch fashion-mnist``.

Uses the files already on the machine (a system package, the cache) and downloads only what is
missing. Exits with status 1 and a message naming the ways to get the data if none worked.
`make execute` runs this first; `make test` never needs it.
"""
from __future__ import annotations

import argparse
import sys

from gentut.data.download import ChecksumError, OfflineError
from gentut.data.mnist import DATASETS, load_idx_dataset


def _ways(name: str) -> str:
    dataset = DATASETS[name]
    ways = []
    if dataset.system_package:
        ways.append(f"install Debian's package (apt-get install -y {dataset.system_package})")
    ways.append(f"download it on a machine with internet access (python -m gentut.data fetch {name})")
    ways.append(f"or copy the four IDX files ({', '.join(dataset.files('train') + dataset.files('test'))}, "
                f"compressed or not) into $GENTUT_DATA/{name} or ~/.cache/gentut/{name}")
    return "; ".join(ways)


def fetch(name: str) -> int:
    dataset = DATASETS[name]
    try:
        for split in ("train", "test"):
            data = load_idx_dataset(dataset, split)
            print(f"{len(data):,} images: {data.source}")
    except OfflineError:
        print(f"{dataset.title} is not on this machine and cannot be downloaded. To get it: {_ways(name)}.",
              file=sys.stderr)
        return 1
    except ChecksumError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gentut.data", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_parser = commands.add_parser("fetch", help="find or download a data set, verifying its checksums")
    fetch_parser.add_argument("name", choices=sorted(DATASETS))
    args = parser.parse_args(argv)
    return fetch(args.name)


if __name__ == "__main__":
    sys.exit(main())
