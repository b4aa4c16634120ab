"""Model configs and checkpoints of the tools' models (causal LM, classifiers, simplex diffusion LMs).

A checkpoint is a dict {"config": asdict(cfg), "model": state_dict, **extra} written with torch.save; the config is a
dataclass with ``DictConfig`` mixed in.
"""
from __future__ import annotations

import dataclasses
import json
import os

import torch


class DictConfig:
    """For dataclass configs: JSON text, and construction from a checkpoint's dict (unknown keys ignored)."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict):
        return cls(**{k: d[k] for k in (f.name for f in dataclasses.fields(cls)) if k in d})


def save_checkpoint(path: str, model, extra: dict) -> None:
    torch.save({"config": dataclasses.asdict(model.cfg), "model": model.state_dict(), **extra}, path)


def load_checkpoint(path: str, model_cls, config_cls, map_location="cpu"):
    """(model_cls(config_cls.from_dict(ck["config"])) with the checkpoint's weights, the checkpoint dict)."""
    ck = torch.load(path, map_location=map_location)
    model = model_cls(config_cls.from_dict(ck["config"]))
    model.load_state_dict(ck["model"])
    return model, ck


def atomic_save(obj, path: str) -> None:
    """torch.save through a temporary file, so that an interrupted write never leaves a truncated checkpoint."""
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)
