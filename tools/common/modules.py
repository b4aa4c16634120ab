"""Loading a tools/ script as a module by its file path, under a unique ``sys.modules`` key.

tools/diffusion, tools/jpeg and tools/video each have modules of the same names (data, train, export, eval, …), and
unittest discovery imports all their tests into one process, so ``import train`` with a folder on sys.path would
find whichever folder comes first. The pipelines load each other's modules by path instead, under a key made of a
per-folder prefix and the file's name (``concert_jpeg_train``, ``concert_video_data``): every loader of the same file
with the same key gets the same module object, loaded once.

    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from common.modules import sibling_loader

    sibling = sibling_loader(HERE, "concert_video_")   # sibling("data") is tools/video/data.py
"""
from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType
from typing import Callable


def load_module(key: str, path: str) -> ModuleType:
    """The module of the Python file at `path`, registered as ``sys.modules[key]``; loaded on the first call, the
    registered module on every later one. It is registered before it runs, so modules that load each other (a module
    that loads a sibling that loads it back) get the one, partly initialised, module rather than a second copy."""
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return sys.modules[key]


def sibling_loader(folder: str, prefix: str) -> Callable[[str], ModuleType]:
    """A `sibling(name)` function: `folder`/<name>.py by load_module under the key `prefix` + name (e.g.
    ``sibling_loader(HERE, "concert_jpeg_")("train")`` is tools/jpeg/train.py as ``concert_jpeg_train``)."""

    def sibling(name: str) -> ModuleType:
        return load_module(f"{prefix}{name}", os.path.join(folder, f"{name}.py"))

    sibling.__doc__ = f"The module {os.path.join(folder, '<name>.py')} by file path, as sys.modules['{prefix}<name>']."
    return sibling
