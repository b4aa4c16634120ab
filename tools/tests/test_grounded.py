"""Grounded data (issue #16) invariants on tiny inline inputs, plus the same checks on the built files when they exist
(data/build/smoke/grounded from `tools/data/build_grounded.py --smoke`, checked in full; the full build's
heldout/validation files are checked against a sample of its train file). Seconds.

Run: /usr/bin/python3 -m unittest discover -s tools/tests
"""
from __future__ import annotations

import itertools
import json
import os
import re
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "data"))

import corpora  # noqa: E402
import grounded  # noqa: E402
import templates  # noqa: E402
from corpora import Fact  # noqa: E402
from extract import Unit  # noqa: E402

CONTINENTS = ["Europe", "Africa", "Asia"]
FACTS = [Fact(f"{chr(66 + i // 20)}{chr(65 + i % 20)}",
              f"Country{word}", f"Town{word}", CONTINENTS[i % 3], "Langish", "Coin")
         for i, word in enumerate(["Alpha", "Bravo", "Carlo", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India",
                                   "Juliet", "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo",
                                   "Sierra", "Tango", "Uniform", "Victor", "Whiskey", "Xray", "Yankee", "Zulu",
                                   "Amber", "Basil", "Cedar", "Dune", "Ember", "Fern", "Grove", "Heath", "Iris",
                                   "Jade", "Kelp", "Lark", "Moss", "Nook"])]
FICT = corpora.fictional_facts(6, FACTS, seed=3)
INSTS = grounded.institutions(60, seed=5)


def records():
    return grounded.qa_records(FACTS, FICT, INSTS)


def held_questions(r: dict) -> set:
    """Every question a held-out family could produce for this record's entity and kind."""
    kind = r["kind"]
    if kind in grounded.COUNTRY_KINDS:
        fields = {"country": r["entity"]}
    else:
        e = next(e for e in INSTS if e["entity"] == r["entity"])
        fields = {"name": e["name"], "role": e["role"], "qnoun": e["qnoun"], "event": e["event"]}
    return {q.format(**fields) for f in grounded.HELDOUT_QFAMILIES for q in grounded.QUESTIONS[kind][f]}


def held_style_templates() -> set:
    out = set()
    for styles in (grounded.STYLES_INST, grounded.STYLES_COUNTRY):
        for style, vs in styles.items():
            out |= {(style, i) for i in range(len(vs)) if grounded.style_heldout(style, i)}
    return out


