"""tools/export (issue #19): the four exporters on tiny random checkpoints built in the test (no download).

Where torch 2.x + transformers are installed the checkpoints are built and checked with the real transformers
classes; otherwise (this container: Debian's torch 1.13, no transformers) with tools/export/ex_reference. Each test
says which path ran through the exporter's report ("path"). Parity runs in onnxruntime (Python) or onnxruntime-node.

    /usr/bin/python3 -m unittest tools/tests/test_export*.py
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

# tools/export on sys.path, `export` / `fixtures` under unique names, tools/pack.py, run_export: export_helpers.py.
from export_helpers import HAVE_ORT, ROOT, fixtures, packlib, run_export  # noqa: E402

import ex_classifier  # noqa: E402
import ex_common  # noqa: E402
import ex_ssd_lm  # noqa: E402
import ex_triton  # noqa: E402
import tok_convert  # noqa: E402

PATH = "transformers" if ex_common.have_transformers() else "reference"


@unittest.skipUnless(HAVE_ORT, "needs onnxruntime or node + node_modules/onnxruntime-node")
class SsdLmExport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.src = os.path.join(cls.tmp, "ssdlm")
        cls.cfg = fixtures.make_ssd_lm(cls.src)
        cls.out = os.path.join(cls.tmp, "pack")
        cls.triton = os.path.join(cls.tmp, "triton")
        cls.res = run_export("ssd-lm", "--from", cls.src, "--out", cls.out, "--block-size", "5", "--t-train", "200", "--triton", cls.triton)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_parity_and_path(self):
        rep = self.res["parity"]
        self.assertEqual(rep["path"], PATH)
        for k in ("onnx_vs_torch_unpadded", "onnx_vs_torch_left-padded"):
            self.assertLessEqual(rep[k], 1e-4, k)
        self.assertLessEqual(rep["padded_row_vs_alone"], 1e-4)
        self.assertLessEqual(rep["graph_vs_official_construction"], 1e-4)

    def test_manifest(self):
        m = packlib.verify_pack(self.out)  # sizes, sha256 and io against the graph
        self.assertEqual(m["kind"], "simplex-diffusion-lm")
        self.assertEqual(m["diffusion"], {"layout": "ssd-lm", "contextAttention": "bidirectional", "positionOffset": 2})
        self.assertEqual(list(m["graphs"]), ["denoiser"])
        self.assertEqual([i["name"] for i in m["io"]["denoiser"]["inputs"]], ["context_ids", "context_mask", "noisy_logits", "t_frac"])
        self.assertEqual(m["io"]["denoiser"]["outputs"][0]["shape"], ["batch_size", 5, self.cfg["vocab_size"]])
        k = m["knobs"]
        self.assertEqual((k["K"], k["blockSize"], k["tTrain"], k["selfConditioning"], k["maxContext"]), (5.0, 5, 200, False, 64))
        self.assertEqual(m["provenance"]["modelPath"], PATH)
        self.assertIn("sha256:embed_sum_layer.pt", m["provenance"])
        self.assertEqual(m["specialTokens"]["eos"], "</s>")

    def test_official_construction_by_hand(self):
        """The graph equals the official input construction written out: E_word[ctx] ‖ softmax(x)·W_sumᵀ + time(t/T),
        positions 2…, no mask, the block rows of the MLM logits (with the `module.` prefixes of the official files)."""
        ref, _, cfg = ex_ssd_lm.load_ssd_lm(self.src)
        es = torch.load(os.path.join(self.src, "embed_sum_layer.pt"))["module.weight"]
        ts = torch.load(os.path.join(self.src, "timestep_layer.pt"))
        g = torch.Generator().manual_seed(9)
        ctx = torch.randint(4, cfg["vocab_size"], (1, 7), generator=g)
        x = torch.randn(1, 5, cfg["vocab_size"], generator=g) * 5
        t = 0.37
        with torch.no_grad():
            E = ref.mlm.roberta.embeddings.word_embeddings.weight
            blk = torch.softmax(x, -1) @ es.t() + (t * ts["module.weight"][:, 0] + ts["module.bias"])
            emb = torch.cat([E[ctx], blk], 1)
            want = ref.mlm(inputs_embeds=emb).logits[:, 7:]
            got = ref(ctx, torch.ones_like(ctx), x, torch.tensor([t]))
            onnx_out = ex_common.ort_run(os.path.join(self.out, "denoiser.onnx"), {"context_ids": ctx.numpy(), "context_mask": np.ones((1, 7), np.int64),
                                                                                   "noisy_logits": x.numpy(), "t_frac": np.array([t], np.float32)})["logits"]
        self.assertLess(ex_common.rel_err(got.numpy(), want.numpy()), 1e-5)
        self.assertLess(ex_common.rel_err(onnx_out, want.numpy()), 1e-4)

    def test_triton_repository_matches_the_typescript_signature(self):
        d = os.path.join(self.triton, "concert-core")
        with open(os.path.join(d, "config.pbtxt")) as f:
            cfg = ex_triton.parse_pbtxt_tensors(f.read())
        V = self.cfg["vocab_size"]
        script = ("import { denseSignature, DENSE_MODEL, SIGNATURE_VERSION, META } from './src/runtime/oip/signature.ts';"
                  f"console.log(JSON.stringify({{ sig: denseSignature(5, {V}), name: DENSE_MODEL, version: SIGNATURE_VERSION, meta: Object.values(META) }}));")
        r = subprocess.run(["npx", "tsx", "-e", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        ts = json.loads(r.stdout.strip().splitlines()[-1])
        dt = {"INT64": "TYPE_INT64", "FP32": "TYPE_FP32"}
        self.assertEqual(cfg["name"], ts["name"])
        self.assertEqual(cfg["inputs"], [(t["name"], dt[t["datatype"]], t["shape"]) for t in ts["sig"]["inputs"]])
        self.assertEqual(cfg["outputs"], [(t["name"], dt[t["datatype"]], t["shape"]) for t in ts["sig"]["outputs"]])
        self.assertEqual(sorted(cfg["parameters"]), sorted(ts["meta"]))
        self.assertEqual(cfg["parameters"]["concert_signature"], str(ts["version"]))
        self.assertEqual(cfg["parameters"]["concert_self_conditioning"], "false")
        self.assertEqual(cfg["parameters"]["concert_block_size"], "5")
        # The Triton model is the pack's graph with the (ignored) self-conditioning input: same logits.
        g = np.random.default_rng(2)
        feeds = {"context_ids": g.integers(4, V, (2, 6)).astype(np.int64), "context_mask": np.array([[0, 0, 1, 1, 1, 1], [1] * 6], np.int64),
                 "noisy_logits": (g.standard_normal((2, 5, V)) * 5).astype(np.float32), "t_frac": np.array([0.9, 0.1], np.float32)}
        a = ex_common.ort_run(os.path.join(self.out, "denoiser.onnx"), feeds)["logits"]
        b = ex_common.ort_run(os.path.join(d, "1", "model.onnx"), {**feeds, "self_cond_logits": np.zeros((2, 5, V), np.float32)})["logits"]
        np.testing.assert_array_equal(a, b)


@unittest.skipUnless(HAVE_ORT, "needs onnxruntime or node + node_modules/onnxruntime-node")
class ClassifierExport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.src = os.path.join(cls.tmp, "clf")
        cls.cfg = fixtures.make_classifier(cls.src)
        cls.out = os.path.join(cls.tmp, "pack")
        cls.res = run_export("classifier", "--from", cls.src, "--out", cls.out, "--attribute", "sentiment-test")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_report(self):
        rep = self.res["parity"]
        self.assertEqual(rep["path"], PATH)
        for case in ("batch2_block5", "batch1_block3"):
            self.assertLessEqual(rep[f"{case}_grad_vs_autograd"], 1e-3)
            self.assertLessEqual(rep[f"{case}_onnx_grad"], 1e-4)

    def test_onnx_gradient_is_autograd(self):
        """The graph's grad output equals ∂ log p(label | softmax(logits)) / ∂ logits by autograd through the model,
        row by row, and sums to 0 over the vocabulary (softmax Jacobian)."""
        ref, real, cfg, _ = ex_classifier.load_classifier(self.src)
        model = real if real is not None else ref
        g = torch.Generator().manual_seed(11)
        V = cfg["vocab_size"]
        x = torch.randn(3, 4, V, generator=g) * 5
        label = torch.tensor([2, 0, 1])
        o = ex_common.ort_run(os.path.join(self.out, "classifier.onnx"), {"logits": x.numpy(), "label": label.numpy()})
        lp, grad = ex_classifier.autograd_reference(model, x, label)
        self.assertLess(ex_common.rel_err(o["log_probs"], lp.numpy()), 1e-4)
        self.assertLess(ex_common.rel_err(o["grad"], grad.numpy()), 1e-3)
        self.assertLess(float(np.abs(o["grad"].sum(-1)).max()), 1e-5)
        # Rows are independent: row 1 alone has the gradient it has in the batch.
        one = ex_common.ort_run(os.path.join(self.out, "classifier.onnx"), {"logits": x[1:2].numpy(), "label": label[1:2].numpy()})
        self.assertLess(ex_common.rel_err(one["grad"], o["grad"][1:2]), 1e-4)

    def test_manifest(self):
        m = packlib.verify_pack(self.out)
        self.assertEqual(m["kind"], "classifier")
        self.assertEqual(m["knobs"]["attribute"], "sentiment-test")
        self.assertEqual(m["knobs"]["labels"], ["LABEL_0", "LABEL_1", "LABEL_2"])  # config.json id2label
        self.assertEqual(sorted(i["name"] for i in m["io"]["classifier"]["inputs"]), ["label", "logits"])
        self.assertEqual(sorted(o["name"] for o in m["io"]["classifier"]["outputs"]), ["grad", "log_probs"])


@unittest.skipUnless(HAVE_ORT, "needs onnxruntime or node + node_modules/onnxruntime-node")
class LlamaExports(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_jpeg_lm_pack(self):
        src = os.path.join(self.tmp, "jpeg")
        fixtures.make_jpeg_lm(src)
        out = os.path.join(self.tmp, "jpeg-pack")
        res = run_export("jpeg-lm", "--from", src, "--out", out, "--size", "32", "--max-tokens", "512", "--dtype", "q4")
        rep = res["parity"]
        self.assertEqual(rep["path"], PATH)
        self.assertLessEqual(max(rep["q4_nopast_logits"], rep["q4_step_logits"], rep["q4_padded_logits"]), 1e-4)
        self.assertGreater(rep["q4_matmuls"], 0)
        m = packlib.verify_pack(out)
        c = m["codec"]
        self.assertEqual((c["width"], c["height"], c["quality"], c["restartInterval"], c["tokens"]), (32, 32, 25, 1, {"mapping": "braille"}))
        ids = ex_common.tokenizer_ids(os.path.join(out, "tokenizer.json"))
        self.assertEqual((c["bos"], c["eos"], c["pad"]), (ids["<s>"], ids["</s>"], ids["<unk>"]))
        import onnx

        ops = {n.op_type for n in onnx.load(os.path.join(out, "model.onnx")).graph.node}
        self.assertIn("MatMulNBits", ops)
        tok = json.load(open(os.path.join(out, "tokenizer.json"), encoding="utf-8"))
        self.assertIn("\u28ff \u28d8", tok["model"]["merges"])  # FF D8 is one piece

    def test_causal_lm_published_layout(self):
        src = os.path.join(self.tmp, "llama")
        fixtures.make_causal_lm(src)
        out = os.path.join(self.tmp, "llama-out")
        res = run_export("causal-lm", "--from", src, "--out", out, "--dtype", "all")
        self.assertEqual(res["parity"]["path"], PATH)
        for f in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx", "onnx/model_q4.onnx"):
            self.assertTrue(os.path.isfile(os.path.join(out, f)), f)
        report = json.load(open(os.path.join(out, "concert_export.json")))
        for f, e in report["files"].items():
            self.assertEqual(packlib.sha256_file(os.path.join(out, f)), e["sha256"])
        from onnx_util import onnx_signature

        sig = onnx_signature(os.path.join(out, "onnx", "model.onnx"))
        self.assertEqual([i["name"] for i in sig["inputs"]][:3], ["input_ids", "attention_mask", "position_ids"])
        self.assertEqual(sig["inputs"][3]["shape"], ["batch_size", 2, "past_sequence_length", 8])


class TokenizerConversion(unittest.TestCase):
    def test_sentencepiece_round_trip(self):
        sp = tok_convert.read_sentencepiece(fixtures.text_sentencepiece())
        self.assertEqual(sp["model_type"], 2)
        self.assertTrue(sp["byte_fallback"])
        self.assertTrue(sp["add_dummy_prefix"])
        self.assertEqual(sp["pieces"][0]["piece"], "<unk>")
        self.assertEqual(sp["pieces"][3]["piece"], "<0x00>")
        tj = tok_convert.sentencepiece_tokenizer_json(sp)
        self.assertTrue(tj["model"]["byte_fallback"])
        self.assertEqual(tj["normalizer"]["normalizers"][0], {"type": "Prepend", "prepend": "\u2581"})
        self.assertEqual(tj["model"]["merges"][:3], ["\u2581 t", "h e", "\u2581t he"])
        self.assertEqual([t["content"] for t in tj["added_tokens"]], ["<unk>", "<s>", "</s>"])

    def test_roberta_from_vocab_and_merges(self):
        with tempfile.TemporaryDirectory() as d:
            V = fixtures.write_roberta_tokenizer(d)
            out = os.path.join(d, "tokenizer.json")
            self.assertIn("converted", tok_convert.roberta_tokenizer(d, out))
            tj = json.load(open(out, encoding="utf-8"))
        self.assertEqual(len(tj["model"]["vocab"]), V)
        self.assertEqual([t["content"] for t in tj["added_tokens"]], ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        self.assertEqual(tj["pre_tokenizer"]["type"], "ByteLevel")


class CommittedFixtures(unittest.TestCase):
    """test/fixtures/export: what the TypeScript worker tests load; rebuilt with tools/export/fixtures.py."""

    def test_packs_verify_and_record_their_path(self):
        base = os.path.join(ROOT, "test", "fixtures", "export")
        summary = json.load(open(os.path.join(base, "fixtures.json")))
        self.assertIn(summary["modelClasses"], ("transformers", "tools/export/reference"))
        for name in ("ssdlm-tiny", "clf-roberta-tiny", "jpeg-lm-tiny"):
            m = packlib.verify_pack(os.path.join(base, "packs", name))
            self.assertLess(sum(e["bytes"] for e in m["files"].values()), 1 << 20, name)
        self.assertEqual(set(summary["packs"]), {"ssdlm-tiny", "clf-roberta-tiny", "jpeg-lm-tiny", "llama-tiny"})


if __name__ == "__main__":
    unittest.main()
