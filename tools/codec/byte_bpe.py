#!/usr/bin/env python3
"""Byte-level BPE for codec LMs: the "bytes-bpe" token mapping of a codec-lm pack (src/codec/byteBpe.ts).

Ids offset…offset+255 are the bytes; merge r (a [left, right] id pair) makes id offset+256+r. `learn` counts adjacent
pairs over a corpus of streams and merges the most frequent one, again and again (ties: the smallest (left, right),
so the result is deterministic); `encode` applies the merges in rank order, every occurrence of the lowest-rank pair
left to right, exactly as the TypeScript encoder does (test/unit/codec-byte-bpe.test.ts checks the two agree on
test/fixtures/byte-bpe/golden.json, written by `--golden`).

    /usr/bin/python3 tools/codec/byte_bpe.py --golden   # rewrites test/fixtures/byte-bpe/golden.json
"""
from __future__ import annotations

import argparse
import glob
import json
import os
from collections import Counter
from typing import Dict, List, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def _merge(ids: List[int], pair: Tuple[int, int], new_id: int) -> List[int]:
    out: List[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def learn(streams: Sequence[bytes], n_merges: int, offset: int, min_count: int = 2) -> List[Tuple[int, int]]:
    """Up to n_merges merges (fewer when no pair occurs min_count times)."""
    seqs = [[b + offset for b in s] for s in streams]
    merges: List[Tuple[int, int]] = []
    for r in range(n_merges):
        counts: Counter = Counter()
        for s in seqs:
            counts.update(zip(s, s[1:]))
        if not counts:
            break
        best_count = max(counts.values())
        if best_count < min_count:
            break
        pair = min(p for p, c in counts.items() if c == best_count)
        new_id = offset + 256 + r
        seqs = [_merge(s, pair, new_id) for s in seqs]
        merges.append(pair)
    return merges


def encode(data: bytes, merges: Sequence[Tuple[int, int]], offset: int) -> List[int]:
    rank: Dict[Tuple[int, int], int] = {}
    for r, p in enumerate(merges):
        rank.setdefault(tuple(p), r)
    ids = [b + offset for b in data]
    while True:
        best = min((rank[p] for p in zip(ids, ids[1:]) if p in rank), default=None)
        if best is None:
            return ids
        ids = _merge(ids, tuple(merges[best]), offset + 256 + best)


def decode(ids: Sequence[int], merges: Sequence[Tuple[int, int]], offset: int) -> bytes:
    table: Dict[int, bytes] = {offset + b: bytes([b]) for b in range(256)}
    for r, (a, b) in enumerate(merges):
        table[offset + 256 + r] = table[a] + table[b]
    return b"".join(table[i] for i in ids)


def write_golden(path: str) -> None:
    """Merges learned on the 32-pixel canonical streams of test/fixtures/jpeg, and every fixture stream encoded."""
    offset = 3
    files = sorted(glob.glob(os.path.join(ROOT, "test", "fixtures", "jpeg", "*.bin")))
    streams = {os.path.basename(f): open(f, "rb").read() for f in files}
    merges = learn([s for n, s in streams.items() if "-32" in n], 64, offset)
    enc = {n: encode(s, merges, offset) for n, s in streams.items()}
    for n, s in streams.items():
        assert decode(enc[n], merges, offset) == s, n
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"offset": offset, "merges": [list(p) for p in merges], "encodings": enc}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(merges)} merges, {len(enc)} streams")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--golden", action="store_true", help="rewrite test/fixtures/byte-bpe/golden.json")
    a = ap.parse_args()
    if a.golden:
        write_golden(os.path.join(ROOT, "test", "fixtures", "byte-bpe", "golden.json"))
