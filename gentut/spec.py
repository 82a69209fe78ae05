"""Model specs: a plain description of a model from which the model and its optimizers are built.

A spec is a dict of plain values (strings, numbers, tuples, nested dicts), so it can be written
as TOML or JSON and stored in a checkpoint that loads with ``weights_only=True``::

    {
        "version": 1,
        "model": "gan",                                   # a key of MODELS
        "config": {"latent_dim": 64, "loss": "non_saturating", ...},
        "networks": {
            "generator": {"type": "MLPDecoder", "options": {"latent_dim": 64, ...}},
            "discriminator": {"type": "MLPEncoder", "options": {"out_dim": 1, ...}},
        },
        "optimizers": {                                   # optional
            "discriminator": {"type": "Adam", "parameters": "discriminator",
                              "options": {"lr": 0.001, "betas": (0.5, 0.999), ...}},
            "generator": {...},
        },
    }

``"parameters"`` names the sub-module whose parameters the optimizer trains (``""``: the whole
model). `model_spec` reads a spec off a model built by hand (every network of
`gentut.models.networks` records its options), `build_model` and `build_optimizers` build from
one, and the `gentut.trainer.Trainer` stores the spec in every checkpoint, so `load_model(path)`
rebuilds a trained model from the checkpoint alone. The only registries are the three
dictionaries below, from names to classes.
"""
from __future__ import annotations

import dataclasses
import inspect
import os
from typing import Any, Mapping

import torch
from torch import nn

from gentut import checkpoint
from gentut.models.autoencoder import Autoencoder, AutoencoderConfig
from gentut.models.gan import GAN, GANConfig
from gentut.models.networks import MLP, ConvDecoder, ConvEncoder, LabelConditioned, MLPDecoder, MLPEncoder
from gentut.models.vae import VAE, VAEConfig
from gentut.models.vaegan import VAEGAN, VAEGANConfig

__all__ = [
    "SPEC_VERSION",
    "MODELS",
    "NETWORKS",
    "OPTIMIZERS",
    "SpecError",
    "network_spec",
    "build_network",
    "model_spec",
    "build_model",
    "build_optimizers",
    "load_model",
]

SPEC_VERSION = 1

# name -> (objective, its config class, the names of its networks in the order they are built)
MODELS: dict[str, tuple[type[nn.Module], type, tuple[str, ...]]] = {
    "autoencoder": (Autoencoder, AutoencoderConfig, ("encoder", "decoder")),
    "vae": (VAE, VAEConfig, ("encoder", "decoder")),
    "gan": (GAN, GANConfig, ("generator", "discriminator")),
    "vaegan": (VAEGAN, VAEGANConfig, ("encoder", "decoder", "discriminator")),
}
NETWORKS: dict[str, type[nn.Module]] = {
    cls.__name__: cls for cls in (MLPEncoder, MLPDecoder, ConvEncoder, ConvDecoder, MLP, LabelConditioned)
}
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    cls.__name__: cls for cls in (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD, torch.optim.RMSprop)
}


class SpecError(ValueError):
    """A model or spec that cannot be described or built as a spec."""


# --- networks ------------------------------------------------------------------------------------


def network_spec(network: nn.Module) -> dict[str, Any]:
    """``{"type": class name, "options": {...}}`` of one of the book's networks."""
    name = type(network).__name__
    if NETWORKS.get(name) is not type(network):
        raise SpecError(
            f"a {type(network).__module__}.{type(network).__qualname__} cannot be described by a spec; "
            f"specs know the networks {sorted(NETWORKS)}"
        )
    if isinstance(network, LabelConditioned):
        return {"type": name, "options": {**network.options, "network": network_spec(network.network)}}
    return {"type": name, "options": dict(network.options)}


def build_network(spec: Mapping[str, Any]) -> nn.Module:
    """The network a `network_spec` describes, freshly initialised."""
    kind, options = _typed(spec, "network", NETWORKS)
    if kind is LabelConditioned:
        options = dict(options)
        if "network" not in options:
            raise SpecError("a LabelConditioned spec needs options.network, the network it wraps")
        inner = build_network(options.pop("network"))
        return LabelConditioned(inner, **options)
    positional = {MLPEncoder: "out_dim", ConvEncoder: "out_dim", MLPDecoder: "latent_dim",
                  ConvDecoder: "latent_dim"}.get(kind)
    options = dict(options)
    try:
        if positional is not None:
            return kind(options.pop(positional), **options)
        return kind(**options)
    except KeyError as error:
        raise SpecError(f"{kind.__name__} spec is missing option {error}") from error
    except TypeError as error:  # an unknown option name
        raise SpecError(f"{kind.__name__} spec has a bad option: {error}") from error


# --- models --------------------------------------------------------------------------------------


def model_spec(
    model: nn.Module, optimizers: Mapping[str, torch.optim.Optimizer] | None = None
) -> dict[str, Any]:
    """The spec of a model built from the book's objectives and networks (and its optimizers)."""
    name = next((key for key, (cls, _, _) in MODELS.items() if type(model) is cls), None)
    if name is None:
        raise SpecError(
            f"a {type(model).__qualname__} cannot be described by a spec; specs know the models "
            f"{sorted(MODELS)}"
        )
    _, _, network_names = MODELS[name]
    spec: dict[str, Any] = {
        "version": SPEC_VERSION,
        "model": name,
        "config": _plain(dataclasses.asdict(model.config)),
        "networks": {part: network_spec(getattr(model, part)) for part in network_names},
    }
    if optimizers is not None:
        spec["optimizers"] = {key: _optimizer_spec(model, key, opt) for key, opt in optimizers.items()}
    return spec


