"""Data pipeline tests on tiny inline inputs (no network, no data/raw needed).

Run: /usr/bin/python3 -m unittest discover -s tools/tests
"""
from __future__ import annotations

import gzip
import json
import os
import struct
import sys
import tempfile
import unittest
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "data"))

import corpora  # noqa: E402
import extract  # noqa: E402
import splits  # noqa: E402
import templates  # noqa: E402
from extract import Country, DebDesc, Unit  # noqa: E402

COUNTRIES = [
    Country("FR", "France", "Paris", "Europe", "EUR", "French"),
    Country("DE", "Germany", "Berlin", "Europe", "EUR", "German"),
    Country("IT", "Italy", "Rome", "Europe", "EUR", "Italian"),
    Country("ES", "Spain", "Madrid", "Europe", "EUR", "Spanish"),
    Country("PL", "Poland", "Warsaw", "Europe", "PLN", "Polish"),
    Country("KE", "Kenya", "Nairobi", "Africa", "KES", "English"),
    Country("GH", "Ghana", "Accra", "Africa", "GHS", "English"),
    Country("EG", "Egypt", "Cairo", "Africa", "EGP", "Arabic"),
    Country("JP", "Japan", "Tokyo", "Asia", "JPY", "Japanese"),
    Country("TH", "Thailand", "Bangkok", "Asia", "THB", "Thai"),
    Country("VN", "Vietnam", "Hanoi", "Asia", "VND", "Vietnamese"),
    Country("MX", "Mexico", "Mexico City", "North America", "MXN", "Spanish"),
    Country("LU", "Luxembourg", "Luxembourg", "Europe", "EUR", "French"),
    Country("GY", "Guyana", "Georgetown", "South America", "GYD", "English"),
    Country("AC", "Ascension Island", "Georgetown", "Africa", "SHP", "English"),
    Country("BO", "Bolivia", "Sucre", "South America", "BOB", "Spanish"),
    Country("AQ", "Antarctica", "", "Antarctica", "", ""),
]
CURRENCY = {"EUR": "Euro", "PLN": "Polish Zloty"}


class Templates(unittest.TestCase):
    def test_json_is_up_to_date(self) -> None:
        with open(templates.JSON_PATH, encoding="utf-8") as f:
            self.assertEqual(f.read(), templates.json_text(), "run: /usr/bin/python3 tools/data/templates.py --write")

    def test_parts_well_formed(self) -> None:
        for name, t in templates.PROMPTS.items():
            for variant, parts in t.items():
                for p in parts:
                    self.assertEqual(len(p), 1, (name, variant, p))
                    if "special" in p:
                        self.assertIn(p["special"], templates.SPECIAL_TOKENS)
                    else:
                        self.assertTrue(p["text"].startswith(" "), (name, variant, p))
            if "no_context" in t:
                with_doc = [p for p in t["prompt"] if p not in ({"special": "<|doc|>"}, {"text": " {document}"})]
                self.assertEqual(with_doc, t["no_context"], name)

    def test_render(self) -> None:
        s = templates.render_text(templates.PROMPTS["qa"]["prompt"], {"document": "D.", "question": "Q?"})
        self.assertEqual(s, "<s><|doc|> D.<|question|> Q?<|answer|>")
        s = templates.render_text(templates.PROMPTS["summary"]["target"], {"summary": "tool"})
        self.assertEqual(s, " tool</s>")

    def test_specials(self) -> None:
        self.assertEqual(templates.SPECIAL_TOKENS[:4], ["<pad>", "<unk>", "<s>", "</s>"])
        self.assertEqual(len(set(templates.SPECIAL_TOKENS)), len(templates.SPECIAL_TOKENS))
        for role, tok in templates.ROLES.items():
            self.assertIn(tok, templates.SPECIAL_TOKENS, role)


class Splits(unittest.TestCase):
    def test_deterministic_and_pinned(self) -> None:
        # pinned values: the split function must never change silently (it would leak test data into training)
        self.assertAlmostEqual(splits.unit_float("general", "austen:0:1"), splits.unit_float("general", "austen:0:1"))
        got = [splits.split_of("general", f"k{i}") for i in range(2000)]
        self.assertEqual(got, [splits.split_of("general", f"k{i}") for i in range(2000)])
        import hashlib

        h = hashlib.sha256(b"general:k0").digest()
        self.assertEqual(splits.unit_float("general", "k0"), int.from_bytes(h[:8], "big") / 2.0**64)

    def test_ratios(self) -> None:
        got = [splits.split_of("general", f"k{i}") for i in range(20000)]
        self.assertAlmostEqual(got.count("train") / len(got), 0.96, delta=0.01)
        self.assertAlmostEqual(got.count("test") / len(got), 0.02, delta=0.005)

    def test_debian_family_keeps_variants_together(self) -> None:
        fam = corpora.debian_family
        self.assertEqual(fam("libfoo1"), fam("libfoo-dev"))
        self.assertEqual(fam("python3-foo"), fam("foo-doc"))
        descs = [DebDesc(p, "a foo library", f"Foo is a library for {p} and more words here.") for p in
                 ("libfoo1", "libfoo-dev", "foo-doc", "python3-foo")]
        pairs = corpora.summary_pairs(descs)
        self.assertEqual(sum(1 for s in pairs.values() if s), 1)


