"""tools/export with ONNX external data (issue #19): graphs past protobuf's 2 GB limit (JPEG-LM 7 B at int4 ≈ 4.3 GB)
keep their tensors in `<graph>.onnx_data` beside the graph. `--external-data always` forces that form on the tiny
checkpoints, so the whole path (export, parity in ONNX Runtime, pack writing, hashes, the runtime's location rules)
runs here without a 2 GB model.

    /usr/bin/python3 -m unittest tools/tests/test_export*.py
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

# tools/export on sys.path, `export` / `fixtures` under unique names, tools/pack.py, run_export: export_helpers.py.
from export_helpers import HAVE_ORT, fixtures, packlib, run_export  # noqa: E402

import ex_common  # noqa: E402


def tiny_graph(n: int = 32, layers: int = 1) -> onnx.ModelProto:
    """Y = (X · W0 · W1 …) + b with Wi [n, n] (4 KiB each at n = 32, past the 1 KiB threshold for external data)."""
    ws = [numpy_helper.from_array((np.arange(n * n, dtype=np.float32).reshape(n, n) + i) / (n * n), f"W{i}") for i in range(layers)]
    b = numpy_helper.from_array(np.ones(n, np.float32), "b")
    nodes = [helper.make_node("MatMul", ["X" if i == 0 else f"H{i}", f"W{i}"], [f"H{i + 1}"]) for i in range(layers)]
    nodes.append(helper.make_node("Add", [f"H{layers}", "b"], ["Y"]))
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", n])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", n])], initializer=[*ws, b])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])


def first_logits(onnx_path: str, n_layers: int, kv_heads: int, head_dim: int) -> np.ndarray:
    feeds = {"input_ids": np.array([[1, 40, 41, 42]], np.int64), "attention_mask": np.ones((1, 4), np.int64),
             "position_ids": np.arange(4, dtype=np.int64)[None]}
    for i in range(n_layers):
        for kv in ("key", "value"):
            feeds[f"past_key_values.{i}.{kv}"] = np.zeros((1, kv_heads, 0, head_dim), np.float32)
    return ex_common.ort_run(onnx_path, feeds)["logits"]


class SaveOnnx(unittest.TestCase):
    """ex_common.save_onnx / fix_dims and pack.copy_graph on a hand-made graph."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.mode = ex_common.external_data_mode()

    def tearDown(self):
        ex_common.set_external_data(self.mode)
        shutil.rmtree(self.tmp)

    def test_modes(self):
        p = os.path.join(self.tmp, "g.onnx")
        self.assertEqual(ex_common.save_onnx(tiny_graph(), p, "auto"), [])  # 4 KiB: inline
        self.assertFalse(os.path.exists(p + "_data"))
        self.assertEqual(ex_common.save_onnx(tiny_graph(), p, "always"), ["g.onnx_data"])
        self.assertEqual(packlib.external_data_locations(p), ["g.onnx_data"])
        size = os.path.getsize(p + "_data")
        # Saving again replaces the data file (onnx itself would append to it).
        ex_common.save_onnx(tiny_graph(), p, "always")
        self.assertEqual(os.path.getsize(p + "_data"), size)
        onnx.checker.check_model(p)
        old = ex_common.EXTERNAL_DATA_AUTO_BYTES
        try:
            ex_common.EXTERNAL_DATA_AUTO_BYTES = 1000  # "past 2 GB", scaled down
            self.assertEqual(ex_common.save_onnx(tiny_graph(), p, "auto"), ["g.onnx_data"])
            with self.assertRaises(SystemExit) as e:
                ex_common.save_onnx(tiny_graph(), p, "never")
            self.assertIn("2 GB", str(e.exception))
        finally:
            ex_common.EXTERNAL_DATA_AUTO_BYTES = old

    def test_data_is_split_below_the_chunk_size(self):
        """No data file past the chunk size (2 GiB − 1 MiB by default: the runtime reads each file whole, and Node's
        fs.readFile refuses files over 2 GiB): model.onnx_data, model.onnx_data_1 … as transformers.js names them."""
        p = os.path.join(self.tmp, "model.onnx")
        ex_common.set_external_data("always", 5000)  # 4 KiB tensors: one per file
        self.assertEqual(ex_common.save_onnx(tiny_graph(layers=3), p), ["model.onnx_data", "model.onnx_data_1", "model.onnx_data_2"])
        self.assertEqual(packlib.external_data_locations(p), ["model.onnx_data", "model.onnx_data_1", "model.onnx_data_2"])
        self.assertTrue(all(os.path.getsize(os.path.join(self.tmp, f)) == 4096 for f in os.listdir(self.tmp) if "_data" in f))
        onnx.checker.check_model(p)
        ref, got = tiny_graph(layers=3), onnx.load(p)
        for a, b in zip(ref.graph.initializer, got.graph.initializer):
            np.testing.assert_array_equal(numpy_helper.to_array(a), numpy_helper.to_array(b))
        ex_common.set_external_data("always", 10000)  # two tensors fit per file; the stale third file is removed
        self.assertEqual(ex_common.save_onnx(tiny_graph(layers=3), p), ["model.onnx_data", "model.onnx_data_1"])
        self.assertEqual(sorted(os.listdir(self.tmp)), ["model.onnx", "model.onnx_data", "model.onnx_data_1"])
        with self.assertRaises(ValueError):
            ex_common.set_external_data("always", 2**31)
        # The pack copies and lists every chunk; renamed after the graph when the graph is.
        out = os.path.join(self.tmp, "pack")
        m = packlib.write_pack(out, id="t", kind="classifier", licence="MIT", graphs={"classifier": {"src": p, "name": "clf.onnx"}})
        self.assertEqual(sorted(m["files"]), ["clf.onnx", "clf.onnx_data", "clf.onnx_data_1"])
        self.assertEqual(packlib.external_data_locations(os.path.join(out, "clf.onnx")), ["clf.onnx_data", "clf.onnx_data_1"])
        packlib.verify_pack(out)

    def test_fix_dims_gathers_an_exporters_per_tensor_files(self):
        """torch.onnx.export past 2 GB writes one file per tensor beside its output: fix_dims(src=traced) reads them and
        writes the one `<graph>_data` file (or an inline graph), and traced_path removes the exporter's folder."""
        out = os.path.join(self.tmp, "model.onnx")
        for mode, want in (("always", ["model.onnx_data"]), ("never", [])):
            ex_common.set_external_data(mode)
            with ex_common.traced_path(out) as traced:
                onnx.save_model(tiny_graph(), traced, save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=0)
                self.assertIn("W0", os.listdir(os.path.dirname(traced)))  # the exporter's form: a file named after the tensor
                written = ex_common.fix_dims(out, lambda name: {0: 2}, src=traced)
            self.assertEqual(written, want)
            self.assertEqual(sorted(os.listdir(self.tmp)), sorted(["model.onnx", *want]), mode)
            self.assertEqual(packlib.external_data_locations(out), want)
            m = onnx.load(out)
            self.assertEqual(m.graph.input[0].type.tensor_type.shape.dim[0].dim_value, 2)
            np.testing.assert_array_equal(numpy_helper.to_array(m.graph.initializer[0]), numpy_helper.to_array(tiny_graph().graph.initializer[0]))

    def test_copy_graph_renames_the_data_file_after_the_graph(self):
        src = os.path.join(self.tmp, "src", "model_q4.onnx")
        os.makedirs(os.path.dirname(src))
        ex_common.save_onnx(tiny_graph(), src, "always")
        out = os.path.join(self.tmp, "pack")
        written = packlib.copy_graph(src, out, "model.onnx")
        self.assertEqual(list(written), ["model.onnx", "model.onnx_data"])
        self.assertEqual(packlib.external_data_locations(os.path.join(out, "model.onnx")), ["model.onnx_data"])
        a, b = onnx.load(src), onnx.load(os.path.join(out, "model.onnx"))
        np.testing.assert_array_equal(numpy_helper.to_array(a.graph.initializer[0]), numpy_helper.to_array(b.graph.initializer[0]))
        # Same name: a plain copy, and a graph in a subfolder keeps its data beside it (published layout).
        self.assertEqual(list(packlib.copy_graph(src, out, "onnx/model_q4.onnx")), ["onnx/model_q4.onnx", "onnx/model_q4.onnx_data"])
        self.assertEqual(packlib.sha256_file(src), packlib.sha256_file(os.path.join(out, "onnx", "model_q4.onnx")))

    def test_locations_the_runtime_refuses_are_refused(self):
        """src/runtime/packs.ts: plain relative locations inside the pack, ending in .onnx_data/.data/.bin/.onnx_data_<n>."""
        for loc, why in (("weights", "must end in"), ("../g.onnx_data", "component"), ("/abs/g.onnx_data", "absolute")):
            d = tempfile.mkdtemp(dir=self.tmp)
            src = os.path.join(d, "sub", "g.onnx")
            os.makedirs(os.path.dirname(src))
            data = os.path.normpath(os.path.join(os.path.dirname(src), loc)) if not loc.startswith("/") else None
            m = tiny_graph()
            onnx.save_model(m, src, save_as_external_data=True, location="g.onnx_data")
            m = onnx.load(src, load_external_data=False)
            for t in m.graph.initializer:
                for e in t.external_data:
                    if e.key == "location":
                        e.value = loc
            with open(src, "wb") as f:
                f.write(m.SerializeToString())
            if data:
                shutil.copyfile(os.path.join(os.path.dirname(src), "g.onnx_data"), data)
            with self.assertRaises(ValueError) as e:
                packlib.write_pack(os.path.join(d, "pack"), id="t", kind="classifier", licence="MIT", graphs={"classifier": {"src": src}})
            self.assertIn(why, str(e.exception), loc)


