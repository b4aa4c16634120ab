"""Pure-Python reference encoder for Concert's tokenizer.json (stdlib only).

It implements exactly the subset of the Hugging Face tokenizer pipeline that tools/tokenizer/train.py emits:

  normalizer    Replace(" " -> "\u2581")
  pre_tokenizer none
  model         BPE with byte_fallback, merges applied lowest rank first, ties -> leftmost pair
  decoder       Replace("\u2581" -> " "), ByteFallback, Fuse

and the two encodings of src/runtime/tokenizer.ts (PackTokenizer):

  encode_control(text)  special-token strings in the text become control ids (prompt templates only)
  encode_plain(text)    every character is text; a special-token string is split after its first character
                        and the pieces are encoded separately, exactly like PackTokenizer.encodePlain

No merge can cross a word boundary (every piece has "\u2581" at most as its first character; train.py checks
this), so the text is cut before each "\u2581" and each word is encoded (and cached) on its own; the result is
identical to running BPE over the whole string, which is what @huggingface/tokenizers does.
"""
from __future__ import annotations

import heapq
import json
import re
from typing import Iterable

META = "\u2581"
_WORDS = re.compile(META + "[^" + META + "]*|[^" + META + "]+")


class RefTokenizer:
    def __init__(self, tokenizer_json: dict | str):
        if isinstance(tokenizer_json, str):
            with open(tokenizer_json, encoding="utf-8") as f:
                tokenizer_json = json.load(f)
        tj = tokenizer_json
        self._check_pipeline(tj)
        model = tj["model"]
        self.vocab: dict[str, int] = dict(model["vocab"])
        self.id_to_token: dict[int, str] = {i: t for t, i in self.vocab.items()}
        self.ranks: dict[tuple[str, str], int] = {}
        for r, m in enumerate(model["merges"]):
            a, b = m if isinstance(m, list) else m.split(" ", 1)
            self.ranks.setdefault((a, b), r)
        self.byte_fallback = bool(model.get("byte_fallback"))
        self.unk = model.get("unk_token")
        self.added = {t["content"]: t["id"] for t in tj.get("added_tokens", [])}
        for c, i in self.added.items():
            self.id_to_token[i] = c
        self.special = {t["content"]: t["id"] for t in tj.get("added_tokens", []) if t.get("special")}
        self.special_ids = set(self.special.values())
        # PackTokenizer: special strings sorted by length, longest first (stable)
        self._special_strings = sorted(self.special, key=lambda s: -len(s))
        self._cache: dict[str, tuple[int, ...]] = {}

    @staticmethod
    def _check_pipeline(tj: dict) -> None:
        n = tj.get("normalizer")
        ok = (isinstance(n, dict) and n.get("type") == "Replace" and n.get("pattern") == {"String": " "}
              and n.get("content") == META and tj.get("pre_tokenizer") is None and tj["model"].get("type") == "BPE"
              and not tj["model"].get("continuing_subword_prefix") and not tj["model"].get("end_of_word_suffix")
              and not tj["model"].get("dropout") and not tj["model"].get("ignore_merges"))
        if not ok:
            raise ValueError("tokenizer.json uses a pipeline this reference encoder does not implement")

    def __len__(self) -> int:
        return max(self.id_to_token) + 1

    # ------------------------------------------------------------------------------------------ model
    def _bpe(self, word: str) -> tuple[int, ...]:
        got = self._cache.get(word)
        if got is not None:
            return got
        syms = list(word)
        n = len(syms)
        ids: list[int]
        if n > 1:
            prev = list(range(-1, n - 1))
            nxt = list(range(1, n + 1))
            nxt[-1] = -1
            alive = [True] * n
            heap: list[tuple[int, int, str, str]] = []
            ranks = self.ranks
            for i in range(n - 1):
                r = ranks.get((syms[i], syms[i + 1]))
                if r is not None:
                    heap.append((r, i, syms[i], syms[i + 1]))
            heapq.heapify(heap)
            while heap:
                r, i, a, b = heapq.heappop(heap)
                j = nxt[i]
                if not alive[i] or j < 0 or syms[i] != a or syms[j] != b:
                    continue  # stale entry
                syms[i] = a + b
                alive[j] = False
                k = nxt[j]
                nxt[i] = k
                if k >= 0:
                    prev[k] = i
                p = prev[i]
                if p >= 0:
                    rp = ranks.get((syms[p], syms[i]))
                    if rp is not None:
                        heapq.heappush(heap, (rp, p, syms[p], syms[i]))
                if k >= 0:
                    rk = ranks.get((syms[i], syms[k]))
                    if rk is not None:
                        heapq.heappush(heap, (rk, i, syms[i], syms[k]))
            pieces = [syms[i] for i in range(n) if alive[i]]
        else:
            pieces = syms
        ids = []
        for p in pieces:
            t = self.vocab.get(p)
            if t is None:
                t = self.added.get(p)
            if t is not None:
                ids.append(t)
            elif self.byte_fallback and all(f"<0x{b:02X}>" in self.vocab for b in p.encode("utf-8")):
                ids.extend(self.vocab[f"<0x{b:02X}>"] for b in p.encode("utf-8"))
            elif self.unk is not None:
                ids.append(self.vocab[self.unk])
        out = tuple(ids)
        if len(word) < 256:
            self._cache[word] = out
        return out

    def _encode_chunk(self, text: str) -> list[int]:
        """Normaliser + model for one chunk without special tokens."""
        out: list[int] = []
        for w in _WORDS.findall(text.replace(" ", META)):
            out.extend(self._bpe(w))
        return out

    # -------------------------------------------------------------------------------------- encodings
    def encode_control(self, text: str) -> list[int]:
        """Like @huggingface/tokenizers Tokenizer.encode(text, {add_special_tokens: false}) with all added tokens."""
        out: list[int] = []
        if not self.added:
            return self._encode_chunk(text)
        keys = sorted(self.added, key=lambda s: -len(s))
        pat = re.compile("|".join(re.escape(k) for k in keys))
        pos = 0
        for m in pat.finditer(text):
            if m.start() > pos:
                out.extend(self._encode_chunk(text[pos : m.start()]))
            out.append(self.added[m.group(0)])
            pos = m.end()
        if pos < len(text):
            out.extend(self._encode_chunk(text[pos:]))
        return out

    def encode_plain(self, text: str) -> list[int]:
        """Mirror of PackTokenizer.encodePlain: user/document text, special-token strings stay text."""
        ids: list[int] = []
        rest = text
        while rest:
            at, hit = -1, ""
            for s in self._special_strings:
                i = rest.find(s)
                if i >= 0 and (at < 0 or i < at):
                    at, hit = i, s
            if at < 0:
                ids.extend(self._encode_chunk(rest))
                break
            if at > 0:
                ids.extend(self._encode_chunk(rest[:at]))
            ids.extend(self._encode_chunk(hit[:1]))
            ids.extend(self._encode_chunk(hit[1:]))
            rest = rest[at + len(hit) :]
        for i in ids:
            if i in self.special_ids:
                raise AssertionError(f"plain text reached special id {i}: {text[:40]!r}")
        return ids

    def encode_plain_batch(self, texts: Iterable[str]) -> list[list[int]]:
        return [self.encode_plain(t) for t in texts]

    def token_id(self, token: str) -> int:
        return self.added[token] if token in self.added else self.vocab[token]

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Replace(▁ -> space), ByteFallback, Fuse (without @huggingface/tokenizers' clean_up_tokenization_spaces)."""
        out: list[str] = []
        buf = bytearray()
        for i in ids:
            tok = self.id_to_token.get(i, self.unk or "")
            if skip_special and tok in self.special:
                continue
            if len(tok) == 6 and tok.startswith("<0x") and tok.endswith(">"):
                buf.append(int(tok[3:5], 16))
                continue
            if buf:
                out.append(buf.decode("utf-8", errors="replace"))
                buf = bytearray()
            out.append(tok.replace(META, " "))
        if buf:
            out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)
