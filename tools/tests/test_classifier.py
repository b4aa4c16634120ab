"""Simplex classifier: explicit input gradient vs torch autograd, one-hot shortcut, ONNX export."""
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
from classifier import ClfConfig, SimplexClassifier, onehot_logits  # noqa: E402


def tiny(num_labels=2, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    m = SimplexClassifier(ClfConfig(vocab_size=61, d_embed=12, d_hidden=10, num_labels=num_labels)).to(dtype)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return m


def autograd_grad(m, logits, label):
    x = logits.clone().requires_grad_()
    lp = m(x)
    return lp.detach(), torch.autograd.grad(lp.gather(1, label[:, None]).sum(), x)[0]


class GradientTest(unittest.TestCase):
    def check(self, m, logits, label, tol):
        lp, g = m.forward_with_grad(logits, label)
        lp_ref, g_ref = autograd_grad(m, logits, label)
        self.assertLess((lp - lp_ref).abs().max().item(), 1e-6)
        rel = ((g - g_ref).abs().max() / g_ref.abs().max()).item()
        self.assertLess(rel, tol)
        # Softmax Jacobian: the gradient sums to 0 over the vocabulary at every position.
        self.assertLess(g.sum(-1).abs().max().item(), 1e-5 * max(1.0, g.abs().max().item()))

    def test_random_inputs_float32(self):
        for seed, labels in ((0, 2), (1, 3)):
            m = tiny(labels, seed)
            torch.manual_seed(seed + 10)
            logits = torch.randn(3, 7, 61) * 4
            label = torch.randint(0, labels, (3,))
            self.check(m, logits, label, 1e-4)

    def test_random_inputs_float64_exact(self):
        m = tiny(2, 2, torch.float64)
        logits = torch.randn(2, 5, 61, dtype=torch.float64) * 2
        self.check(m, logits, torch.tensor([1, 0]), 1e-10)

    def test_block_of_one_and_onehot_text(self):
        m = tiny(2, 3)
        ids = torch.randint(0, 61, (2, 1))
        self.check(m, onehot_logits(ids, 61), torch.tensor([0, 1]), 1e-4)
        ids = torch.randint(0, 61, (1, 9))
        self.check(m, onehot_logits(ids, 61, 5.0), torch.tensor([1]), 1e-4)

    def test_onehot_shortcut_matches_dense(self):
        m = tiny(2, 4)
        ids = torch.randint(0, 61, (2, 6))
        for K in (1.0, 5.0):
            _, dense = m.embed_simplex(onehot_logits(ids, 61, K))
            self.assertLess((m.embed_onehot_like(ids, K) - dense).abs().max().item(), 1e-5)

    def test_mask_equals_unpadded(self):
        m = tiny(2, 5)
        ids = torch.randint(0, 61, (1, 4))
        padded = torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], 1)
        mask = torch.tensor([[1, 1, 1, 1, 0, 0, 0]])
        c1, _ = m.head(m.embed_onehot_like(padded, 5.0), mask)
        c2, _ = m.head(m.embed_onehot_like(ids, 5.0))
        self.assertLess((c1 - c2).abs().max().item(), 1e-5)


class ExportTest(unittest.TestCase):
    def test_export(self):
        import onnx
        from export_classifier import export_onnx, write_golden
        from onnx_util import onnx_signature

        m = tiny(2, 6)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "classifier.onnx")
            export_onnx(m, p)
            onnx.checker.check_model(onnx.load(p))
            sig = onnx_signature(p)
            self.assertEqual(sig["inputs"], [
                {"name": "logits", "dtype": "float32", "shape": ["batch_size", "block_length", 61]},
                {"name": "label", "dtype": "int64", "shape": ["batch_size"]}])
            self.assertEqual(sig["outputs"], [
                {"name": "log_probs", "dtype": "float32", "shape": ["batch_size", 2]},
                {"name": "grad", "dtype": "float32", "shape": ["batch_size", "block_length", 61]}])
            big = [i for i in onnx.load(p).graph.initializer if 61 in i.dims]
            self.assertEqual(len(big), 1)  # embedding stored once
            try:
                from onnx.reference import ReferenceEvaluator
            except ImportError:
                ReferenceEvaluator = None
            if ReferenceEvaluator is not None:
                logits = torch.randn(2, 4, 61) * 3
                label = torch.tensor([1, 0])
                lp, g = ReferenceEvaluator(p).run(None, {"logits": logits.numpy(), "label": label.numpy()})
                lp_ref, g_ref = m.forward_with_grad(logits, label)
                self.assertLess(abs(lp - lp_ref.detach().numpy()).max(), 1e-4)
                self.assertLess(abs(g - g_ref.detach().numpy()).max(), 1e-4)
            self.assertLess(write_golden(m, d, "tiny"), 2_000_000)


if __name__ == "__main__":
    unittest.main()
