"""Simplex diffusion LM (tools/diffusion): schedule, SSD-2 attention mask, context-state reuse, padding invariance,
ONNX export round trip, the reference decoding loop's invariants and randomness (tiny random models, seconds)."""
import json
import math
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "diffusion"))
from decode import Rng, SeededNoise, Term, TorchDiffusion, decode, nucleus, project, renoise, seeded_gaussian  # noqa: E402
from model import SSDConfig, SimplexDiffusionLM, alpha_bar, anchored_joint_mask, positions_from_mask, ssd2_joint_mask  # noqa: E402

TINY = SSDConfig(vocab_size=53, d_model=32, n_layers=2, n_heads=4, d_ff=48, max_positions=64, block_size=4, t_train=100,
                 time_features=8)


def tiny_model(seed=0, cfg=TINY):
    torch.manual_seed(seed)
    m = SimplexDiffusionLM(cfg).eval()
    with torch.no_grad():  # larger weights than the init so that differences are not hidden by near-uniform outputs
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return m


def rand_past(m, ids, mask=None, pos=None):
    with torch.no_grad():
        return m.encode_context(ids, mask, pos)


class ScheduleTest(unittest.TestCase):
    def test_reference_values(self):
        # A_seed_reference §1.4 (float64)
        self.assertEqual(alpha_bar(0, 5000), 1.0)
        self.assertAlmostEqual(alpha_bar(1, 5000), 0.9999998026, places=10)
        self.assertAlmostEqual(alpha_bar(1, 1000), 0.9999970397, places=10)
        self.assertAlmostEqual(alpha_bar(1, 25), 0.9960384548, places=10)
        self.assertAlmostEqual(alpha_bar(24, 25), 3.9419e-3, places=7)
        for T in (100, 1000, 5000):
            self.assertAlmostEqual(alpha_bar(T // 2, T), 0.4999214804, places=9)
            self.assertLess(alpha_bar(T, T), 1e-12)
        vals = [alpha_bar(t, 200) for t in range(201)]
        self.assertTrue(all(a > b for a, b in zip(vals, vals[1:])))

    def test_tensor_version_matches(self):
        t = torch.arange(0, 1001)
        a = alpha_bar(t, 1000)
        self.assertEqual(float(a[0]), 1.0)
        for i in (1, 17, 500, 999, 1000):
            self.assertAlmostEqual(float(a[i]), alpha_bar(i, 1000), places=12)


class MaskTest(unittest.TestCase):
    def test_printed_delta_1_2_2(self):
        want = torch.tensor([[1, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0], [1, 0, 0, 1, 1, 0, 0],
                             [1, 0, 0, 1, 1, 0, 0], [1, 1, 1, 0, 0, 1, 1], [1, 1, 1, 0, 0, 1, 1]], dtype=torch.bool)
        self.assertTrue(torch.equal(ssd2_joint_mask(1, 2, 2), want))

    def test_block_bias_is_the_joint_mask(self):
        m = tiny_model()
        c0, n, B = 3, 3, TINY.block_size
        c = c0 + (n - 1) * B
        starts = torch.tensor([[c0 + k * B for k in range(n)]])
        bias = m.block_bias(starts, c)[0, 0] == 0  # allowed
        joint = anchored_joint_mask(c0, n, B)
        self.assertTrue(torch.equal(bias, joint[c:, :]))

    def test_anchored_mask_extends_the_thesis_mask(self):
        """Dropping the anchor rows/columns of the anchored mask leaves δ(c0, n, B) except for the column of the token
        just before each block, which the block now sees through its anchor instead."""
        c0, n, B = 3, 2, 2
        c = c0 + (n - 1) * B
        a = anchored_joint_mask(c0, n, B)
        keep = list(range(c)) + [c + k * (B + 1) + 1 + i for k in range(n) for i in range(B)]
        reduced = a[keep][:, keep]
        thesis = ssd2_joint_mask(c0, n, B).clone()
        for k in range(n):
            thesis[c + k * B:c + (k + 1) * B, c0 + k * B - 1] = False
        self.assertTrue(torch.equal(reduced, thesis))

    def test_unused_block_slots_see_only_themselves(self):
        m = tiny_model()
        bias = m.block_bias(torch.tensor([[5, -1]]), 10)[0, 0] == 0
        G = TINY.block_size + 1
        self.assertFalse(bias[G:, :10].any())
        self.assertTrue(bias[G:, 10 + G:].all())


class ContextReuseTest(unittest.TestCase):
    def setUp(self):
        self.m = tiny_model(1)
        g = torch.Generator().manual_seed(3)
        self.c0, self.n = 5, 3
        B = TINY.block_size
        self.L = self.c0 + self.n * B
        self.tokens = torch.randint(0, TINY.vocab_size, (2, self.L), generator=g)
        self.noisy = torch.randn(2, self.n * B, TINY.vocab_size, generator=g) * 5
        self.sc = torch.randn(2, self.n * B, TINY.vocab_size, generator=g)
        self.tf = torch.rand(2, self.n, generator=g)
        self.starts = torch.tensor([[self.c0 + k * B for k in range(self.n)]] * 2)

    def test_split_training_pass_equals_joint_sequence(self):
        with torch.no_grad():
            split = self.m.forward_train(self.tokens, self.starts, self.noisy, self.tf, self.sc)
            joint = self.m.joint_forward(self.tokens, self.c0, self.n, self.noisy, self.tf, self.sc)
        self.assertLess((split - joint).abs().max().item(), 1e-5)

    def test_context_cut_after_last_block_start_is_exact(self):
        with torch.no_grad():
            full = self.m.forward_train(self.tokens, self.starts, self.noisy, self.tf, self.sc)
            ctx = self.m.encode_context(self.tokens[:, : int(self.starts.max())])
            cut = self.m.forward_train(self.tokens, self.starts, self.noisy, self.tf, self.sc, ctx)
        self.assertLess((full - cut).abs().max().item(), 1e-5)

    def test_inference_step_equals_training_block(self):
        """denoise() over the encoded context of block k == block k of the training pass."""
        B = TINY.block_size
        with torch.no_grad():
            train = self.m.forward_train(self.tokens, self.starts, self.noisy, self.tf, self.sc)
            for k in range(self.n):
                s = self.c0 + k * B
                past = self.m.encode_context(self.tokens[:, :s])
                out = self.m.denoise(self.noisy[:, k * B:(k + 1) * B], self.sc[:, k * B:(k + 1) * B], self.tf[:, k],
                                     torch.ones(2, s, dtype=torch.long), past, self.tokens[:, s - 1])
                self.assertLess((out - train[:, k * B:(k + 1) * B]).abs().max().item(), 1e-5)

    def test_incremental_context_equals_full(self):
        with torch.no_grad():
            full = self.m.encode_context(self.tokens)
            p = self.m.encode_context(self.tokens[:, :6])
            p = self.m.encode_context(self.tokens[:, 6:], torch.ones(2, self.L, dtype=torch.long),
                                      torch.arange(6, self.L).expand(2, -1), p)
        for (a, b), (c, d) in zip(full, p):
            self.assertLess((a - c).abs().max().item(), 1e-5)
            self.assertLess((b - d).abs().max().item(), 1e-5)

    def test_self_conditioning_none_equals_zero_logits(self):
        B = TINY.block_size
        with torch.no_grad():
            past = self.m.encode_context(self.tokens[:, :self.c0])
            mask = torch.ones(2, self.c0, dtype=torch.long)
            anchors = self.tokens[:, self.c0 - 1]
            a = self.m.denoise(self.noisy[:, :B], None, self.tf[:, 0], mask, past, anchors)
            b = self.m.denoise(self.noisy[:, :B], torch.zeros(2, B, TINY.vocab_size), self.tf[:, 0], mask, past, anchors)
        self.assertLess((a - b).abs().max().item(), 1e-5)


class PaddingTest(unittest.TestCase):
    def test_left_padded_rows_equal_rows_alone(self):
        m = tiny_model(2)
        g = torch.Generator().manual_seed(5)
        B, V = TINY.block_size, TINY.vocab_size
        rows = [torch.randint(0, V, (9,), generator=g), torch.randint(0, V, (4,), generator=g)]
        noisy = torch.randn(2, B, V, generator=g) * 5
        sc = torch.randn(2, B, V, generator=g)
        tf = torch.tensor([0.7, 0.2])
        ids = torch.zeros(2, 9, dtype=torch.long)
        mask = torch.zeros(2, 9, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, 9 - len(r):] = r
            mask[i, 9 - len(r):] = 1
        with torch.no_grad():
            past = m.encode_context(ids, mask, positions_from_mask(mask, 9))
            batch = m.denoise(noisy, sc, tf, mask, past, ids[:, -1])
            for i, r in enumerate(rows):
                alone_past = m.encode_context(r.unsqueeze(0))
                alone = m.denoise(noisy[i:i + 1], sc[i:i + 1], tf[i:i + 1], torch.ones(1, len(r), dtype=torch.long), alone_past,
                                  r[-1:])
                self.assertLess((batch[i] - alone[0]).abs().max().item(), 1e-5)


def _diffusion_export():
    """tools/diffusion/export.py by path: `export` is also tools/export/export.py, which other test modules of this
    unittest process may have imported under that name."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "concert_tools_diffusion_export", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "diffusion", "export.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ExportTest(unittest.TestCase):
    def test_export_round_trip(self):
        import onnx

        dexport = _diffusion_export()
        export_graphs, write_decode_golden, write_graph_golden = dexport.export_graphs, dexport.write_decode_golden, dexport.write_graph_golden

        m = tiny_model(3)
        with tempfile.TemporaryDirectory() as d:
            sizes = export_graphs(m, d)
            self.assertEqual(set(sizes), {"context.onnx", "denoiser.onnx", "weights.bin"})
            ctx = onnx.load(os.path.join(d, "context.onnx"), load_external_data=False)
            den = onnx.load(os.path.join(d, "denoiser.onnx"), load_external_data=False)
            self.assertEqual([i.name for i in den.graph.input][:4], ["noisy_logits", "self_cond_logits", "t_frac", "attention_mask"])
            self.assertEqual([o.name for o in ctx.graph.output][0], "present.0.key")
            self.assertIn(14, [o.version for o in ctx.opset_import if o.domain in ("", "ai.onnx")])

            def ext(model):
                out = {}
                for i in model.graph.initializer:
                    if i.data_location == onnx.TensorProto.EXTERNAL:
                        kv = {e.key: e.value for e in i.external_data}
                        out[(tuple(i.dims), kv["offset"])] = kv
                return out

            e1, e2 = ext(ctx), ext(den)
            emb = [k for k in e1 if k[0] == (TINY.vocab_size, TINY.d_model)]
            self.assertEqual(len(emb), 1, "the tied embedding is stored once")
            self.assertIn(emb[0], e2, "both graphs reference the same bytes of weights.bin")
            self.assertTrue(all(v["location"] == "weights.bin" for v in list(e1.values()) + list(e2.values())))
            stored = sum(int(v["length"]) for v in {k: v for k, v in {**e1, **e2}.items()}.values())
            self.assertLessEqual(sizes["weights.bin"], stored + 64 * len({**e1, **e2}))
            n = sum(p.numel() for p in m.parameters()) * 4
            self.assertLess(sizes["weights.bin"], 1.1 * n, "weights are not duplicated between the graphs")
            onnx.checker.check_model(os.path.join(d, "denoiser.onnx"))
            write_graph_golden(m, d, "test-pack", n_sample=50, n_sample_kv=10)
            write_decode_golden(m, d, "test-pack")
            with open(os.path.join(d, "graphs.json")) as f:
                g = json.load(f)
            self.assertEqual({c["graph"] for c in g["cases"]}, {"context", "denoiser"})
            with open(os.path.join(d, "decode.json")) as f:
                dec = json.load(f)
            self.assertEqual(len(dec["runs"]), 3)
            # pack signature reader (no external data loaded)
            from export import signature
            sig = signature(os.path.join(d, "denoiser.onnx"))
            self.assertEqual(sig["inputs"][0]["shape"], ["batch_size", "block_length", TINY.vocab_size])

    def test_float16_weights(self):
        """--weights-dtype float16: the large weights rounded, stored as float16 (half the bytes) and cast back to
        float32 inside each graph; an unrounded model is refused rather than rounded silently."""
        import onnx
        from onnx import numpy_helper

        dexport = _diffusion_export()
        m = tiny_model(5)
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(SystemExit):
                dexport.export_graphs(m, os.path.join(d, "unrounded"), "float16")
            full = dexport.export_graphs(m, os.path.join(d, "f32"))
            before = {k: v.clone() for k, v in m.state_dict().items()}
            self.assertGreater(dexport.round_to_float16(m), 0)
            for k, v in m.state_dict().items():
                self.assertTrue(torch.allclose(v, before[k], rtol=1e-3, atol=1e-4), k)
            half = dexport.export_graphs(m, os.path.join(d, "f16"), "float16")
            self.assertLess(half["weights.bin"], 0.6 * full["weights.bin"])
            den = onnx.load(os.path.join(d, "f16", "denoiser.onnx"))
            big = [i for i in den.graph.initializer if np.prod(i.dims) * 4 > dexport.INLINE_MAX_BYTES]
            self.assertTrue(big and all(i.data_type == onnx.TensorProto.FLOAT16 for i in big))
            casts = {n.input[0]: n.output[0] for n in den.graph.node if n.op_type == "Cast"}
            for i in big:
                self.assertIn(i.name, casts)
                users = [n for n in den.graph.node if i.name in n.input]
                self.assertEqual([n.op_type for n in users], ["Cast"], f"{i.name} is read only through its Cast")
            # the stored values are the rounded model's, exactly
            state = m.state_dict()
            for i in big:
                if i.name.startswith("model."):
                    self.assertTrue(np.array_equal(numpy_helper.to_array(i).astype(np.float32), state[i.name[6:]].numpy()), i.name)


class FakeLM:
    """Logits that prefer `token` at every position; records the inputs."""

    def __init__(self, token, V=11, B=3, K=5.0, T=100, eos_at=None):
        self.vocab_size, self.block_size, self.k, self.t_train, self.max_context = V, B, K, T, 64
        self.token, self.calls, self.eos_at = token, [], eos_at

    def encode_context(self, rows):
        return {"rows": [list(r) for r in rows]}

    def denoise(self, ctx, noisy, self_cond, t_frac):
        self.calls.append({"t_frac": t_frac, "self_cond_abs": None if self_cond is None else float(np.abs(self_cond).sum()),
                           "ctx_len": [len(r) for r in ctx["rows"]]})
        out = noisy * 0.01
        out[:, :, self.token] += 10
        if self.eos_at is not None:
            out[:, self.eos_at[0], self.eos_at[1]] += 20
        return out.astype(np.float32)


class RecordingNoise(SeededNoise):
    def __init__(self, seed):
        super().__init__(seed)
        self.calls = []

    def gaussian(self, n, std, block, step):
        self.calls.append((block, step))
        return super().gaussian(n, std, block, step)


class DecodeLoopTest(unittest.TestCase):
    def test_engine_randomness(self):
        # values printed by src/engine/random.ts (SeededNoise(7), block 0, step 21, std 5; Rng(11, 1))
        want = [1.9643936157226562, -3.9662282466888428, 2.4371562004089355, 2.408512592315674]
        self.assertEqual([float(x) for x in seeded_gaussian(7, 4, 5.0, 0, 21)], want)
        r = Rng(11, 1)
        self.assertEqual([r.next(), r.next()], [0.33255760837346315, 0.8589751026593149])

    def test_noise_has_std_k(self):
        x = seeded_gaussian(3, 200000, 5.0, 2, 9).astype(np.float64)
        self.assertLess(abs(x.mean()), 0.05)
        self.assertLess(abs(x.std() - 5.0), 0.05)

    def test_projection(self):
        logits = np.array([[0.1, 3, 2.9, -1, 0, 0.5], [5, 0, 0, 0, 0, 0]], dtype=np.float32)
        out, chosen = project(logits, 5.0, 0.0, "sample", Rng(1))
        self.assertEqual(chosen.tolist(), [1, 0])
        for row in out:
            self.assertEqual(int((row == 5).sum()), 1)
            self.assertEqual(int((row == -5).sum()), 5)
        mh, _ = project(logits, 5.0, 0.9, "multi-hot", Rng(1))
        kept = np.where(mh[0] == 5)[0]
        p = np.exp(logits[0].astype(np.float64)) / np.exp(logits[0].astype(np.float64)).sum()
        self.assertIn(1, kept)
        self.assertGreaterEqual(p[kept].sum(), 0.9)
        ids, _ = nucleus(logits[0], 0.0)
        self.assertEqual(ids.tolist(), [1])

    def test_renoise_last_step_is_the_projection(self):
        proj = np.where(np.eye(3, 7) > 0, 5.0, -5.0).astype(np.float32)
        z = np.random.default_rng(0).normal(0, 5, size=(3, 7)).astype(np.float32)
        self.assertTrue(np.array_equal(renoise(proj, z, 1, 50), proj))
        self.assertFalse(np.array_equal(renoise(proj, z, 2, 50), proj))

    def test_loop_order_noise_addresses_and_self_conditioning(self):
        lm = FakeLM(4)
        noise = RecordingNoise(9)
        r = decode(lm, [Term([2, 5, 6])], 6, 10, 0.0, seed=9, noise=noise, record_steps=True)
        self.assertEqual(r.tokens, [4] * 6)
        self.assertEqual(r.blocks, 2)
        # per block: initial noise at step T+1, then z at t = T … 2 — never at the last step
        want = [(b, 11) for b in range(1)] + [(0, t) for t in range(10, 1, -1)] + [(1, 11)] + [(1, t) for t in range(10, 1, -1)]
        self.assertEqual(noise.calls, want)
        self.assertEqual([c["t_frac"] for c in lm.calls[:3]], [1.0, 0.9, 0.8])
        self.assertEqual(lm.calls[0]["self_cond_abs"], 0.0)  # zeros at the first step
        self.assertGreater(lm.calls[1]["self_cond_abs"], 0.0)
        self.assertEqual(lm.calls[10]["ctx_len"], [3 + 3])  # the context grew by one block
        self.assertIsNone(r.steps[9].chosen)  # no projection at the last step

    def test_eos_pruning_and_stop(self):
        lm = FakeLM(4, eos_at=(2, 3))  # position 2 of every block prefers token 3 (eos)
        r = decode(lm, [Term([2])], 9, 5, 0.0, seed=1, eos=3)
        self.assertEqual(r.tokens, [4, 4])
        self.assertEqual(r.stopped_by, "eos")
        self.assertEqual(r.blocks, 1)

    def test_early_stop_step_count(self):
        lm = FakeLM(4)
        r = decode(lm, [Term([2])], 3, 100, 0.0, seed=1, early_stop=0.4, record_steps=True)
        self.assertEqual(len(r.steps), 100 - 40 + 1)  # t = T … ⌈0.4·T⌉, like the engine
        self.assertEqual(r.steps[-1].t, 40)

    def test_weighted_terms_combine(self):
        lm = FakeLM(4)
        r = decode(lm, [Term([2], 1.5), Term([2, 3], -0.5)], 3, 5, 0.0, seed=1)
        self.assertEqual(r.tokens, [4, 4, 4])

    def test_real_model_greedy_is_deterministic(self):
        m = tiny_model(4)
        lm = TorchDiffusion(m, 0)
        a = decode(lm, [Term([2, 7, 9])], 8, 6, 0.0, seed=3)
        b = decode(lm, [Term([2, 7, 9])], 8, 6, 0.0, seed=3)
        c = decode(lm, [Term([2, 7, 9])], 8, 6, 0.95, seed=3)
        self.assertEqual(a.tokens, b.tokens)
        self.assertEqual(len(a.tokens), 8)
        self.assertEqual(len(c.tokens), 8)


class TrainingSmokeTest(unittest.TestCase):
    def test_synthetic_training_runs_and_is_not_repeated(self):
        import importlib.util

        spec = importlib.util.spec_from_file_location("ssd_train", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "diffusion", "train.py"))
        train = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(train)
        with tempfile.TemporaryDirectory() as d:
            args = ["--smoke", "--synthetic", "--out-dir", d, "--max-steps", "6", "--threads", "1", "--eval-every", "3",
                    "--seq-len", "32", "--d-model", "32", "--heads", "2", "--layers", "1", "--d-ff", "32"]
            train.main(args)
            ck = torch.load(os.path.join(d, "final.pt"))
            self.assertEqual(ck["steps"], 6)
            self.assertTrue(any("val" in h for h in ck["history"]))
            mtime = os.path.getmtime(os.path.join(d, "final.pt"))
            train.main(args)  # finished run: nothing to do
            self.assertEqual(os.path.getmtime(os.path.join(d, "final.pt")), mtime)


def _load_train():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ssd_train", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "diffusion", "train.py"))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    return train


ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SMOKE = os.path.join(ROOT, "data", "build", "smoke")


class GroundedMixTest(unittest.TestCase):
    """The user model's grounded mixture (issues #13, #16) on the smoke build (tools/data/build.py --smoke, then
    build_grounded.py --smoke); skipped without it. test/run-tools.mjs runs it after building."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(os.path.join(SMOKE, "grounded", "validation.jsonl")):
            raise unittest.SkipTest("no smoke build (tools/data/build.py --smoke && tools/data/build_grounded.py --smoke)")
        import data as ssd_data

        cls.data = ssd_data
        cls.enc = ssd_data.encoder_for(os.path.join(SMOKE, "tokenizer", "tokenizer.json"))
        cls.ex = ssd_data.load_examples(SMOKE, cls.enc, list(ssd_data.MIXES["user-grounded"]), "validation", 5, 2, log=lambda *_: None)

    def test_every_source_has_examples(self):
        for s, items in self.ex.items():
            self.assertGreater(len(items), 0, s)

    def test_answers_come_from_the_document(self):
        doc = self.enc.tok.token_id("<|doc|>")
        for prompt, target in self.ex["grounded_qa"][:300]:
            self.assertIn(doc, prompt)
            self.assertEqual(target[-1], self.enc.eos)
            answer = self.enc.decode(target).strip()
            self.assertTrue(answer)
            self.assertIn(answer, self.enc.decode(prompt))

    def test_no_context_variant_has_no_document(self):
        doc = self.enc.tok.token_id("<|doc|>")
        with_doc = {tuple(t) for _, t in self.ex["grounded_qa"]}
        for prompt, target in self.ex["grounded_qa_nodoc"]:
            self.assertNotIn(doc, prompt)
            self.assertIn(tuple(target), with_doc)  # the same answers, asked without their documents

    def test_passages_hold_the_answer_and_are_shorter(self):
        import numpy as np

        rng = np.random.default_rng(0)
        recs = [r for r in self.data.lm_data.source_records(SMOKE, "grounded_qa", "validation")][:500]
        cut = 0
        for r in recs:
            p = self.data.answer_passage(r["document"], r["answer"], rng)
            self.assertIn(r["answer"], p)
            self.assertLessEqual(len(p), len(r["document"]))
            cut += len(p) < len(r["document"])
        self.assertGreater(cut, len(recs) // 4)  # most documents have more than the answer's passage
        ex = self.data.load_examples(SMOKE, self.enc, ["grounded_qa_passage"], "validation", 5, 2, log=lambda *_: None)["grounded_qa_passage"]
        self.assertGreater(len(ex), 0)
        for prompt, target in ex[:200]:
            self.assertIn(self.enc.decode(target).strip(), self.enc.decode(prompt))

    def test_cloze_examples_ask_a_span_of_their_document(self):
        ex = self.data.load_examples(SMOKE, self.enc, ["grounded_qa_cloze"], "validation", 5, 2, log=lambda *_: None)["grounded_qa_cloze"]
        self.assertGreater(len(ex), 20)
        doc = self.enc.tok.token_id("<|doc|>")
        for prompt, target in ex[:200]:
            self.assertIn(doc, prompt)
            answer = self.enc.decode(target).strip()
            self.assertTrue(answer)
            self.assertIn(answer, self.enc.decode(prompt))

    def test_multi_entity_passages_name_each_entity_and_only_one_holds_the_answer(self):
        import numpy as np

        recs = self.data.lm_data.source_records(SMOKE, "grounded_qa", "validation")
        out = self.data.multi_entity_records(recs, np.random.default_rng(3), 300, lambda f: len(f["document"]) < 600)
        self.assertGreater(len(out), 100)
        asked_kind = {(r["entity"], r["question"]): r["kind"] for r in recs}
        has_kind = {(r["entity"], r["kind"]) for r in recs}
        for f in out:
            asked, *others = f["entities"]
            self.assertGreaterEqual(len(others), 1)
            self.assertNotIn(asked, others)
            self.assertLess(len(f["document"]), 600)
            self.assertNotIn("\n", f["document"])  # one line, as the collaboration joins passages
            k = asked_kind[asked, f["question"]]
            self.assertTrue(all((e, k) in has_kind for e in others))  # distractors of the same kind
            for e in f["entities"]:
                self.assertIn(self.data.entity_name(e), f["document"])
            self.assertIn(f["answer"], f["document"])
        ex = self.data.load_examples(SMOKE, self.enc, ["grounded_qa_multi"], "validation", 5, 2, log=lambda *_: None, L=128)["grounded_qa_multi"]
        self.assertGreater(len(ex), 20)
        for prompt, target in ex[:200]:
            self.assertLessEqual(len(prompt) + len(target) + len(target) % 2, 128)
            self.assertIn(self.enc.decode(target).strip(), self.enc.decode(prompt))

    def test_windows_tile_targets_in_blocks(self):
        toks, starts, info = self.data.build_windows(SMOKE, self.enc, "user-grounded", "validation", 128, 2, 4000, 5, log=lambda *_: None)
        self.assertEqual(info["mix"], self.data.MIXES["user-grounded"])
        self.assertGreater(info["blocks"], 0)
        for w, row in zip(toks[:50], starts[:50]):
            for b in row[row >= 0]:
                self.assertLessEqual(b + 2, len(w))
                self.assertNotEqual(int(w[b]), self.enc.pad)  # a block covers target tokens (or their </s> padding)

    def test_training_reads_the_mix(self):
        train = _load_train()
        with tempfile.TemporaryDirectory() as d:
            train.main(["--smoke", "--mix", "user-grounded", "--model", "user", "--build-dir", SMOKE, "--out-dir", d,
                        "--max-steps", "2", "--threads", "1", "--eval-every", "2"])
            ck = torch.load(os.path.join(d, "final.pt"))
            self.assertEqual(ck["data"]["mix"], self.data.MIXES["user-grounded"])
            self.assertEqual(ck["args"]["mix"], "user-grounded")


class PackToCheckpointTest(unittest.TestCase):
    def test_bundled_user_pack_becomes_an_init_checkpoint(self):
        """tools/diffusion/pack_to_ckpt.py: the bundled user pack's weights as a checkpoint that train.py --init-from
        accepts (same architecture as the user preset) and whose model is the pack's."""
        import subprocess

        pack = os.path.join(ROOT, "models", "concert-ssd-user")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "final.pt")
            subprocess.run([sys.executable, os.path.join(ROOT, "tools", "diffusion", "pack_to_ckpt.py"), pack, out], check=True,
                           capture_output=True)
            ck = torch.load(out)
            train = _load_train()
            a = train.parse_args(["--model", "user-lm"])
            self.assertEqual(ck["config"]["d_model"], a.d_model)
            self.assertEqual(ck["config"]["n_layers"], a.layers)
            self.assertEqual(ck["config"]["max_positions"], a.seq_len)
            self.assertEqual(ck["config"]["block_size"], a.block)
            m = SimplexDiffusionLM(SSDConfig(**ck["config"]))
            m.load_state_dict(ck["model"])  # strict


class CardStagesTest(unittest.TestCase):
    def test_a_fine_tune_of_a_model_started_from_the_causal_lm_keeps_its_whole_chain(self):
        """tools/diffusion/card.py: the stages of a checkpoint are found through each one's --init-from, oldest first;
        a chain whose first stage started from the causal LM (--init-lm) is described as such, not as train_all.sh's."""
        import card

        with tempfile.TemporaryDirectory() as d:
            first = {"args": {"init_lm": "data/build/ckpt/lm-pack/final.pt"}, "command": "train first"}
            torch.save(first, os.path.join(d, "first.pt"))
            second = {"args": {"init_from": os.path.join(d, "first.pt")}, "command": "train second"}
            base, stages = card.fine_tune_stages(second)
            self.assertEqual(base, "")
            self.assertEqual([c["command"] for c in stages], ["train first", "train second"])
            self.assertTrue(card.from_causal_lm(stages))
            base, stages = card.fine_tune_stages({"args": {}, "command": "scratch"})
            self.assertEqual((base, len(stages)), ("", 1))
            self.assertFalse(card.from_causal_lm(stages))
            torch.save({"source": "/x/models/concert-ssd-user"}, os.path.join(d, "pack.pt"))
            base, stages = card.fine_tune_stages({"args": {"init_from": os.path.join(d, "pack.pt")}, "command": "tune"})
            self.assertEqual((base, [c["command"] for c in stages]), ("concert-ssd-user", ["tune"]))


if __name__ == "__main__":
    unittest.main()