@unittest.skipUnless(HAVE_ORT, "needs onnxruntime or node + node_modules/onnxruntime-node")
class JpegLmExternalData(unittest.TestCase):
    """The jpeg-lm fixture checkpoint, int4, exported with and without external data."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.src = os.path.join(cls.tmp, "jpeg")
        cls.cfg = fixtures.make_jpeg_lm(cls.src)
        common = ["jpeg-lm", "--from", cls.src, "--size", "32", "--max-tokens", "512", "--dtype", "q4"]
        cls.out = os.path.join(cls.tmp, "jpeg-ext")
        cls.res = run_export(*common, "--out", cls.out, "--external-data", "always")
        cls.inline = os.path.join(cls.tmp, "jpeg-inline")
        run_export(*common, "--out", cls.inline, "--external-data", "never")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_pack_lists_the_data_file_with_its_hash(self):
        m = packlib.verify_pack(self.out)
        self.assertEqual(sorted(m["files"]), ["MODEL_CARD.md", "model.onnx", "model.onnx_data", "tokenizer.json"])
        data = os.path.join(self.out, "model.onnx_data")
        self.assertEqual(m["files"]["model.onnx_data"], {"sha256": packlib.sha256_file(data), "bytes": os.path.getsize(data)})
        self.assertGreater(os.path.getsize(data), 0)
        # The int4 graph was model_q4.onnx (+ model_q4.onnx_data) in the export's work folder: its data follows its name.
        self.assertEqual(packlib.external_data_locations(os.path.join(self.out, "model.onnx")), ["model.onnx_data"])
        self.assertLess(os.path.getsize(os.path.join(self.out, "model.onnx")), os.path.getsize(os.path.join(self.inline, "model.onnx")))
        self.assertNotIn("model.onnx_data", packlib.verify_pack(self.inline)["files"])
        self.assertEqual(m["io"], packlib.verify_pack(self.inline)["io"])
        ops = {n.op_type for n in onnx.load(os.path.join(self.out, "model.onnx")).graph.node}
        self.assertIn("MatMulNBits", ops)

    def test_parity_ran_on_the_external_data_graph(self):
        rep = self.res["parity"]
        self.assertLessEqual(max(rep["q4_nopast_logits"], rep["q4_step_logits"], rep["q4_padded_logits"]), 1e-4)
        self.assertLessEqual(max(rep["nopast_logits"], rep["step_logits"]), 1e-4)

    def test_same_logits_as_the_inline_pack(self):
        c = self.cfg
        a = first_logits(os.path.join(self.out, "model.onnx"), c["num_hidden_layers"], c["num_key_value_heads"], c["head_dim"])
        b = first_logits(os.path.join(self.inline, "model.onnx"), c["num_hidden_layers"], c["num_key_value_heads"], c["head_dim"])
        np.testing.assert_array_equal(a, b)

    def test_verify_refuses_a_changed_or_missing_data_file(self):
        bad = os.path.join(self.tmp, "bad")
        shutil.copytree(self.out, bad)
        data = os.path.join(bad, "model.onnx_data")
        with open(data, "r+b") as f:
            b = f.read(1)
            f.seek(0)
            f.write(bytes([b[0] ^ 1]))
        with self.assertRaisesRegex(ValueError, "model.onnx_data: sha256 mismatch"):
            packlib.verify_pack(bad)
        os.remove(data)
        with self.assertRaisesRegex(ValueError, "model.onnx_data is not a plain file"):
            packlib.verify_pack(bad)
        # Listed nowhere: the manifest without the data file is refused too.
        shutil.copyfile(os.path.join(self.out, "model.onnx_data"), data)
        mp = os.path.join(bad, packlib.MANIFEST)
        with open(mp, encoding="utf-8") as f:
            m = json.load(f)
        del m["files"]["model.onnx_data"]
        with open(mp, "w", encoding="utf-8") as f:
            json.dump(m, f)
        with self.assertRaisesRegex(ValueError, "unlisted"):
            packlib.verify_pack(bad)
        os.remove(data)
        with self.assertRaisesRegex(ValueError, "not a file listed"):
            packlib.verify_pack(bad)


@unittest.skipUnless(HAVE_ORT, "needs onnxruntime or node + node_modules/onnxruntime-node")
class PublishedLayoutExternalData(unittest.TestCase):
    def test_causal_lm_writes_onnx_model_onnx_data(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "llama")
            cfg = fixtures.make_causal_lm(src)
            out = os.path.join(tmp, "llama-out")
            run_export("causal-lm", "--from", src, "--out", out, "--dtype", "all", "--external-data", "always")
            self.assertEqual(sorted(os.listdir(os.path.join(out, "onnx"))), ["model.onnx", "model.onnx_data", "model_q4.onnx", "model_q4.onnx_data"])
            self.assertEqual(packlib.external_data_locations(os.path.join(out, "onnx", "model.onnx")), ["model.onnx_data"])
            self.assertEqual(packlib.external_data_locations(os.path.join(out, "onnx", "model_q4.onnx")), ["model_q4.onnx_data"])
            with open(os.path.join(out, "concert_export.json"), encoding="utf-8") as f:
                report = json.load(f)
            for f in ("onnx/model.onnx_data", "onnx/model_q4.onnx_data"):
                p = os.path.join(out, *f.split("/"))
                self.assertEqual(report["files"][f], {"sha256": packlib.sha256_file(p), "bytes": os.path.getsize(p)})
            logits = first_logits(os.path.join(out, "onnx", "model.onnx"), cfg["num_hidden_layers"], cfg["num_key_value_heads"], cfg["head_dim"])
            self.assertEqual(logits.shape, (1, 4, cfg["vocab_size"]))


@unittest.skipUnless(HAVE_ORT, "needs onnxruntime or node + node_modules/onnxruntime-node")
class SsdLmExternalData(unittest.TestCase):
    def test_pack_and_triton_model_keep_their_data_beside_the_graph(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "ssdlm")
            fixtures.make_ssd_lm(src)
            out, triton = os.path.join(tmp, "pack"), os.path.join(tmp, "triton")
            run_export("ssd-lm", "--from", src, "--out", out, "--block-size", "5", "--t-train", "200", "--triton", triton, "--external-data", "always")
            m = packlib.verify_pack(out)
            self.assertIn("denoiser.onnx_data", m["files"])
            d = os.path.join(triton, "concert-core", "1")
            self.assertEqual(sorted(os.listdir(d)), ["model.onnx", "model.onnx_data"])
            self.assertEqual(packlib.external_data_locations(os.path.join(d, "model.onnx")), ["model.onnx_data"])


if __name__ == "__main__":
    unittest.main()
