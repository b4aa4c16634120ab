"""Corpus builders: pure functions over parsed inputs (no I/O), so tests can run them on tiny inline data."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Iterable

import splits
import templates
from extract import Country, DebDesc, Unit

# ------------------------------------------------------------------------------------------- helpers
_SENT_SPLIT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z])")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT_SPLIT.split(text) if s.strip()]


_PKG_PREFIX = re.compile(r"^(?:lib(?:ghc-|x11-)?|python3?-|r-cran-|r-bioc-|golang-(?:github-)?|node-|ruby-|php-|perl-|lua-|elpa-|fonts-|gir1\.2-)")
_PKG_SUFFIX = re.compile(r"(?:-(?:dev|doc|dbg|dbgsym|data|common|utils|tools|bin|examples|tests|plugins?|perl|java|cil|dev-doc|static|runtime|mod|modules|all))+$")


def debian_family(package: str) -> str:
    """Groups related binary packages (libfoo1, libfoo-dev, python3-foo, foo-doc …) under one split key, because
    their descriptions are near-duplicates and must not straddle train/test."""
    p = package.lower()
    p = _PKG_PREFIX.sub("", p)
    p = _PKG_SUFFIX.sub("", p)
    p = re.split(r"[-.+]", p)[0]
    p = re.sub(r"\d+$", "", p) or package
    return p


def unit_split(u: Unit) -> str:
    """Split of a general-corpus unit. Debian units are keyed by package family (see debian_family)."""
    if u.source == "debian":
        return splits.split_of("debian", u.key)
    return splits.split_of("general", u.key)


def classifier_split(u: Unit) -> str:
    return splits.split_of("classifier", f"{u.source}:{u.key}", splits.CLASSIFIER_RATIOS)


def debian_units(descs: Iterable[DebDesc]) -> list[Unit]:
    return [Unit("debian", debian_family(d.package), d.document) for d in descs]


# ----------------------------------------------------------------------------------- (a) general text
def general_corpus(units: Iterable[Unit]) -> dict[str, list[Unit]]:
    out: dict[str, list[Unit]] = {s: [] for s in splits.SPLITS}
    for u in units:
        out[unit_split(u)].append(u)
    for s in out:
        out[s].sort(key=lambda u: (splits.stable_order_key(u.source + "|" + u.key + "|" + u.text[:64])))
    return out


# ----------------------------------------------------------------------------------------- (b) facts
@dataclass(frozen=True)
class Fact:
    code: str
    country: str
    capital: str
    continent: str
    language: str
    currency: str


# Held-out QA needs unambiguous, well-known capitals. Excluded from the test/validation pool (kept in train):
# dependent territories (obscure, often tiny) and countries whose capital is disputed, split or recently moved.
TERRITORIES = set("AC AI AS AW AX BL BM BQ CC CK CW CX EH FK FO GF GG GI GL GP GS GU HK HM IM IO JE KY MF MO MP MQ MS "
                  "NC NF NU PF PM PN PR RE SH SJ SX TA TC TF TK UM VG VI WF YT".split())
AMBIGUOUS_CAPITAL = set("BO IL PS CI LK BJ TZ BI SZ ZA XK MY NL MM KZ TW PW NR KI CH".split())


def fact_table(countries_: Iterable[Country], currency_names: dict[str, str] | None = None) -> list[Fact]:
    out = []
    for c in countries_:
        if not c.capital:
            continue
        cur = (currency_names or {}).get(c.currency, c.currency)
        out.append(Fact(c.code, c.name, c.capital, c.continent, c.language or "English", cur))
    return out


def _words(s: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{3,}", s.lower())}


def sensible_for_test(f: Fact, all_facts: list[Fact]) -> bool:
    if f.code in TERRITORIES or f.code in AMBIGUOUS_CAPITAL:
        return False
    if _words(f.capital) & _words(f.country):  # "Mexico City", "Luxembourg", "Vatican City" ...
        return False
    if sum(1 for g in all_facts if g.capital == f.capital) > 1:  # "Georgetown", "Kingston" ...
        return False
    return True


def fact_statements(facts: Iterable[Fact]) -> list[dict]:
    """All facts x all phrasings. The fact corpus is prior knowledge: it is training data in every split design."""
    out = []
    for f in facts:
        for i, t in enumerate(templates.FACT_TEMPLATES):
            out.append({"code": f.code, "template": i,
                        "text": t.format(country=f.country, capital=f.capital, continent=f.continent)})
    return out


# -------------------------------------------------------------------------------------------- (d) QA
_SYL_A = ["ka", "lo", "mi", "ve", "tra", "sa", "bel", "dor", "qui", "ran", "zu", "fe", "mon", "ta", "vi", "nor", "ez", "ul"]
_SYL_B = ["ria", "nia", "stan", "land", "mar", "via", "desh", "ona", "avia", "ara", "eth", "ovia"]
_CITY_B = ["ton", "burg", "ville", "grad", "port", "polis", "haven", "mouth", "dale", "ford", "mar", "ssa"]


def fictional_facts(n: int, real: list[Fact], seed: int = 20261129) -> list[Fact]:
    """Made-up countries/capitals that appear only in documents: the model must read the document to answer."""
    rng = random.Random(seed)
    taken = {f.country.lower() for f in real} | {f.capital.lower() for f in real}
    langs = sorted({f.language for f in real if f.language})
    curs = sorted({f.currency for f in real if f.currency})
    conts = sorted({f.continent for f in real} - {"Antarctica"})
    out: list[Fact] = []
    names: set[str] = set()
    while len(out) < n:
        country = (rng.choice(_SYL_A) + rng.choice(_SYL_A) + rng.choice(_SYL_B)).capitalize()
        capital = (rng.choice(_SYL_A) + rng.choice(_SYL_A) + rng.choice(_CITY_B)).capitalize()
        if country.lower() in taken or capital.lower() in taken or country in names or capital in names:
            continue
        names |= {country, capital}
        out.append(Fact(f"Z{len(out):03d}", country, capital, rng.choice(conts), rng.choice(langs), rng.choice(curs)))
    return out


def substitute_capital(f: Fact, facts: list[Fact], salt: str) -> str:
    """A different real capital (NQ-Swap style), chosen deterministically: the capital of another country on the same
    continent from the unambiguous pool (no territories, no disputed capitals, no "Kuwait City"-like names)."""
    pool = [g for g in facts if sensible_for_test(g, facts) and g.capital != f.capital
            and not (_words(g.capital) & _words(f.capital)) and not (_words(g.capital) & _words(f.country))]
    cands = sorted({g.capital for g in pool if g.continent == f.continent})
    if len(cands) < 3:
        cands = sorted({g.capital for g in pool})
    idx = int(splits.unit_float("substitute", f"{f.code}:{salt}") * len(cands))
    return cands[idx]


def qa_split(f: Fact, facts: list[Fact]) -> str:
    if f.code.startswith("Z"):
        return splits.split_of("qa-fictional", f.country, splits.QA_RATIOS)
    if not sensible_for_test(f, facts):
        return "train"
    return splits.split_of("qa", f.code, splits.QA_RATIOS)


def qa_examples(facts: list[Fact], fictional: list[Fact], train_contradict_every: int = 4) -> dict[str, list[dict]]:
    """QA over short documents + closed-book questions.

    Per real country and document template: one consistent document with each question type. Contradicting
    documents (a different real capital, the answer follows the document): in train for one document template
    out of `train_contradict_every`; in validation/test for every document template, so held-out capital questions
    are half consistent, half contradicting. Fictional countries have consistent documents only (no prior exists).
    Closed-book records (no document) ask for the memorised capital.
    """
    out: dict[str, list[dict]] = {s: [] for s in splits.SPLITS}
    for f in list(facts) + list(fictional):
        split = qa_split(f, facts)
        fictional_ = f.code.startswith("Z")
        fields = {"country": f.country, "capital": f.capital, "continent": f.continent,
                  "language": f.language, "currency": f.currency}
        answers = {"capital": f.capital, "continent": f.continent, "language": f.language, "currency": f.currency}
        for ti, dt in enumerate(templates.DOC_TEMPLATES):
            doc = dt.format(**fields)
            for kind, q in templates.QUESTIONS.items():
                out[split].append({"code": f.code, "country": f.country, "kind": kind, "doc_template": ti,
                                   "document": doc, "question": q.format(country=f.country), "answer": answers[kind],
                                   "memorised_answer": None if fictional_ else answers[kind],
                                   "contradicts": False, "fictional": fictional_})
            if fictional_ or _words(f.capital) & _words(f.country):
                continue  # no prior to contradict / "Luxembourg is ... Its capital is Rome" would still name it
            if split == "train" and (ti + int(splits.unit_float("contra", f.code) * train_contradict_every)) % train_contradict_every:
                continue
            fake = substitute_capital(f, facts, str(ti))
            cdoc = dt.format(**{**fields, "capital": fake})
            out[split].append({"code": f.code, "country": f.country, "kind": "capital", "doc_template": ti,
                               "document": cdoc, "question": templates.QUESTIONS["capital"].format(country=f.country),
                               "answer": fake, "memorised_answer": f.capital, "contradicts": True, "fictional": False})
        if not fictional_:
            out[split].append({"code": f.code, "country": f.country, "kind": "capital", "doc_template": None,
                               "document": None, "question": templates.QUESTIONS["capital"].format(country=f.country),
                               "answer": f.capital, "memorised_answer": f.capital, "contradicts": False,
                               "fictional": False, "closed_book": True})
    for s in out:
        for r in out[s]:
            r.setdefault("closed_book", False)
    return out


# --------------------------------------------------------------------------------- (c) summarisation
def summary_pairs(descs: Iterable[DebDesc], max_words: int = 200) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {s: [] for s in splits.SPLITS}
    for d in descs:
        n = len(d.document.split())
        if n > max_words or len(d.synopsis.split()) < 2:
            continue
        fam = debian_family(d.package)
        out[splits.split_of("debian", fam)].append({"package": d.package, "family": fam, "document": d.document,
                                                    "summary": d.synopsis})
    return out


# ----------------------------------------------------------------------------- (e) sentiment, style
NEGATORS = {"not", "no", "never", "nor", "without", "cannot", "nothing", "none", "neither", "hardly"}
_TOK = re.compile(r"[a-z]+(?:'[a-z]+)?")


def afinn_score(text: str, lex: dict[str, int]) -> tuple[int, int]:
    """(positive sum, negative sum) of AFINN-165 valences; phrases up to 3 words; a negator in the 3 preceding
    tokens flips the sign. VADER is deliberately not used (it is the external judge in issue #6)."""
    toks = _TOK.findall(text.lower())
    pos = neg = 0
    i = 0
    while i < len(toks):
        hit, width = None, 1
        for w in (3, 2, 1):
            phrase = " ".join(toks[i : i + w])
            if len(toks[i : i + w]) == w and phrase in lex:
                hit, width = lex[phrase], w
                break
        if hit is not None:
            window = toks[max(0, i - 3) : i]
            if any(t in NEGATORS or t.endswith("n't") for t in window):
                hit = -hit
            if hit > 0:
                pos += hit
            else:
                neg += hit
        i += width
    return pos, neg


def _sentence_pool(units: Iterable[Unit], sources: set[str], min_words: int = 6, max_words: int = 40) -> list[tuple[Unit, str]]:
    pool = []
    for u in units:
        if u.source not in sources:
            continue
        for s in sentences(u.text):
            n = len(s.split())
            if min_words <= n <= max_words and sum(c.isalpha() for c in s) > 0.6 * len(s):
                pool.append((u, s))
    return pool


# Debian descriptions are left out: in technical text AFINN words ("kill", "mock", "error", "attack") are not sentiment.
SENTIMENT_SOURCES = {"austen", "fortunes", "wordnet-example", "gcide-quote"}


def sentiment_examples(units: Iterable[Unit], lex: dict[str, int], margin: int = 2) -> dict[str, list[dict]]:
    """Weak labels: positive if AFINN positive sum >= margin and no negative word, negative symmetric.
    Balanced per source (downsampled deterministically) so that the label is not a proxy for the source."""
    by: dict[tuple[str, str, str], list[dict]] = {}
    for u, s in _sentence_pool(units, SENTIMENT_SOURCES):
        pos, neg = afinn_score(s, lex)
        if pos >= margin and neg == 0:
            label = "positive"
        elif neg <= -margin and pos == 0:
            label = "negative"
        else:
            continue
        rec = {"text": s, "label": label, "score": pos + neg, "source": u.source}
        by.setdefault((classifier_split(u), u.source, label), []).append(rec)
    return _balanced(by, ("positive", "negative"))


LITERARY = {"austen", "fortunes", "gcide-quote"}
TECHNICAL = {"debian"}


def style_examples(units: Iterable[Unit]) -> dict[str, list[dict]]:
    """Real labels by source: literary (Austen, fortune cookies, GCIDE literary quotations) vs technical (Debian
    package descriptions). Balanced per split."""
    by: dict[tuple[str, str, str], list[dict]] = {}
    for u, s in _sentence_pool(units, LITERARY | TECHNICAL):
        label = "literary" if u.source in LITERARY else "technical"
        by.setdefault((classifier_split(u), "all", label), []).append({"text": s, "label": label, "source": u.source})
    return _balanced(by, ("literary", "technical"))


def _balanced(by: dict[tuple[str, str, str], list[dict]], labels: tuple[str, str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {s: [] for s in splits.SPLITS}
    groups = sorted({(sp, src) for sp, src, _ in by})
    for sp, src in groups:
        a, b = ([*sorted({r["text"]: r for r in by.get((sp, src, lab), [])}.values(),
                         key=lambda r: splits.stable_order_key(r["text"]))] for lab in labels)
        n = min(len(a), len(b))
        out[sp].extend(a[:n])
        out[sp].extend(b[:n])
    for sp in out:
        out[sp].sort(key=lambda r: splits.stable_order_key(r["label"] + r["text"]))
    return out
