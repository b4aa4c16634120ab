"""Tokenizer tests: the Python reference encoder reproduces the committed agreement fixture (the TypeScript twin is
test/unit/tokenizer-agreement.test.ts), and tokenizer.json keeps the invariants the runtime relies on.

Run: /usr/bin/python3 -m unittest discover -s tools/tests
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "tokenizer"))
sys.path.insert(0, os.path.join(ROOT, "tools", "data"))

import templates  # noqa: E402
from ref_tokenizer import META, RefTokenizer  # noqa: E402

FIX = os.path.join(ROOT, "test", "fixtures", "tokenizer")
NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}]\)\s*[+*{]")  # same check as src/runtime/tokenizer.ts

try:
    import sentencepiece  # noqa: F401

    HAVE_SP = True
except ImportError:  # pragma: no cover
    HAVE_SP = False


def load_rows() -> list[dict]:
    with open(os.path.join(FIX, "agreement.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class FixtureAgreement(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tj = json.load(open(os.path.join(FIX, "tokenizer.json"), encoding="utf-8"))
        cls.tok = RefTokenizer(cls.tj)
        cls.rows = load_rows()

    def test_fixture_size(self) -> None:
        self.assertGreaterEqual(len(self.rows), 2000)
        self.assertLess(os.path.getsize(os.path.join(FIX, "agreement.jsonl")), 1_600_000)
        self.assertGreaterEqual(sum(r["kind"] == "special" for r in self.rows), 5)

    def test_reencode_fixture(self) -> None:
        bad = [r["text"][:60] for r in self.rows if self.tok.encode_plain(r["text"]) != r["ids"]]
        self.assertEqual(bad[:5], [], f"{len(bad)} lines differ")

    def test_no_special_ids_from_text(self) -> None:
        special = set(range(len(templates.SPECIAL_TOKENS)))
        for r in self.rows:
            self.assertFalse(special & set(r["ids"]), r["text"][:60])

    def test_roundtrip(self) -> None:
        for r in self.rows:
            if META in r["text"]:
                continue
            self.assertEqual(self.tok.decode(r["ids"]), r["text"])

    def test_special_tokens_match_templates(self) -> None:
        added = [t["content"] for t in self.tj["added_tokens"]]
        self.assertEqual(added, templates.SPECIAL_TOKENS)
        for i, s in enumerate(templates.SPECIAL_TOKENS):
            self.assertEqual(self.tj["model"]["vocab"][s], i)
            self.assertEqual(self.tok.encode_control(s), [i])
            self.assertTrue(self.tj["added_tokens"][i]["special"])

    def test_specials_unreachable_from_merges(self) -> None:
        specials = set(templates.SPECIAL_TOKENS)
        for a, b in self.tj["model"]["merges"]:
            self.assertNotIn(a + b, specials)
            self.assertFalse(re.fullmatch(r"<0x[0-9A-F]{2}>", a + b))
        for s in specials:
            self.assertGreater(len(s), 1)

    def test_word_boundary_invariant(self) -> None:
        # the reference encoder's per-word cache relies on this; train.py checks it too
        for piece in self.tj["model"]["vocab"]:
            self.assertNotIn(META, piece[1:], piece)

    def test_no_nested_quantifier_regex(self) -> None:
        text = json.dumps([self.tj.get("normalizer"), self.tj.get("pre_tokenizer")])
        for r in re.findall(r'"Regex":\s*"((?:[^"\\]|\\.)*)"', text):
            self.assertIsNone(NESTED_QUANTIFIER.search(json.loads('"' + r + '"')))

    def test_vocab_size(self) -> None:
        self.assertTrue(4096 <= len(self.tok) <= 16384, len(self.tok))

    def test_control_vs_plain(self) -> None:
        t = "<s><|doc|> The capital is Paris.</s>"
        ctrl = self.tok.encode_control(t)
        self.assertEqual(ctrl[:2], [2, 5])
        self.assertEqual(ctrl[-1], 3)
        plain = self.tok.encode_plain(t)
        self.assertNotIn(2, plain)
        self.assertNotIn(3, plain)
        self.assertEqual(self.tok.decode(plain), t)

    def test_template_render_ids(self) -> None:
        parts = templates.PROMPTS["qa"]["prompt"]
        ids = templates.render_ids(parts, {"document": "A doc.", "question": "Why?"}, self.tok.token_id, self.tok.encode_plain)
        self.assertEqual(ids[:2], [self.tok.token_id("<s>"), self.tok.token_id("<|doc|>")])
        self.assertEqual(ids[-1], self.tok.token_id("<|answer|>"))
        # a document that contains a marker string stays text
        ids2 = templates.render_ids(parts, {"document": "x<|answer|>y", "question": "Why?"}, self.tok.token_id, self.tok.encode_plain)
        self.assertEqual(ids2.count(self.tok.token_id("<|answer|>")), 1)


@unittest.skipUnless(HAVE_SP, "python3-sentencepiece not installed")
class TrainAndExport(unittest.TestCase):
    """Trains a tiny tokenizer on inline text: the export must agree with SentencePiece itself and be deterministic."""

    def test_tiny_training(self) -> None:
        import importlib.util

        spec = importlib.util.spec_from_file_location("concert_tokenizer_train", os.path.join(ROOT, "tools", "tokenizer", "train.py"))
        train = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(train)

        words = ("the quick brown fox jumps over the lazy dog while the capital of France is Paris and "
                 "Canberra is the capital of Australia 2024 numbers 12345 naïve café").split()
        lines = [" ".join(words[(i * 7) % len(words):] + words[: (i * 7) % len(words)]) for i in range(400)]
        with tempfile.TemporaryDirectory() as d:
            inp = os.path.join(d, "in.txt")
            with open(inp, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            outs = []
            for k in range(2):
                prefix = os.path.join(d, f"m{k}")
                train.sp_train(inp, prefix, 400, threads=1)
                outs.append(train.export_tokenizer_json(prefix + ".model"))
            self.assertEqual(json.dumps(outs[0]), json.dumps(outs[1]), "training is not deterministic")
            import sentencepiece as spm

            sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "m0.model"))
            tok = RefTokenizer(outs[0])
            for t in lines[:50] + ["unseen wörds 👋 and <s> text", "  spaced  out  "]:
                self.assertEqual(tok.encode_control(t) if "<s>" not in t else tok._encode_chunk(t), sp.encode(t), t)


if __name__ == "__main__":
    unittest.main()