class QaInvariants(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rows = records()
        cls.by = {s: [r for r in cls.rows if r["split"] == s] for s in grounded.GROUNDED_SPLITS}

    def test_every_split_is_populated(self):
        for s in grounded.GROUNDED_SPLITS:
            self.assertTrue(self.by[s], s)
        self.assertTrue(any(r["contradicts"] for r in self.by["heldout"]))
        self.assertTrue(any(r["contradicts"] for r in self.by["train"]))

    def test_answers_are_document_spans(self):
        for r in self.rows:
            self.assertIn(r["answer"], r["document"], r)

    def test_heldout_families_never_trained(self):
        held = held_style_templates()
        self.assertTrue(held)
        for r in self.by["train"] + self.by["validation"]:
            self.assertFalse(r["new_style"] or r["new_wording"], r)
            self.assertNotIn((r["style"], r["variant"]), held)
            self.assertNotIn(r["qfamily"], grounded.HELDOUT_QFAMILIES)
            self.assertNotIn(r["question"], held_questions(r))
        # and the held-out split really uses them, each record flagged with what is new
        for r in self.by["heldout"]:
            self.assertTrue(r["new_style"] or r["new_wording"])
            self.assertEqual(r["new_style"], (r["style"], r["variant"]) in held)
            self.assertEqual(r["new_wording"], r["question"] in held_questions(r))
        trained_docs = {r["document"] for r in self.by["train"]}
        for r in self.by["heldout"]:
            if r["new_style"]:
                self.assertNotIn(r["document"], trained_docs)

    def test_heldout_facts_never_trained(self):
        train_ents = {r["entity"] for r in self.by["train"]}
        for s in ("test", "heldout"):
            for r in self.by[s]:
                self.assertNotIn(r["entity"], train_ents)

    def test_counterfactual_documents_contradict_the_fact_table(self):
        capital = {f.country: f.capital for f in FACTS}
        capitals = {f.capital for f in FACTS}
        n = 0
        for r in self.rows:
            if not r["contradicts"]:
                continue
            n += 1
            true = capital[r["entity"]]
            self.assertEqual(r["memorised_answer"], true)
            self.assertNotEqual(r["answer"], true)
            self.assertIn(r["answer"], capitals)  # another real capital
            self.assertIn(r["answer"], r["document"])
            self.assertNotIn(true, r["document"])
            self.assertEqual(r["kind"], "capital")
        self.assertGreater(n, 10)

    def test_consistent_documents_agree_with_the_fact_table(self):
        capital = {f.country: f.capital for f in FACTS}
        for r in self.rows:
            if r["kind"] == "capital" and not r["contradicts"] and r["entity"] in capital:
                self.assertEqual(r["answer"], capital[r["entity"]])

    def test_deterministic(self):
        self.assertEqual(json.dumps(records()), json.dumps(self.rows))


PROSE = [
    Unit("austen", "austen:0:1", "Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy disposition, "
         "seemed to unite some of the best blessings of existence. She had lived nearly twenty-one years in the world with "
         "very little to distress or vex her. She was the youngest of the two daughters of a most affectionate father."),
    Unit("fortunes", "fortune:x:1", "The river town grew around an old stone bridge. Merchants brought wool and salt from "
         "the hills, and the market square filled every Thursday with traders from the valley."),
    Unit("debian", "foo", "Foo is a small tool that converts plain text files into tidy web pages. It reads a folder "
         "of text files and writes one web page for each of them, with a shared index page."),
    Unit("gcide-def", "acts", "Acts n. 1. 1 one of the books of the Christian New Testament describing the activities of "
         "the apostles after the death of their teacher."),
]


class SummaryInvariants(unittest.TestCase):
    def test_targets_are_supported_sentences(self):
        rows = grounded.summary_records(PROSE + grounded.everyday_units(),
                                        {PROSE[2].text: "tool that converts text files into web pages"})
        self.assertGreaterEqual(len(rows), len(PROSE) + len(grounded.EVERYDAY) - 1)
        for r in rows:
            s = grounded.support(r["summary"], r["document"])
            if r["target_kind"] == "synopsis":
                self.assertGreaterEqual(s, 0.7, r)
            else:
                self.assertEqual(s, 1.0, r)
                self.assertTrue(r["summary"].endswith("."))
                self.assertGreaterEqual(len(r["summary"].split()), 6)
                self.assertTrue(r["summary"][0].isupper(), r)
            self.assertNotIn(" n. 1.", r["summary"])
        fams = {r["family"]: r["split"] for r in rows}
        self.assertEqual(fams["everyday"], "heldout")

    def test_compress_and_central(self):
        self.assertEqual(grounded.compress("But, said she, \"I am not at all sure (quite) that he was right in what he did, "
                                           "though he meant it well, and I think he should have told us before.\""),
                         "Said she, I am not at all sure that he was right in what he did, though he meant it well.")
        self.assertIsNone(grounded.compress("Too short."))
        sents = ["The cat sat.", "A dog barked at the cat near the house.", "The house of the cat and the dog is red."]
        self.assertIn(grounded.central_index(sents), (1, 2))

    def test_man_description(self):
        troff = "\n".join([".TH pipe 7", ".SH NAME", "pipe \\- overview", ".SH DESCRIPTION",
                           "Pipes and FIFOs (also known as named pipes)", "provide a one-way channel.",
                           "A pipe has a", ".I read end", "and a", ".IR \"write end\" .", ".PP", "A pipe is created using",
                           ".BR pipe (2),", "which returns two file descriptors for the two ends of the pipe.",
                           ".TP", ".B O_NONBLOCK", "tagged paragraphs are dropped", ".SH SEE ALSO", "fifo(7)"])
        paras = grounded.man_description(troff)
        self.assertEqual(paras[0], "Pipes and FIFOs (also known as named pipes) provide a one-way channel. A pipe has a read end and a write end.")
        self.assertEqual(paras[1], "A pipe is created using pipe(2), which returns two file descriptors for the two ends of the pipe.")
        self.assertEqual(len(paras), 2)


class PromptFormatsUnchanged(unittest.TestCase):
    def test_runtime_prompts(self):
        render = lambda k, part: templates.render_text(templates.PROMPTS[k][part], {"document": "D", "question": "Q", "answer": "A", "summary": "S"})
        self.assertEqual(render("qa", "prompt"), "<s><|doc|> D<|question|> Q<|answer|>")
        self.assertEqual(render("qa", "no_context"), "<s><|question|> Q<|answer|>")
        self.assertEqual(render("summary", "prompt"), "<s><|doc|> D<|summary|>")
        self.assertEqual(render("summary", "no_context"), "<s><|summary|>")
        self.assertEqual(templates.TEMPLATES_VERSION, 1)


def _read(path, limit=None):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in itertools.islice(f, limit)]


