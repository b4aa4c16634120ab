"""The AVC-LM pipeline of models/concert-avc-32 (tools/video) in miniature: lavfi clips → canonical H.264 Annex-B
streams (tools/video/canonical_h264.py + x264_flags.json) → a few training steps → ONNX export in the optimum decoder
layout → 4-bit MatMulNBits + int8 embeddings → parity with PyTorch in onnxruntime-node → continuation sampling and the
frame-boundary logic → the random-weight test pack with the h264 codec block. Needs ffmpeg with libx264 (fails with
the apt command without it); the ORT parity needs node and node_modules/onnxruntime-node (skipped, with the reason,
without them)."""
import contextlib
import importlib.util
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))

APT = "sudo apt-get install -y --no-install-recommends ffmpeg"


def video_module(name: str):
    """tools/video/<name>.py by path, under the key the tools/video modules use for each other."""
    key = f"concert_video_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, os.path.join(ROOT, "tools", "video", f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return sys.modules[key]


# The lead's canonical example (issue #15): the thesis flags at 32x32, SEI removed.
CANONICAL_EXAMPLE = ("-vf fps=3,scale=32:32:force_original_aspect_ratio=decrease,pad=32:32:(ow-iw)/2:(oh-ih)/2 -t 4 -c:v libx264 "
                     "-pix_fmt yuv420p -profile:v baseline -qp 37 -bf 0 -an -sn -x264opts slice-max-mbs=1 -trellis 0 "
                     "-me_method dia -threads 1 -subq 0 -psy 0 -mixed-refs 0 -fast-pskip 0 -partitions none -refs 3 "
                     "-bsf:v h264_mp4toannexb,filter_units=remove_types=6 -f h264")


class VideoLmPipelineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("ffmpeg") or not shutil.which("ffprobe"):
            raise RuntimeError(f"the AVC-LM tests need ffmpeg (with libx264) and ffprobe; install them with:\n  {APT}")
        cls.tmp = tempfile.mkdtemp(prefix="video-lm-test-")
        data = video_module("data")
        with contextlib.redirect_stdout(io.StringIO()):
            data.main(["--no-stills", "--train", "24", "--val", "11", "--workers", "1", "--out", os.path.join(cls.tmp, "data")])
        cls.train_streams, _, _ = data.load_split(os.path.join(cls.tmp, "data", "train.npz"))
        cls.val_streams, cls.val_fams, cls.val_motion = data.load_split(os.path.join(cls.tmp, "data", "val.npz"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_flags_are_the_canonical_example(self):
        ch = video_module("canonical_h264")
        cmd = ch.command(["-f", "lavfi", "-i", "color=c=navy:s=32x32:d=4:r=3"], out="clip.h264")
        text = " ".join(cmd)
        for part in CANONICAL_EXAMPLE.split(" -"):
            self.assertIn(part.strip(), text)
        self.assertEqual((ch.WIDTH, ch.HEIGHT, ch.FPS, ch.FRAMES), (32, 32, 3, 12))
        s = ch.encode(["-f", "lavfi", "-i", "color=c=navy:s=32x32:d=4:r=3,drawbox=x=3:y=8:w=10:h=10:c=yellow:t=fill"])
        info = ch.describe(s)
        self.assertEqual((info["sps"], info["pps"], info["sei"], info["frames"]), (1, 1, 0, 12))
        self.assertEqual((info["idr_slices"], info["p_slices"]), (4, 44))  # one slice per macroblock, 4 per frame
        self.assertEqual(s[:5], b"\x00\x00\x00\x01\x67")
        frames, ok = ch.decode(s)
        self.assertTrue(ok)
        self.assertEqual(frames.shape, (12, 32, 32, 3))
        self.assertEqual(ch.probe_frames(s), 12)

    def test_streams_and_prompt_cut(self):
        ch, ev = video_module("canonical_h264"), video_module("eval")
        for s in self.train_streams + self.val_streams:
            info = ch.describe(s)
            self.assertEqual((info["frames"], info["sei"]), (12, 0))
            # SPS + PPS lead; x264's scene-cut IDR frames repeat them (h264_mp4toannexb)
            self.assertEqual(s[:5], b"\x00\x00\x00\x01\x67")
            self.assertEqual(info["sps"], info["pps"])
            self.assertGreaterEqual(info["sps"], 1)
            self.assertLessEqual(len(s) + 2, 1024)
            # the sampler's incremental frame-start test finds exactly the parser's frame starts
            buf, hits = bytearray(), []
            for b in s:
                buf.append(b)
                if ev.is_frame_start_tail(buf):
                    hits.append(len(buf) - 5 - (1 if len(buf) > 5 and buf[-6] == 0 else 0))
            self.assertEqual(hits, ch.frame_starts(s))
            p = ch.prompt_frames(s, 4)
            self.assertTrue(s.startswith(p))
            self.assertEqual(ch.count_frames_syntax(p), 4)
            self.assertEqual(s[len(p):len(p) + 4], b"\x00\x00\x00\x01")
            self.assertEqual(ch.probe_frames(p), 4)
        fams = video_module("data").FAMILIES
        self.assertEqual(sorted(fams[f] for f in self.val_fams), sorted(f for f in fams if f != "kenburns"))

    def test_motion_consistency_on_real_clips(self):
        import numpy as np

        ch, ev = video_module("canonical_h264"), video_module("eval")
        scored = 0
        for s, m in zip(self.val_streams, self.val_motion):
            if not np.isfinite(m).all():
                continue
            real, _ = ch.decode(s)
            got = ev.direction(ev.centroids(real[3:8], ev.background(real[0])))
            self.assertTrue(ev.agrees(tuple(m), got), (m, got))
            self.assertFalse(ev.agrees(tuple(m), (-got[0], -got[1])))
            scored += 1
        self.assertEqual(ev.agrees((1.0, 0.0), (0.0, 0.0)), False)  # static: no agreement
        self.assertIsNone(ev.agrees((0.0, 0.0), (1.0, 0.0)))
        # The summary both evaluations report (eval.py on PyTorch samples, eval_cli.py on the CLI's): static and
        # undecodable samples count against agreement, and only moving ones enter the rate among moving.
        rows = [{"agree": True, "static": False, "decodable": True}, {"agree": False, "static": True, "decodable": True},
                {"agree": False, "static": False, "decodable": False}, {"agree": False, "static": False, "decodable": True}]
        self.assertEqual(ev.motion_summary(rows), {"scored_samples": 4, "agree_rate": 0.25, "static_rate": 0.25,
                                                   "agree_rate_among_moving": 0.5, "chance": 0.5})

    def test_train_export_parity_continue(self):
        import numpy as np
        import onnx
        import torch
        from causal_lm import load_model
        from onnx_util import onnx_signature

        train, export, ev = video_module("train"), video_module("export"), video_module("eval")
        data, ck = os.path.join(self.tmp, "data"), os.path.join(self.tmp, "ck")
        args = ["--smoke", "--data", data, "--out-dir", ck, "--max-steps", "3", "--eval-every", "2"]
        with contextlib.redirect_stdout(io.StringIO()):
            train.main(args)
            train.main(args)  # finished: not repeated
            train.main(["--smoke", "--data", data, "--out-dir", ck + "b", "--max-steps", "1", "--init-from", os.path.join(ck, "final.pt")])
        fin = torch.load(os.path.join(ck, "final.pt"), map_location="cpu")
        self.assertEqual((fin["steps"], fin["config"]["vocab_size"], fin["config"]["max_positions"]), (3, 259, 1024))
        self.assertEqual(fin["tokens"], {"bos": 0, "eos": 1, "pad": 2, "offset": 3})
        self.assertTrue(fin["command"].startswith("/usr/bin/python3 tools/video/train.py"))
        self.assertIn("bits_per_p_frame_byte", fin["history"][-1]["val"])
        self.assertEqual(torch.load(os.path.join(ck + "b", "final.pt"), map_location="cpu")["init_from"]["steps"], 3)

        model, _ = load_model(os.path.join(ck, "final.pt"))
        work = os.path.join(self.tmp, "work")
        os.makedirs(work)
        fp32, q = os.path.join(work, "model_fp32.onnx"), os.path.join(work, "model.onnx")
        export.export_onnx(model, fp32)
        ref, blocks = export.quantize(model, fp32, q)
        m = onnx.load(q)
        onnx.checker.check_model(m)
        ops = [n.op_type for n in m.graph.node]
        self.assertEqual(ops.count("MatMulNBits"), 4 * model.cfg.n_layers)
        self.assertEqual(ops.count("DequantizeLinear"), 2)
        self.assertEqual(set(blocks.values()), {32})
        inits = {t.name: t for t in m.graph.initializer}
        self.assertEqual(inits["model.wpe.weight_int8"].data_type, onnx.TensorProto.INT8)
        self.assertNotIn("model.wpe.weight", inits)
        self.assertEqual(onnx_signature(q), onnx_signature(fp32))
        names = [v["name"] for v in onnx_signature(q)["inputs"]]
        self.assertEqual(names[:3], ["input_ids", "attention_mask", "position_ids"])
        # the int8 rows are within half a step of the float32 embeddings
        for n, p in ref.named_parameters():
            p0 = dict(model.named_parameters())[n]
            if n in ("wte.weight", "wpe.weight"):
                step = p0.abs().max(dim=1).values / 127
                self.assertTrue(bool(((p - p0).abs() <= step[:, None] / 2 + 1e-7).all()), n)

        # continuation sampling: starts with the prompt, never runs past prompt + gen frames
        ch = video_module("canonical_h264")
        s = self.val_streams[0]
        prompt = ch.prompt_frames(s, 4)
        outs = ev.continue_frames(ref, prompt, 2, 8, torch.Generator().manual_seed(0))
        for g, why in outs:
            self.assertTrue(g.startswith(prompt))
            self.assertIn(why, ("frames", "eos", "context", "special"))
            self.assertLessEqual(ch.count_frames_syntax(g), 8)

        ex = export.jpeg("export")
        if not ex.ort_available():
            self.skipTest("node / onnxruntime-node not installed (npm ci): ORT parity not checked")
        rows = [[int(t) for t in train.encode(x)] for x in self.val_streams[:2]]
        for mdl, path in ((model, fp32), (ref, q)):
            diffs = ex.parity(mdl, path, rows)
            for k in export.CASES:
                self.assertLess(diffs[k], 1e-4, (path, k))
        self.assertGreater(ex.parity(model, q, rows)["nopast"], 1e-5)  # the shipped graph is really quantised
        self.assertTrue(np.isfinite(diffs["nopast"]))

    def test_codec_block_and_test_pack(self):
        tp = video_module("make_test_pack")
        expected = {"format": "h264", "stream": "annex-b", "width": 32, "height": 32, "fps": 3, "frames": 12,
                    "profile": "constrained-baseline", "qp": 37, "sliceMaxMbs": 1, "tokens": {"mapping": "bytes", "offset": 3},
                    "bos": 0, "eos": 1, "pad": 2, "maxTokens": 1024}
        self.assertEqual(tp.codec_block(), expected)
        out = os.path.join(self.tmp, "tiny")
        with contextlib.redirect_stdout(io.StringIO()):
            tp.main(["--out", out])
        with open(os.path.join(out, "concert.json"), encoding="utf-8") as f:
            m = json.load(f)
        self.assertEqual((m["kind"], m["codec"], m["graphs"]), ("codec-lm", expected, {"decoder": "model.onnx"}))
        for pack_dir in ("models/concert-avc-32", "test/fixtures/codec-lm-tiny-h264"):
            path = os.path.join(ROOT, pack_dir, "concert.json")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    m = json.load(f)
                self.assertEqual(m["codec"], expected, pack_dir)
                self.assertNotIn("tokenizer", m)
        pack_dir = os.path.join(ROOT, "models", "concert-avc-32")
        if os.path.exists(pack_dir):
            total = sum(os.path.getsize(os.path.join(pack_dir, n)) for n in os.listdir(pack_dir))
            self.assertLessEqual(total, 450_000)


if __name__ == "__main__":
    unittest.main()
