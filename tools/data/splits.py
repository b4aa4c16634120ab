"""Deterministic hash-based splits.

split_of(namespace, key) hashes "namespace:key" with SHA-256 and maps the first 8 bytes to [0, 1). The result
depends only on the key, never on file order, Python's hash seed or the machine, so a unit keeps its split when
sources grow. Units that must stay together share a key (e.g. all Debian packages of one source family).
"""
from __future__ import annotations

import hashlib

SPLITS = ("train", "validation", "test")
# general text, summarisation pairs and everything derived from them
GENERAL_RATIOS = (0.96, 0.02, 0.02)
# QA over real countries: a larger held-out share, because there are only ~180 usable countries
QA_RATIOS = (0.70, 0.10, 0.20)
# classifier sets (sentiment, style): their own split, keyed by the parent unit, so that the held-out sets are
# large enough to measure accuracy (the classifiers never see LM data, and sentences of one paragraph/package
# family stay together)
CLASSIFIER_RATIOS = (0.80, 0.10, 0.10)


def unit_float(namespace: str, key: str) -> float:
    h = hashlib.sha256(f"{namespace}:{key}".encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def split_of(namespace: str, key: str, ratios: tuple[float, float, float] = GENERAL_RATIOS) -> str:
    x = unit_float(namespace, key)
    if x < ratios[0]:
        return "train"
    if x < ratios[0] + ratios[1]:
        return "validation"
    return "test"


def stable_order_key(key: str) -> str:
    """Sort key that interleaves sources deterministically (used to order lines inside a split file)."""
    return hashlib.sha256(("order:" + key).encode("utf-8")).hexdigest()