class BuiltFiles(unittest.TestCase):
    """The same invariants on the built data, when present (skipped otherwise)."""

    def check_dir(self, d, train_limit=None):
        rows = {s: _read(os.path.join(d, f"{s}.jsonl"), train_limit if s == "train" else None) for s in grounded.GROUNDED_SPLITS}
        held = held_style_templates()
        for s in ("train", "validation"):
            for r in rows[s]:
                if r["task"] == "qa":
                    self.assertFalse(r["new_style"] or r["new_wording"])
                    self.assertNotIn((r["style"], r["variant"]), held)
                    self.assertNotIn(r["qfamily"], grounded.HELDOUT_QFAMILIES)
                elif r["task"] == "summary":
                    self.assertNotIn(r["family"], grounded.HELDOUT_SUMMARY_FAMILIES)
        train_ents = {r["entity"] for r in rows["train"] if r["task"] == "qa"}
        train_docs = {r["document"] for r in rows["train"] if r["task"] in ("qa", "summary")}
        train_text = {r["text"] for r in rows["train"] if r["task"] == "lm"}
        for s in ("test", "heldout"):
            for r in rows[s]:
                if r["task"] == "qa":
                    self.assertIn(r["answer"], r["document"])
                    self.assertNotIn(r["entity"], train_ents)
                    if r["contradicts"]:
                        self.assertNotIn(r["memorised_answer"], r["document"])
                        self.assertNotEqual(r["answer"], r["memorised_answer"])
                elif r["task"] == "summary":
                    self.assertNotIn(r["document"], train_docs)
                    self.assertNotIn(r["document"], train_text)
                    self.assertGreaterEqual(grounded.support(r["summary"], r["document"]), 0.7)
        for r in rows["train"]:
            if r["task"] == "qa":
                self.assertIn(r["answer"], r["document"])
            elif r["task"] == "summary":
                self.assertGreaterEqual(grounded.support(r["summary"], r["document"]), 0.7)
        self.assertTrue(any(r["task"] == "qa" and r["contradicts"] for r in rows["heldout"]))

    def test_smoke_build(self):
        d = os.path.join(ROOT, "data", "build", "smoke", "grounded")
        if not os.path.exists(os.path.join(d, "heldout.jsonl")):
            self.skipTest("no smoke build (tools/data/build_grounded.py --smoke)")
        self.check_dir(d, train_limit=20000)


if __name__ == "__main__":
    unittest.main()


