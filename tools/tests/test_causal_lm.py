"""Causal LM: KV-cache consistency, padding invariance, ONNX export round trip (tiny random model, seconds)."""
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
from causal_lm import CausalLM, LMConfig, greedy_generate, positions_from_mask  # noqa: E402

TINY = LMConfig(vocab_size=97, d_model=32, n_layers=2, n_heads=4, d_ff=64, max_positions=48)


def tiny_model(seed=0):
    torch.manual_seed(seed)
    m = CausalLM(TINY).eval()
    # Larger weights than the init so that differences are not hidden by near-uniform outputs.
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return m


class KVCacheTest(unittest.TestCase):
    def test_incremental_equals_full(self):
        m = tiny_model()
        ids = torch.randint(0, TINY.vocab_size, (2, 12))
        with torch.no_grad():
            full, _ = m(ids, torch.ones(2, 12, dtype=torch.long), torch.arange(12).expand(2, 12), m.empty_past(2))
            past = m.empty_past(2)
            outs = []
            for s, e in ((0, 5), (5, 6), (6, 12)):
                lg, past = m(ids[:, s:e], torch.ones(2, e, dtype=torch.long), torch.arange(s, e).expand(2, e - s), past)
                outs.append(lg)
        self.assertLess((torch.cat(outs, 1) - full).abs().max().item(), 1e-5)
        self.assertEqual(tuple(past[0][0].shape), (2, TINY.n_heads, 12, TINY.head_dim))

    def test_no_past_equals_empty_past(self):
        m = tiny_model(1)
        ids = torch.randint(0, TINY.vocab_size, (1, 7))
        with torch.no_grad():
            a, _ = m(ids)
            b, _ = m(ids, torch.ones(1, 7, dtype=torch.long), torch.arange(7)[None], m.empty_past(1))
        self.assertLess((a - b).abs().max().item(), 1e-6)

    def test_left_padding_invariance(self):
        m = tiny_model(2)
        a = torch.randint(0, TINY.vocab_size, (1, 9))
        b = torch.randint(0, TINY.vocab_size, (1, 4))
        with torch.no_grad():
            ra, _ = m(a)
            rb, _ = m(b)
            ids = torch.cat([a, torch.cat([torch.zeros(1, 5, dtype=torch.long), b], 1)], 0)
            mask = torch.ones(2, 9, dtype=torch.long)
            mask[1, :5] = 0
            pos = positions_from_mask(mask, 9)
            out, past = m(ids, mask, pos, m.empty_past(2))
            self.assertTrue(torch.isfinite(out).all())
            self.assertLess((out[0] - ra[0]).abs().max().item(), 1e-5)
            self.assertLess((out[1, 5:] - rb[0]).abs().max().item(), 1e-5)
            # One more step for both rows with the cache.
            nxt = torch.tensor([[3], [4]])
            mask2 = torch.cat([mask, torch.ones(2, 1, dtype=torch.long)], 1)
            step, _ = m(nxt, mask2, positions_from_mask(mask2, 1), past)
            rb2, _ = m(torch.cat([b, nxt[1:]], 1))
            self.assertLess((step[1, 0] - rb2[0, -1]).abs().max().item(), 1e-5)

    def test_greedy_generate_runs(self):
        m = tiny_model(3)
        out = greedy_generate(m, [1, 2, 3], 5)
        self.assertEqual(len(out), 5)


class ExportTest(unittest.TestCase):
    def test_export_round_trip(self):
        import onnx
        import numpy as np
        from export_causal_lm import export_onnx, golden_cases, materialise, write_golden
        from onnx_util import onnx_signature

        m = tiny_model(4)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "model.onnx")
            export_onnx(m, path)
            onnx.checker.check_model(onnx.load(path))
            sig = onnx_signature(path)
            names = [v["name"] for v in sig["inputs"]]
            self.assertEqual(names[:3], ["input_ids", "attention_mask", "position_ids"])
            self.assertIn("past_key_values.1.value", names)
            spec = {v["name"]: v for v in sig["inputs"] + sig["outputs"]}
            self.assertEqual(spec["attention_mask"]["shape"], ["batch_size", "past_sequence_length + sequence_length"])
            self.assertEqual(spec["past_key_values.0.key"]["shape"], ["batch_size", TINY.n_heads, "past_sequence_length", TINY.head_dim])
            self.assertEqual(spec["present.0.key"]["shape"], ["batch_size", TINY.n_heads, "past_sequence_length + sequence_length", TINY.head_dim])
            self.assertEqual(spec["logits"]["shape"], ["batch_size", "sequence_length", TINY.vocab_size])
            self.assertEqual({v["dtype"] for v in sig["inputs"][:3]}, {"int64"})
            # The tied embedding is stored once (no constant-folded transposed copy).
            big = [i for i in onnx.load(path).graph.initializer if TINY.vocab_size in i.dims]
            self.assertEqual(len(big), 1)
            try:
                from onnx.reference import ReferenceEvaluator  # onnx >= 1.13 only
            except ImportError:
                ReferenceEvaluator = None
            if ReferenceEvaluator is not None:
                ev = ReferenceEvaluator(path)
                for name, specs, past_from in golden_cases(m):
                    if past_from:
                        continue
                    feeds = {k: materialise(v) for k, v in specs.items()}
                    got = ev.run(None, feeds)[0]
                    from export_causal_lm import _run
                    ref = _run(m, feeds)["logits"]
                    self.assertLess(float(np.abs(got - ref).max()), 1e-4)
            n = write_golden(m, d, "tiny")
            self.assertLess(n, 2_000_000)


class TrainSmokeTest(unittest.TestCase):
    def test_synthetic_training_runs_and_is_not_repeated(self):
        import contextlib
        import io

        from train_causal_lm import main

        with tempfile.TemporaryDirectory() as d:
            argv = ["--smoke", "--synthetic", "--max-steps", "3", "--eval-every", "2", "--out-dir", d, "--threads", "1"]
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                main(argv)
            ck = torch.load(os.path.join(d, "final.pt"))
            self.assertEqual(ck["steps"], 3)
            self.assertTrue(os.path.exists(os.path.join(d, "last.pt")))
            with contextlib.redirect_stdout(buf):
                main(argv)
            self.assertIn("nothing to do", buf.getvalue())


if __name__ == "__main__":
    unittest.main()
