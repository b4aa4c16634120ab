"""The JPEG-LM pipeline of models/concert-jpeg-32 (tools/jpeg) in miniature: procedural data → canonical streams →
a few training steps → ONNX export in the optimum decoder layout → parity with PyTorch in onnxruntime-node → weight-only
4-bit quantisation (tools/jpeg/quantize.py) and its parity → a pack with the codec block; plus the token mapping and the prompt cut (the codec layer's rule). Needs Pillow and jpegtran
(skipped without them); the ORT parity needs node and node_modules/onnxruntime-node (skipped without them)."""
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "codec"))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))

try:
    from PIL import Image  # noqa: F401

    HAVE_PIL = True
except ImportError:  # pragma: no cover
    HAVE_PIL = False
HAVE_JPEGTRAN = shutil.which("jpegtran") is not None


def jpeg_module(name: str):
    """tools/jpeg/<name>.py by path (tools/diffusion has data/train/export/eval modules of the same names)."""
    import importlib.util

    key = f"concert_jpeg_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, os.path.join(ROOT, "tools", "jpeg", f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return sys.modules[key]


@unittest.skipUnless(HAVE_PIL and HAVE_JPEGTRAN, "needs Pillow (python3-pil) and jpegtran (libjpeg-turbo-progs)")
class JpegLmPipelineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="jpeg-lm-test-")
        data = jpeg_module("data")
        with contextlib.redirect_stdout(io.StringIO()):
            data.main(["--procedural-only", "--train", "48", "--val", "8", "--workers", "1", "--out", os.path.join(cls.tmp, "data")])
        cls.train_streams, _ = data.load_split(os.path.join(cls.tmp, "data", "train.npz"))
        cls.val_streams, _ = data.load_split(os.path.join(cls.tmp, "data", "val.npz"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_streams_are_canonical(self):
        import canonical_jpeg as cj

        header = self.train_streams[0][:59]
        for s in self.train_streams + self.val_streams:
            self.assertEqual(s[:59], header)
            info = cj.describe(s)
            self.assertEqual((info["width"], info["height"], info["restarts"]), (32, 32, 3))
            self.assertTrue(info["ends_with_eoi"])
            self.assertLessEqual(len(s) + 2, 512)

    def test_tokens_round_trip(self):
        t = jpeg_module("train")
        BOS, EOS, OFFSET, decode_tokens, encode = t.BOS, t.EOS, t.OFFSET, t.decode_tokens, t.encode

        s = self.val_streams[0]
        ids = encode(s)
        self.assertEqual((int(ids[0]), int(ids[-1])), (BOS, EOS))
        self.assertEqual(int(ids[1]), 0xFF + OFFSET)
        self.assertEqual(decode_tokens(ids), s)
        self.assertEqual(decode_tokens(range(OFFSET, OFFSET + 256)), bytes(range(256)))

    def test_prompt_cut_is_the_codec_rule(self):
        ev = jpeg_module("eval")
        prompt_for_ratio, restart_offsets = ev.prompt_for_ratio, ev.restart_offsets

        for s in self.val_streams:
            p0, m0 = prompt_for_ratio(s, 0.0)
            self.assertEqual((p0, m0), (s[:59], 0))
            p, m = prompt_for_ratio(s, 0.5)  # 32x32: 2 patches of one MCU row (2 MCUs): keep the first row
            self.assertEqual(m, 2)
            self.assertEqual(p[-2:], b"\xff\xd1")
            self.assertEqual(len(restart_offsets(p)), 2)
            self.assertTrue(s.startswith(p))
            self.assertEqual(prompt_for_ratio(s, 0.49)[1], 0)
            self.assertEqual(prompt_for_ratio(s, 1.0), (s, 4))

    def test_train_export_parity_pack(self):
        import onnx
        import torch

        export, train = jpeg_module("export"), jpeg_module("train")
        from causal_lm import load_model
        from onnx_util import onnx_signature

        ck = os.path.join(self.tmp, "ck")
        with contextlib.redirect_stdout(io.StringIO()):
            train.main(["--smoke", "--data", os.path.join(self.tmp, "data"), "--out-dir", ck, "--max-steps", "4", "--eval-every", "2"])
        fin = torch.load(os.path.join(ck, "final.pt"), map_location="cpu")
        self.assertEqual(fin["steps"], 4)
        self.assertEqual(fin["config"]["vocab_size"], 259)
        self.assertEqual(fin["tokens"], {"bos": 0, "eos": 1, "pad": 2, "offset": 3})
        # Resumable: the same arguments again do not retrain; --init-from starts a continuation run.
        with contextlib.redirect_stdout(io.StringIO()):
            train.main(["--smoke", "--data", os.path.join(self.tmp, "data"), "--out-dir", ck, "--max-steps", "4", "--eval-every", "2"])
            train.main(["--smoke", "--data", os.path.join(self.tmp, "data"), "--out-dir", ck + "b", "--max-steps", "2",
                        "--init-from", os.path.join(ck, "final.pt")])
        self.assertEqual(torch.load(os.path.join(ck + "b", "final.pt"), map_location="cpu")["init_from"]["steps"], 4)

        model, _ = load_model(os.path.join(ck, "final.pt"))
        path = os.path.join(self.tmp, "work", "model.onnx")
        os.makedirs(os.path.dirname(path))
        export.export_onnx(model, path)
        onnx.checker.check_model(onnx.load(path))
        sig = onnx_signature(path)
        names = [v["name"] for v in sig["inputs"]]
        L = model.cfg.n_layers
        self.assertEqual(names, ["input_ids", "attention_mask", "position_ids"]
                         + [f"past_key_values.{i}.{kv}" for i in range(L) for kv in ("key", "value")])
        self.assertEqual([v["name"] for v in sig["outputs"]],
                         ["logits"] + [f"present.{i}.{kv}" for i in range(L) for kv in ("key", "value")])
        self.assertEqual(sig["outputs"][0]["shape"], ["batch_size", "sequence_length", 259])
        if not export.ort_available():
            self.skipTest("node / onnxruntime-node not installed: ORT parity not checked")
        rows = [[int(t) for t in train.encode(s)] for s in self.val_streams[:2]]
        diffs = export.parity(model, path, rows)
        for k in ("nopast", "step", "padded", "torch_cache_vs_full", "torch_padded_vs_unpadded"):
            self.assertLess(diffs[k], 1e-4, k)

    def test_quantize_q4(self):
        """tools/jpeg/quantize.py on a smoke-sized model: every nn.Linear MatMul becomes MatMulNBits (bits 4, block 32),
        the embeddings and the tied head stay float32, the I/O is unchanged, and onnxruntime-node matches the PyTorch
        reference with the dequantised weights (q − zero point) · scale."""
        import numpy as np
        import onnx
        import torch
        from causal_lm import CausalLM, LMConfig
        from onnx_util import onnx_signature

        export, quantize, train = jpeg_module("export"), jpeg_module("quantize"), jpeg_module("train")
        torch.manual_seed(3)
        model = CausalLM(LMConfig(vocab_size=259, d_model=32, n_layers=2, n_heads=2, d_ff=64, max_positions=512)).eval()
        d = os.path.join(self.tmp, "q4")
        os.makedirs(d)
        fp32, q4 = os.path.join(d, "model_fp32.onnx"), os.path.join(d, "model.onnx")
        export.export_onnx(model, fp32)
        ref, blocks = quantize.quantize(model, fp32, q4)
        m = onnx.load(q4)
        onnx.checker.check_model(m)
        nodes = [n for n in m.graph.node if n.op_type == "MatMulNBits"]
        self.assertEqual(len(nodes), 4 * model.cfg.n_layers)  # qkv, proj, fc1, fc2
        for n in nodes:
            self.assertEqual(n.domain, "com.microsoft")
            attrs = {a.name: a.i for a in n.attribute}
            self.assertEqual((attrs["bits"], attrs["block_size"]), (4, 32))
        self.assertEqual(set(blocks.values()), {32})
        ops = {n.op_type for n in m.graph.node}
        self.assertNotIn("DynamicQuantizeLinear", ops)
        self.assertNotIn("MatMulInteger", ops)
        inits = {t.name: t for t in m.graph.initializer}
        for name in ("model.wte.weight", "model.wpe.weight"):  # embeddings (and the tied head) float32
            self.assertEqual(inits[name].data_type, onnx.TensorProto.FLOAT)
        self.assertFalse(any(n.startswith("model.blocks.") and n.endswith(".weight") and "ln" not in n for n in inits))
        self.assertEqual(onnx_signature(q4), onnx_signature(fp32))
        self.assertLess(os.path.getsize(q4), os.path.getsize(fp32))
        # The reference holds the dequantised weights: changed, within half a quantisation step of the float32 ones.
        for (name, p), (_, p0) in zip(ref.named_parameters(), model.named_parameters()):
            if name.endswith(".weight") and p.dim() == 2 and not name.startswith(("wte", "wpe")):
                err = (p - p0).abs().max().item()
                span = (p0.max() - p0.min()).item()
                self.assertGreater(err, 0, name)
                self.assertLessEqual(err, span / 15 / 2 + 1e-6, name)
            else:
                self.assertTrue(torch.equal(p, p0), name)
        if not export.ort_available():
            self.skipTest("node / onnxruntime-node not installed: ORT parity not checked")
        rows = [[int(t) for t in train.encode(s)] for s in self.val_streams[:2]]
        diffs = export.parity(ref, q4, rows)
        for k in ("nopast", "step", "padded", "torch_cache_vs_full", "torch_padded_vs_unpadded"):
            self.assertLess(diffs[k], 1e-4, k)
        # ... and not merely because quantisation changed nothing: the float32 model is farther from the q4 graph.
        self.assertGreater(export.parity(model, q4, rows)["nopast"], 10 * max(diffs["nopast"], 1e-6))
        self.assertTrue(np.isfinite(diffs["nopast"]))

    def test_codec_block(self):
        codec_block = jpeg_module("make_test_pack").codec_block

        self.assertEqual(codec_block(), {"format": "jpeg", "stream": "image-only", "width": 32, "height": 32, "quality": 25,
                                         "subsampling": "4:2:0", "restartInterval": 1, "tokens": {"mapping": "bytes", "offset": 3},
                                         "bos": 0, "eos": 1, "pad": 2, "maxTokens": 512})
        pack_json = os.path.join(ROOT, "models", "concert-jpeg-32", "concert.json")
        if os.path.exists(pack_json):
            with open(pack_json, encoding="utf-8") as f:
                m = json.load(f)
            self.assertEqual(m["kind"], "codec-lm")
            self.assertEqual(m["codec"], codec_block())
            self.assertEqual(m["graphs"], {"decoder": "model.onnx"})
            self.assertNotIn("tokenizer", m)


if __name__ == "__main__":
    unittest.main()