class ClozeQuestions(unittest.TestCase):
    """tools/data/cloze.py: the cloze QA of the user model's and the causal LM's training mixtures (issues #13, #16)."""

    def test_a_name_or_number_is_asked_back(self):
        import numpy as np

        import cloze

        rng = np.random.default_rng(0)
        q, a = cloze.cloze_question("The night bus to Wrenfield leaves from platform Calder at ten past eleven.", rng)
        self.assertIn(a, ("Wrenfield", "Calder"))
        self.assertEqual(q.replace("what", a, 1), "The night bus to Wrenfield leaves from platform Calder at ten past eleven?")
        self.assertEqual(cloze.cloze_question("CPython ships 12 modules in total.", rng), ("CPython ships how many modules in total?", "12"))
        self.assertEqual(cloze.cloze_question("We met Mrs. Okonkwo at the door.", rng), ("We met who at the door?", "Mrs. Okonkwo"))
        self.assertIsNone(cloze.cloze_question("Nothing here is named at all.", rng))  # only the first word is capitalised
        self.assertIsNone(cloze.cloze_question("Mr. Darcy", rng))  # too short to ask

    def test_records_hold_their_answer_among_other_passages(self):
        import numpy as np

        import cloze

        texts = [f"The ferry to Island{i} leaves from pier {i + 3} daily. Its captain is Captain Moreau." for i in range(40)]
        recs = cloze.cloze_records(texts, np.random.default_rng(1), 30)
        self.assertEqual(len(recs), 30)
        self.assertTrue(any(len(r["document"]) > len(texts[0]) for r in recs))  # some among other passages
        for r in recs:
            self.assertEqual(r["task"], "qa")
            self.assertIn(r["answer"], r["document"])
            self.assertNotIn(r["answer"], r["question"].replace("?", " ").split())
        again = cloze.cloze_records(texts, np.random.default_rng(1), 30)
        self.assertEqual(recs, again)  # seeded: a recorded training command rebuilds the same data

    def test_the_causal_lm_reads_them_as_a_source(self):
        d = os.path.join(ROOT, "data", "build", "smoke")
        if not os.path.exists(os.path.join(d, "grounded", "validation.jsonl")):
            self.skipTest("no smoke build (tools/data/build.py --smoke && tools/data/build_grounded.py --smoke)")
        sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
        import lm_data

        enc = lm_data.Encoder(os.path.join(d, "tokenizer", "tokenizer.json"))
        recs = lm_data.source_records(d, lm_data.CLOZE_SOURCE, "validation")
        self.assertGreater(len(recs), 20)
        doc = enc.tok.token_id(templates.ROLES["doc"])
        for r in recs[:100]:
            prompt, target = lm_data.encode_parts(enc, lm_data.CLOZE_SOURCE, r)
            self.assertIn(doc, prompt)
            self.assertIn(r["answer"], enc.decode(prompt))
            self.assertEqual(enc.decode(target).strip(), r["answer"])


class CadReproduction(unittest.TestCase):
    """eval_grounded.decode is the engine's CAD (src/engine/cad.ts) in PyTorch: check it against the existing
    references on a tiny random model."""

    def test_decode_matches_references(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch missing")
        sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
        from causal_lm import CausalLM, LMConfig, greedy_generate
        from eval_causal_lm import cad_generate
        from eval_grounded import decode, norm
        torch.manual_seed(0)
        model = CausalLM(LMConfig(vocab_size=50, d_model=32, n_layers=2, n_heads=2, d_ff=64, max_positions=64)).eval()
        w, wo = [2, 5, 11, 12, 13, 14, 6, 20, 7], [2, 6, 20, 7]
        stop = {3}
        self.assertEqual(decode(model, w, wo, 0.0, 0.0, 10, stop), greedy_generate(model, w, 10, 3))
        self.assertEqual(decode(model, w, wo, 1.0, 0.0, 10, stop), cad_generate(model, w, wo, 10, 3, 1.0))
        self.assertEqual(decode(model, w, wo, 2.0, 1.0, 10, stop), greedy_generate(model, w, 10, 3))  # β = 1: greedy on p(y|c,x)
        self.assertEqual(norm("The Paris."), "paris")

    def test_extractive_decode_quotes_one_line(self):
        """eval_grounded.Spans mirrors src/engine/spans.ts: whatever a (random) model prefers, the answer is whole
        words of one line of the document; without it the same model writes other tokens (the control)."""
        try:
            import torch
        except ImportError:
            self.skipTest("torch missing")
        sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
        import lm_data
        from causal_lm import CausalLM, LMConfig
        from eval_grounded import Spans, decode
        enc = lm_data.Encoder(os.path.join(ROOT, "models", "concert-lm-small", "tokenizer.json"))
        doc = "Harbour notes\nThe Granite Theatre opened in 1931 in Bramworth.\nIts director was Ada Pellow."
        words = lambda s: re.findall(r"\w+", s)
        lines = [" " + " ".join(words(l)) + " " for l in doc.split("\n")]
        stop = {enc.eos}
        left = 0
        for seed in range(4):
            torch.manual_seed(seed)
            model = CausalLM(LMConfig(vocab_size=enc.vocab_size, d_model=16, n_layers=1, n_heads=2, d_ff=32, max_positions=64)).eval()
            w, wo = enc.tok.encode_plain(" " + doc)[:40], enc.tok.encode_plain(" Where?")
            out = enc.decode(decode(model, w, wo, 1.0, 0.1, 8, stop, spans=Spans(enc, doc, stop))).strip()
            self.assertTrue(out and any(f" {' '.join(words(out))} " in l for l in lines), out)
            free = decode(model, w, wo, 1.0, 0.1, 8, stop)
            left += any(t not in w for t in free)
        self.assertGreater(left, 0, "the control never left the document: the check above would be vacuous")
