"""Published-layout fixtures (tools/hf/make_fixtures.py): the quantised weights read back by the operators' own
definitions are the fp32 weights within half a quantisation step, the writer is deterministic, and the committed
test/fixtures/hf is what it writes (the TypeScript side, test/worker/hf-decoders.test.ts, checks that Concert decodes
every variant as the PyTorch reference does).

Run: /usr/bin/python3 -m unittest discover -s tools/tests
"""
from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "hf"))
import make_fixtures as mf  # noqa: E402

FIXTURES = os.path.join(ROOT, "test", "fixtures", "hf")
LLAMA = os.path.join(FIXTURES, "llama-tiny", "onnx")


def unpack_matmul_nbits(b, scales, zero_points, k, block_size, bits=4):
    """W [N, K] as com.microsoft MatMulNBits defines it (ONNX Runtime docs/ContribOperators.md): B uint8 [N, n_blocks,
    block_size·bits/8] with codes packed low bits first along K; scales [N, n_blocks]; zero_points packed the same way
    along the blocks, [N, ceil(n_blocks·bits/8)], default 2^(bits−1); W = (code − zero_point) · scale."""
    n, nb, blob = b.shape
    assert blob == block_size * bits // 8, (blob, block_size)
    assert nb == -(-k // block_size)
    per_byte = 8 // bits
    mask = (1 << bits) - 1
    codes = np.stack([(b >> (bits * i)) & mask for i in range(per_byte)], axis=-1).reshape(n, nb, block_size).astype(np.int64)
    if zero_points is None:
        zp = np.full((n, nb), 1 << (bits - 1), np.int64)
    else:
        zp = np.stack([(zero_points >> (bits * i)) & mask for i in range(per_byte)], axis=-1).reshape(n, -1)[:, :nb].astype(np.int64)
    w = (codes - zp[..., None]).astype(np.float32) * np.asarray(scales, np.float32).reshape(n, nb)[..., None]
    return w.reshape(n, nb * block_size)[:, :k], np.asarray(scales, np.float32).reshape(n, nb)


def graph_parts(path):
    m = onnx.load(path)
    return m, {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class Q4PackTest(unittest.TestCase):
    def test_pack_reads_back_by_the_spec_within_half_a_step(self):
        rng = np.random.default_rng(0)
        for n, k, bs in ((8, 32, 32), (5, 48, 16), (3, 40, 32), (4, 64, 16)):  # 40: K padded to whole blocks
            w = (rng.standard_normal((n, k)) * 0.35).astype(np.float32)
            for symmetric in (True, False):
                for scale_dtype in (np.float32, np.float16):
                    with self.subTest(n=n, k=k, bs=bs, symmetric=symmetric, scale_dtype=scale_dtype.__name__):
                        b, scales, zps, deq = mf.q4_pack(w, bs, symmetric, scale_dtype)
                        nb = -(-k // bs)
                        self.assertEqual((b.dtype, b.shape, scales.shape, scales.dtype), (np.uint8, (n, nb, bs // 2), (n, nb), np.dtype(scale_dtype)))
                        self.assertEqual(zps is None, symmetric)
                        if zps is not None:
                            self.assertEqual((zps.dtype, zps.shape), (np.uint8, (n, -(-nb // 2))))
                        read, s = unpack_matmul_nbits(b, scales, zps, k, bs)
                        np.testing.assert_array_equal(read, deq)  # the reference's weights are exactly the graph's
                        step = np.repeat(s, bs, axis=1)[:, :k]
                        slack = 0.5 + (0.05 if scale_dtype is np.float16 else 1e-4)  # a float16 scale is rounded
                        self.assertTrue(np.all(np.abs(read - w) <= step * slack + 1e-7), np.abs(read - w).max())

    def test_block_size_is_a_power_of_two_of_at_least_16(self):
        with self.assertRaises(ValueError):
            mf.q4_pack(np.zeros((2, 24), np.float32), 24, True)
        with self.assertRaises(ValueError):
            mf.q4_pack(np.zeros((2, 32), np.float32), 8, True)

    def test_int8_pack_within_seven_bits(self):
        w = (np.random.default_rng(1).standard_normal((32, 48)) * 0.35).astype(np.float32)
        for signed, lo, hi in ((True, -63, 63), (False, 0, 127)):
            q, scale, zp, deq = mf.int8_pack(w, signed)
            self.assertTrue(lo <= int(q.min()) and int(q.max()) <= hi)
            np.testing.assert_array_equal(deq, (q.astype(np.float32) - np.float32(zp)) * scale)
            self.assertLessEqual(float(np.abs(deq - w).max()), float(scale) * 0.5 + 1e-7)


class CommittedFixturesTest(unittest.TestCase):
    """The committed llama-tiny variants against its fp32 graph."""

    @classmethod
    def setUpClass(cls):
        cls.fp32, cls.w32 = graph_parts(os.path.join(LLAMA, "model.onnx"))
        # param → W [N, K] (torch's Linear layout), as the fp32 graph multiplies by it
        cls.weights = {p: w for p, w in mf._weight_matmuls(cls.fp32.graph).values()}

    def check_q4(self, file, scale_type, zero_points):
        m, inits = graph_parts(os.path.join(LLAMA, file))
        nodes = [n for n in m.graph.node if n.op_type == "MatMulNBits"]
        self.assertEqual(len(nodes), len(self.weights))
        self.assertFalse([n for n in m.graph.node if n.op_type == "MatMul" and n.input[1] in inits], "a weight MatMul left")
        self.assertIn(("com.microsoft", 1), [(o.domain, o.version) for o in m.opset_import])
        seen = set()
        for node in nodes:
            a = attrs(node)
            self.assertEqual(node.domain, "com.microsoft")
            b, scales = inits[node.input[1]], inits[node.input[2]]
            zps = inits[node.input[3]] if len(node.input) > 3 else None
            self.assertEqual(zps is not None, zero_points, node.name)
            self.assertEqual(scales.dtype, scale_type)
            param = node.input[1][: -len("_Q4")]
            w = self.weights[param]
            self.assertEqual((a["N"], a["K"], a["bits"]), (*w.shape, 4))
            self.assertEqual(a["block_size"], 32 if a["K"] % 32 == 0 else 16)
            read, s = unpack_matmul_nbits(b, scales, zps, a["K"], a["block_size"])
            step = np.repeat(s, a["block_size"], axis=1)[:, : a["K"]]
            err = np.abs(read - w)
            self.assertTrue(np.all(err <= step * 0.55 + 1e-7), f"{file} {param}: {err.max()}")
            seen.add(param)
        self.assertEqual(seen, set(self.weights))

    def test_q4(self):
        self.check_q4("model_q4.onnx", np.float32, zero_points=True)

    def test_q4f16(self):
        self.check_q4("model_q4f16.onnx", np.float16, zero_points=False)
        m, inits = graph_parts(os.path.join(LLAMA, "model_q4f16.onnx"))
        self.assertFalse([n for n, v in inits.items() if v.dtype == np.float32], "every float weight is float16")
        io = {v.name: v.type.tensor_type.elem_type for v in list(m.graph.input) + list(m.graph.output)}
        self.assertEqual({n: t for n, t in io.items() if n.startswith(("past_key_values", "present", "logits"))},
                         {n: onnx.TensorProto.FLOAT16 for n in io if n.startswith(("past_key_values", "present", "logits"))})

    def test_int8_and_uint8(self):
        for file, dtype in (("model_quantized.onnx", np.int8), ("model_uint8.onnx", np.uint8)):
            m, inits = graph_parts(os.path.join(LLAMA, file))
            ops = [n.op_type for n in m.graph.node]
            self.assertEqual(ops.count("MatMulInteger"), len(self.weights))
            for node in (n for n in m.graph.node if n.op_type == "MatMulInteger"):
                q, zp = inits[node.input[1]], inits[node.input[3]]
                param = node.input[1][: -len("_quantized")]
                scale = inits[f"{param}_scale"]
                self.assertEqual((q.dtype, zp.dtype, zp.shape, scale.shape), (np.dtype(dtype), np.dtype(dtype), (), ()))
                deq = (q.astype(np.float32) - np.float32(zp)) * scale
                err = np.abs(deq.T - self.weights[param])
                self.assertLessEqual(float(err.max()), float(scale) * 0.5 + 1e-7, f"{file} {param}")

    def test_rewrite_is_deterministic(self):
        for mode, fp16 in (("q4", False), ("q4-sym", True), ("int8", False), ("uint8", False)):
            a, _ = mf.quantize_graph(self.fp32, mode, fp16=fp16)
            b, _ = mf.quantize_graph(self.fp32, mode, fp16=fp16)
            self.assertEqual(a.SerializeToString(), b.SerializeToString(), mode)


class RegenerateTest(unittest.TestCase):
    def test_regenerated_fixtures_equal_the_committed_ones(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "hf")
            r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "hf", "make_fixtures.py"), "--out", out], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            want = sorted(os.path.relpath(os.path.join(d, f), FIXTURES) for d, _, fs in os.walk(FIXTURES) for f in fs)
            got = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
            self.assertEqual(got, want)
            stale = [f for f in want if not filecmp.cmp(os.path.join(out, f), os.path.join(FIXTURES, f), shallow=False)]
            self.assertEqual(stale, [], "test/fixtures/hf is stale: run /usr/bin/python3 tools/hf/make_fixtures.py --out test/fixtures/hf")
            total = sum(os.path.getsize(os.path.join(out, f)) for f in got)
            self.assertLess(total, 3 * 1024 * 1024, "the fixtures stay small")


if __name__ == "__main__":
    unittest.main()
