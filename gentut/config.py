"""Run configurations as TOML: read (stdlib ``tomllib``), written back, and overridden on the
command line with ``section.key=value``.

A configuration is a dict of plain values: the model's spec under ``[model]`` (`gentut.spec`)
and the training settings under ``[train]``. TOML has no null: a key whose value is None is left
out when writing, and every None in a spec is the default of its option, so reading the file
back builds the same model (a test checks this for every model of the book).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

__all__ = ["read_config", "to_toml", "apply_overrides", "ConfigError"]


class ConfigError(ValueError):
    """A configuration file or override that cannot be read; the message names it."""


def read_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no configuration file at {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def _value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where} is {value}, which TOML cannot hold")
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v, f"{where}[{i}]") for i, v in enumerate(value)) + "]"
    raise ConfigError(f"{where} is a {type(value).__name__}, which TOML cannot hold")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _value(key, key)


def to_toml(config: Mapping[str, Any], *, header: str = "") -> str:
    """`config` as TOML text: plain keys first, then one [table] per nested dict; None left out."""
    lines = [f"# {line}" for line in header.splitlines()]

    def table(values: Mapping[str, Any], path: list[str]) -> None:
        plain = {k: v for k, v in values.items() if not isinstance(v, Mapping) and v is not None}
        nested = {k: v for k, v in values.items() if isinstance(v, Mapping)}
        if path and (plain or not nested):
            lines.extend(["", f"[{'.'.join(map(_key, path))}]"])
        for key, value in plain.items():
            lines.append(f"{_key(key)} = {_value(value, '.'.join([*path, key]))}")
        for key, value in nested.items():
            table(value, [*path, key])

    table(config, [])
    return "\n".join(lines).lstrip("\n") + "\n"


def apply_overrides(config: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of `config` with each ``dotted.key=value`` set; the value is read as TOML
    (``3``, ``1e-4``, ``true``, ``"text"``, ``[256, 512]``), or as a string if it is not TOML."""
    import copy

    config = copy.deepcopy(config)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"an override must look like section.key=value, got {item!r}")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()  # a bare word: a string
        *parents, last = key.strip().split(".")
        node = config
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"cannot set {key}: {part} is a value, not a section")
            node = child
        node[last] = value
    return config