def build_model(spec: Mapping[str, Any]) -> nn.Module:
    """A freshly initialised model as `spec` describes it (its networks built in spec order)."""
    if not isinstance(spec, Mapping):
        raise SpecError(f"a model spec must be a dict, got {type(spec).__name__}")
    if spec.get("version") != SPEC_VERSION:
        raise SpecError(f"this gentut reads spec version {SPEC_VERSION}, got {spec.get('version')!r}")
    if spec.get("model") not in MODELS:
        raise SpecError(f"spec 'model' must be one of {sorted(MODELS)}, got {spec.get('model')!r}")
    cls, config_cls, network_names = MODELS[spec["model"]]
    networks = spec.get("networks")
    if not isinstance(networks, Mapping) or set(networks) != set(network_names):
        got = sorted(networks) if isinstance(networks, Mapping) else networks
        raise SpecError(f"a {spec['model']} spec needs networks {list(network_names)}, got {got!r}")
    config_options = spec.get("config", {})
    if not isinstance(config_options, Mapping):
        raise SpecError(f"spec 'config' must be a dict, got {type(config_options).__name__}")
    try:
        config = config_cls(**config_options)
    except TypeError as error:
        raise SpecError(f"{config_cls.__name__} spec has a bad option: {error}") from error
    built = {part: build_network(networks[part]) for part in network_names}
    return cls(**built, config=config)


def build_optimizers(spec: Mapping[str, Any], model: nn.Module) -> dict[str, torch.optim.Optimizer]:
    """The optimizers a spec names, over the parameters of `model`'s sub-modules."""
    optimizers = spec.get("optimizers")
    if not isinstance(optimizers, Mapping) or not optimizers:
        raise SpecError("the spec names no optimizers (its 'optimizers' dict is missing or empty)")
    built = {}
    for name, entry in optimizers.items():
        kind, options = _typed(entry, f"optimizer {name!r}", OPTIMIZERS)
        path = entry.get("parameters", "")
        try:
            module = model.get_submodule(path)
        except AttributeError as error:
            raise SpecError(f"optimizer {name!r} trains {path!r}, which the model does not have") from error
        built[name] = kind(module.parameters(), **options)
    return built


def load_model(path: str | os.PathLike, *, device: str | torch.device | None = None) -> nn.Module:
    """Rebuild a trained model from a checkpoint alone: its spec, then its weights, in eval mode.

    The checkpoint loads with ``weights_only=True`` (`gentut.checkpoint`); `device` defaults to
    the CPU.
    """
    state = checkpoint.load_checkpoint(path, map_location="cpu")
    checkpoint.require_sections(state, ["model"], path, kind="model checkpoint")
    spec = state.get("spec")
    if spec is None:
        why = state.get("spec_missing") or "it was written before checkpoints held specs"
        raise SpecError(f"{path} holds no model spec, so the model cannot be rebuilt from it: {why}")
    model = build_model(spec)
    model.load_state_dict(state["model"])
    return model.to(torch.device(device) if device is not None else "cpu").eval()


# --- helpers -------------------------------------------------------------------------------------


def _typed(spec: object, what: str, registry: Mapping[str, Any]) -> tuple[Any, Mapping[str, Any]]:
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise SpecError(f"a {what} spec must be a dict with a 'type', got {spec!r:.80}")
    if spec["type"] not in registry:
        raise SpecError(f"{what} type must be one of {sorted(registry)}, got {spec['type']!r}")
    options = spec.get("options", {})
    if not isinstance(options, Mapping):
        raise SpecError(f"{what} options must be a dict, got {type(options).__name__}")
    return registry[spec["type"]], options


def _optimizer_spec(model: nn.Module, name: str, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    kind = type(optimizer).__name__
    if OPTIMIZERS.get(kind) is not type(optimizer):
        raise SpecError(f"optimizer {name!r} is a {kind}; specs know {sorted(OPTIMIZERS)}")
    if len(optimizer.param_groups) != 1:
        raise SpecError(f"optimizer {name!r} has {len(optimizer.param_groups)} parameter groups; specs describe one")
    held = {id(p) for p in optimizer.param_groups[0]["params"]}
    path = next(
        (path for path, module in model.named_modules() if {id(p) for p in module.parameters()} == held),
        None,
    )
    if path is None:
        raise SpecError(
            f"optimizer {name!r} trains a set of parameters that is not one sub-module's; specs "
            f"describe an optimizer over model.parameters() or one network's parameters"
        )
    accepted = inspect.signature(type(optimizer)).parameters
    # The constructor's settings (defaults), not the live learning rate a schedule has moved.
    options = {key: value for key, value in optimizer.defaults.items() if key in accepted}
    return {"type": kind, "parameters": path, "options": _plain(options)}


def _plain(value: Any) -> Any:
    """Lists to tuples, recursively, so specs compare equal however they were written."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_plain(item) for item in value)
    return value
