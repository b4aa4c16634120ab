"""Pack writer: the manifest lists every file with verifying hashes and io read from the ONNX graph."""
import json
import os
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
sys.path.insert(0, os.path.join(HERE, ".."))
import pack  # noqa: E402
from classifier import ClfConfig, SimplexClassifier  # noqa: E402
from export_classifier import export_onnx  # noqa: E402

TOKENIZER = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [
        {"id": 0, "content": "<pad>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
        {"id": 1, "content": "<s>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
        {"id": 2, "content": "</s>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
    ],
    "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "post_processor": None, "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
              "fuse_unk": False, "byte_fallback": False, "vocab": {"<pad>": 0, "<s>": 1, "</s>": 2, "a": 3, "b": 4, "ab": 5}, "merges": ["a b"]},
}


class PackTest(unittest.TestCase):
    def test_write_and_verify(self):
        torch.manual_seed(0)
        m = SimplexClassifier(ClfConfig(vocab_size=6, d_embed=4, d_hidden=4, num_labels=2))
        with tempfile.TemporaryDirectory() as d:
            onnx_path = os.path.join(d, "src.onnx")
            export_onnx(m, onnx_path)
            tok = os.path.join(d, "tok.json")
            with open(tok, "w") as f:
                json.dump(TOKENIZER, f)
            card = os.path.join(d, "card.md")
            with open(card, "w") as f:
                f.write("# card\n")
            out = os.path.join(d, "pack")
            os.makedirs(out)
            with open(os.path.join(out, "stale.txt"), "w") as f:
                f.write("old")
            man = pack.write_pack(out, id="concert-clf-test", kind="classifier", graphs={"classifier": {"src": onnx_path, "name": "classifier.onnx"}},
                                  licence="MIT", tokenizer=tok, model_card=card, knobs={"labels": ["negative", "positive"], "K": 5},
                                  provenance={"seed": 1, "command": "x"})
            self.assertEqual(set(os.listdir(out)), {"concert.json", "classifier.onnx", "tokenizer.json", "MODEL_CARD.md"})
            again = pack.verify_pack(out)
            self.assertEqual(again, man)
            self.assertEqual(man["specialTokens"], {"bos": "<s>", "eos": "</s>", "pad": "<pad>"})
            self.assertEqual(set(man), {"schemaVersion", "id", "kind", "licence", "files", "graphs", "tokenizer", "io", "specialTokens", "knobs", "modelCard", "provenance"})
            self.assertEqual(man["io"]["classifier"]["inputs"][0]["shape"], ["batch_size", "block_length", 6])
            self.assertEqual(pack.tokenizer_vocab_size(tok), 6)
            # A modified file no longer verifies.
            with open(os.path.join(out, "MODEL_CARD.md"), "a") as f:
                f.write("tampered\n")
            with self.assertRaises(ValueError):
                pack.verify_pack(out)

    def test_rejects_bad_knob_and_id(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(ValueError):
                pack.write_pack(os.path.join(d, "p"), id="Bad Id", kind="classifier", graphs={}, licence="MIT")
            with self.assertRaises(ValueError):
                pack.write_pack(os.path.join(d, "p"), id="ok", kind="nope", graphs={}, licence="MIT")


if __name__ == "__main__":
    unittest.main()