class Extractors(unittest.TestCase):
    def test_gcide(self) -> None:
        raw = ("header\n\nA \\A\\, n. The first letter.\n   [1913 Webster]\n\n"
               "Abdomen \\Ab*do\"men\\, n. [L. abdomen.]\n   1. (Anat.) The belly. --Cowell.\n   [1913 Webster]\n\n"
               "                 My brightest hopes giving dark fears a being.\n"
               "                 As the light does the shadow.    -- Longfellow.\n")
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "g.dz")
            with gzip.open(p, "wt", encoding="utf-8") as f:
                f.write(raw)
            units = list(extract.gcide_units(p))
        defs = [u.text for u in units if u.source == "gcide-def"]
        quotes = [u.text for u in units if u.source == "gcide-quote"]
        self.assertIn("Abdomen, n. 1. (Anat.) The belly.", defs)
        self.assertEqual(quotes, ["My brightest hopes giving dark fears a being. As the light does the shadow."])
        self.assertFalse(any("Webster" in t or "\\" in t for t in defs))

    def test_wordnet(self) -> None:
        line = ("00002137 03 n 02 abstraction 0 abstract_entity 0 010 @ 00001740 n 0000 | a general concept; "
                "\"an abstraction of the idea of beauty\"  \n")
        with tempfile.TemporaryDirectory() as d:
            for pos in ("noun", "verb", "adj", "adv"):
                with open(os.path.join(d, f"data.{pos}"), "w") as f:
                    f.write("  1 licence header\n" + (line if pos == "noun" else ""))
            units = list(extract.wordnet_units(d))
        self.assertEqual(units[0].text, "abstraction, abstract entity: a general concept.")
        self.assertEqual(units[1].text, "an abstraction of the idea of beauty")

    def test_fortunes(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "wisdom"), "w") as f:
                f.write("A clash of doctrine is not a disaster -- it is an opportunity.\n%\nShort.\n%\n"
                        "A dream will always triumph over reality.\n\t\t-- Stanislaw Lem\n")
            with open(os.path.join(d, "wisdom.dat"), "wb") as f:
                f.write(b"\x00\x01")
            texts = [u.text for u in extract.fortune_units(d)]
        self.assertEqual(texts, ["A clash of doctrine is not a disaster -- it is an opportunity.",
                                 "A dream will always triumph over reality."])

    def test_rdb_reader(self) -> None:
        def charsxp(s: str) -> bytes:
            b = s.encode()
            return struct.pack(">Ii", 0x00040009, len(b)) + b

        rec1 = b"X\n" + struct.pack(">I", 16) + b"".join(charsxp(s) for s in ["It is a truth", "", "universally acknowledged."])
        rec2 = b"X\n" + charsxp("second")
        data = b"".join(struct.pack(">I", len(r)) + zlib.compress(r) for r in (rec1, rec2))
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "Rdata.rdb")
            with open(p, "wb") as f:
                f.write(data)
            got = extract.rdb_strings(p)
        self.assertEqual(got, [["It is a truth", "", "universally acknowledged."], ["second"]])

    def test_debian_descriptions(self) -> None:
        text = ("Package: foo\nDescription-md5: x\nDescription-en: frobnicate widgets quickly\n"
                " Foo frobnicates widgets of all sizes with a simple command line.\n .\n"
                " It supports many formats.\n\nPackage: foo-dup\nDescription-en: frobnicate widgets quickly\n"
                " Foo frobnicates widgets of all sizes with a simple command line.\n .\n It supports many formats.\n")
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(text)
        try:
            got = extract.debian_descriptions(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(got, [DebDesc("foo", "frobnicate widgets quickly",
                                       "Foo frobnicates widgets of all sizes with a simple command line. It supports many formats.")])


class FactsAndQA(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.facts = corpora.fact_table(COUNTRIES, CURRENCY)
        cls.fict = corpora.fictional_facts(6, cls.facts)
        cls.qa = corpora.qa_examples(cls.facts, cls.fict)
        cls.table = {f.country: f.capital for f in cls.facts}

    def test_fact_table(self) -> None:
        self.assertNotIn("Antarctica", self.table)
        self.assertEqual(self.table["France"], "Paris")
        st = corpora.fact_statements(self.facts)
        self.assertEqual(len(st), len(self.facts) * len(templates.FACT_TEMPLATES))
        for r in st:
            self.assertIn(self.table[[f.country for f in self.facts if f.code == r["code"]][0]], r["text"])

    def test_sensible(self) -> None:
        by = {f.code: f for f in self.facts}
        for code in ("MX", "LU", "GY", "AC", "BO"):
            self.assertFalse(corpora.sensible_for_test(by[code], self.facts), code)
        self.assertTrue(corpora.sensible_for_test(by["FR"], self.facts))

    def test_held_out_countries_are_sensible(self) -> None:
        by = {f.code: f for f in self.facts}
        for s in ("validation", "test"):
            for r in self.qa[s]:
                if not r["fictional"]:
                    self.assertTrue(corpora.sensible_for_test(by[r["code"]], self.facts), r["code"])

    def test_contradictions_contradict(self) -> None:
        n = 0
        for rows in self.qa.values():
            for r in rows:
                if r["closed_book"]:
                    self.assertIsNone(r["document"])
                    self.assertEqual(r["answer"], self.table[r["country"]])
                    continue
                self.assertIn(r["answer"], r["document"])
                if r["contradicts"]:
                    n += 1
                    true = self.table[r["country"]]
                    self.assertEqual(r["memorised_answer"], true)
                    self.assertNotEqual(r["answer"], true)
                    self.assertNotIn(true, r["document"])
                    self.assertIn(r["answer"], set(self.table.values()))  # another real capital
                elif r["kind"] == "capital" and not r["fictional"]:
                    self.assertEqual(r["answer"], self.table[r["country"]])
        self.assertGreater(n, 0)

    def test_fictional_not_real(self) -> None:
        real = set(self.table) | set(self.table.values())
        for f in self.fict:
            self.assertNotIn(f.country, real)
            self.assertNotIn(f.capital, real)

    def test_splits_disjoint_by_country(self) -> None:
        seen: dict[str, str] = {}
        for s, rows in self.qa.items():
            for r in rows:
                self.assertEqual(seen.setdefault(r["code"], s), s)

    def test_deterministic(self) -> None:
        again = corpora.qa_examples(corpora.fact_table(COUNTRIES, CURRENCY), corpora.fictional_facts(6, self.facts))
        self.assertEqual(json.dumps(again, sort_keys=True), json.dumps(self.qa, sort_keys=True))


class Labels(unittest.TestCase):
    LEX = {"good": 3, "happy": 3, "bad": -3, "terrible": -3, "can't stand": -3}

    def test_afinn(self) -> None:
        self.assertEqual(corpora.afinn_score("A good and happy day", self.LEX), (6, 0))
        self.assertEqual(corpora.afinn_score("This is not good at all", self.LEX), (0, -3))
        self.assertEqual(corpora.afinn_score("I can't stand it", self.LEX), (0, -3))

    def test_sentiment_and_style(self) -> None:
        units = [Unit("austen", f"a{i}", f"It was a good and happy evening number {i} for all of them.") for i in range(30)]
        units += [Unit("austen", f"b{i}", f"It was a bad and terrible evening number {i} for all of them.") for i in range(20)]
        units += [Unit("debian", f"d{i}", f"This package provides the library number {i} for parsing files.") for i in range(40)]
        senti = corpora.sentiment_examples(units, self.LEX)
        for s, rows in senti.items():
            labels = [r["label"] for r in rows]
            self.assertEqual(labels.count("positive"), labels.count("negative"), s)
        self.assertGreater(sum(len(v) for v in senti.values()), 0)
        style = corpora.style_examples(units)
        for rows in style.values():
            for r in rows:
                self.assertEqual(r["label"], "technical" if r["source"] == "debian" else "literary")
        for s, rows in style.items():
            for r in rows:
                u = [u for u in units if u.text == r["text"]][0]
                self.assertEqual(corpora.classifier_split(u), s)
        for s, rows in corpora.general_corpus(units).items():
            for u in rows:
                self.assertEqual(corpora.unit_split(u), s)

    def test_sentences(self) -> None:
        self.assertEqual(corpora.sentences('He said "Go." Then he left. Fine!'), ['He said "Go."', "Then he left.", "Fine!"])


if __name__ == "__main__":
    unittest.main()
