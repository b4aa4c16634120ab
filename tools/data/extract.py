"""Parsers that turn the raw packages in data/raw/ into clean text units (stdlib only).

Every function returns plain Python data; text units are single lines (no newlines or tabs) with collapsed
whitespace, so that every corpus file is one unit per line. Each unit carries a stable key (used by the
hash-based split, see splits.py) and a source name.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import struct
import unicodedata
import zlib
from dataclasses import dataclass
from typing import Iterable, Iterator

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Unit:
    source: str  # e.g. "gcide-def", "austen", "debian"
    key: str  # stable identity for the split hash (same key => same split)
    text: str


def clean_line(s: str) -> str:
    """NFC-normalise, drop control characters, collapse whitespace to single spaces."""
    s = unicodedata.normalize("NFC", s)
    s = "".join(ch if (ch >= " " or ch in "\t\n") and ch != "\x7f" else " " for ch in s)
    return _WS.sub(" ", s).strip()


# ----------------------------------------------------------------------------------------------- GCIDE
_GCIDE_TAGS = re.compile(
    r"\[(?:1913 Webster|Webster 1913 Suppl\.|PJC|WordNet 1\.5|Century Dict\.|RH|Chambers 1728|MW10|NIST|FOLDOC|JS|AS|mw|Webster 1913)[^\]]*\]"
)
_GCIDE_PRON = re.compile(r"\\[^\\\n]{0,80}\\")
_GCIDE_BRACKETS = re.compile(r"\[[^\[\]]{0,400}\]")
_GCIDE_CITE = re.compile(r"\s?--\s?[A-Z][A-Za-z.'&, ]{0,40}?\.(?=\s|$)")
_GCIDE_INLINE_QUOTE = re.compile(r"\"([^\"]{40,400})\"\s?--\s?([A-Z][A-Za-z.'& ]{0,40}?)\.(?=\s|$)")
_SENSE_NUM = re.compile(r"(?<![\w.])\d{1,2}\. (?=[A-Z(])")


def _gcide_clean(text: str) -> str:
    text = _GCIDE_TAGS.sub(" ", text)
    text = _GCIDE_PRON.sub("", text)
    text = _GCIDE_BRACKETS.sub("", text)
    text = _GCIDE_CITE.sub("", text)
    text = text.replace("{", "").replace("}", "")
    text = text.replace(" ,", ",").replace("( ", "(")
    return clean_line(text)


def gcide_units(path: str) -> Iterator[Unit]:
    """Definitions (one unit per blank-line separated block) and literary quotations.

    Quotation lines in the dictd file are indented by 14+ spaces and end with `-- Author`; inline quotations
    `"…" --Author.` inside definitions are also taken as quotations.
    """
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        raw = f.read()
    start = raw.find("\nA \\A\\")  # the dictionary proper starts at the first headword "A"
    if start > 0:
        raw = raw[start:]
    blocks = raw.split("\n\n")
    n_def = n_q = 0
    for bi, block in enumerate(blocks):
        lines = block.split("\n")
        quote_lines: list[str] = []
        other: list[str] = []
        for ln in lines:
            indent = len(ln) - len(ln.lstrip(" "))
            if indent >= 14 and ln.strip():
                quote_lines.append(ln.strip())
            else:
                other.append(ln)
        if quote_lines:
            q = " ".join(quote_lines)
            q = re.sub(r"\s*--\s*[A-Z][^\n]{0,60}$", "", q)  # trailing attribution
            q = _gcide_clean(q)
            if 20 <= len(q) <= 600 and not _GCIDE_TAGS.search(q):
                n_q += 1
                yield Unit("gcide-quote", f"gcide:{bi}:q", q)
        body = "\n".join(other)
        for m in _GCIDE_INLINE_QUOTE.finditer(body.replace("\n", " ")):
            q = _gcide_clean(m.group(1))
            if len(q) >= 40:
                n_q += 1
                yield Unit("gcide-quote", f"gcide:{bi}:iq{m.start()}", q)
        text = _gcide_clean(body)
        if len(text) >= 20 and re.search(r"[a-z]{3}", text):
            n_def += 1
            yield Unit("gcide-def", f"gcide:{bi}", text)


# --------------------------------------------------------------------------------------------- WordNet
def wordnet_units(wn_dir: str) -> Iterator[Unit]:
    """Glosses as definitions ("lemma: gloss.") and quoted example sentences as separate units."""
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(wn_dir, f"data.{pos}"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):
                    continue  # licence header
                head, _, gloss = line.partition(" | ")
                parts = head.split()
                offset, w_cnt = parts[0], int(parts[3], 16)
                lemmas = [parts[4 + 2 * i].replace("_", " ") for i in range(w_cnt)]
                lemmas = [re.sub(r"\((?:a|p|ip)\)$", "", w) for w in lemmas]
                gloss = gloss.strip()
                examples = re.findall(r"\"([^\"]+)\"", gloss)
                definition = re.sub(r"\"[^\"]*\"", "", gloss)
                definition = clean_line(definition.replace(";", "; ")).strip(" ;")
                definition = re.sub(r"\s*;\s*$", "", definition)
                key = f"wn:{pos}:{offset}"
                if definition:
                    text = f"{lemmas[0]}: {definition}."
                    if len(lemmas) > 1:
                        text = f"{', '.join(lemmas[:4])}: {definition}."
                    yield Unit("wordnet-gloss", key, clean_line(text.replace("..", ".")))
                for i, ex in enumerate(examples):
                    ex = clean_line(ex)
                    if len(ex.split()) >= 3:
                        yield Unit("wordnet-example", key + f":e{i}", ex)


# -------------------------------------------------------------------------------------------- fortunes
FORTUNE_SKIP = {"ascii-art", "art", "translate-me", "knghtbrd", "perl", "linuxcookie", "debian", "startrek", "zippy"}


def fortune_units(fortune_dir: str) -> Iterator[Unit]:
    """One unit per cookie; attribution lines (`-- Author`) are dropped; multi-line cookies are joined."""
    for name in sorted(os.listdir(fortune_dir)):
        path = os.path.join(fortune_dir, name)
        if "." in name or name in FORTUNE_SKIP or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            cookies = f.read().split("\n%\n")
        for i, c in enumerate(cookies):
            lines = [ln for ln in c.split("\n") if not re.match(r"^\s*--\s", ln)]
            # skip dialogue/verse-heavy or ASCII-art cookies: too many short or symbol lines
            text = clean_line(" ".join(lines))
            if len(text) < 20 or len(text) > 800:
                continue
            letters = sum(ch.isalpha() for ch in text)
            if letters < 0.6 * len(text):
                continue
            yield Unit("fortunes", f"fortune:{name}:{i}", text)


# -------------------------------------------------------------------------------------------- R .rdb
def rdb_strings(path: str) -> list[list[str]]:
    """Reads every record of an R lazy-load database (.rdb): returns the CHARSXP strings of each record."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    out: list[list[str]] = []
    while pos + 4 < len(data):
        # record = 4-byte big-endian uncompressed length + one zlib stream; the next record follows it
        d = zlib.decompressobj()
        try:
            blob = d.decompress(data[pos + 4 :])
        except zlib.error:
            break
        pos = len(data) - len(d.unused_data)
        strings: list[str] = []
        i = 2 if blob[:2] == b"X\n" else 0  # XDR serialisation: "X\n" then 4-byte items (strings unpadded)
        while i + 8 <= len(blob):
            flags = struct.unpack(">I", blob[i : i + 4])[0]
            if flags & 0xFF == 0x09 and flags < 0x00100000:
                (ln,) = struct.unpack(">i", blob[i + 4 : i + 8])
                if ln == -1:
                    strings.append("")
                    i += 8
                    continue
                if 0 <= ln <= len(blob) - i - 8:
                    strings.append(blob[i + 8 : i + 8 + ln].decode("utf-8", errors="replace"))
                    i += 8 + ln
                    continue
            i += 4
        out.append(strings)
    return out


AUSTEN_TITLES = ["Sense & Sensibility", "Pride & Prejudice", "Mansfield Park", "Emma", "Northanger Abbey", "Persuasion"]


def austen_units(rdb: str) -> Iterator[Unit]:
    """One unit per paragraph (lines joined until a blank line); chapter headings are dropped."""
    records = [r for r in rdb_strings(rdb) if len(r) > 1000]
    for bi, lines in enumerate(records):
        para: list[str] = []
        pi = 0

        def flush() -> Iterator[Unit]:
            nonlocal pi
            text = clean_line(" ".join(para))
            para.clear()
            if len(text) >= 30 and not re.match(r"^(CHAPTER|Chapter|VOLUME|Volume)\b", text):
                pi += 1
                yield Unit("austen", f"austen:{bi}:{pi}", text.replace("_", ""))

        for ln in lines:
            if ln.strip():
                para.append(ln)
            else:
                yield from flush()
        yield from flush()


# --------------------------------------------------------------------------------- Debian descriptions
@dataclass(frozen=True)
class DebDesc:
    package: str
    synopsis: str
    document: str


def debian_descriptions(path: str) -> list[DebDesc]:
    """Parses Translation-en; returns unique (synopsis, document) pairs in file order, first package wins.

    Paragraph breaks (` .`) become spaces, verbatim lines (two leading spaces, e.g. bullet lists) are kept as
    text; the document is a single line.
    """
    out: list[DebDesc] = []
    seen: set[str] = set()
    pkg = syn = ""
    body: list[str] = []

    def flush() -> None:
        if pkg and syn and body:
            doc = clean_line(" ".join("" if b.strip() == "." else b for b in body))
            s = clean_line(syn)
            k = s + "\x00" + doc
            if doc and k not in seen and len(doc.split()) >= 8:
                seen.add(k)
                out.append(DebDesc(pkg, s, doc))

    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("Package:"):
                flush()
                pkg, syn, body = line.split(":", 1)[1].strip(), "", []
            elif line.startswith("Description-en:"):
                syn = line.split(":", 1)[1].strip()
            elif line.startswith(" ") and syn:
                body.append(line[1:])
    flush()
    return out


# ------------------------------------------------------------------------------------- countries, AFINN
@dataclass(frozen=True)
class Country:
    code: str
    name: str
    capital: str
    continent: str
    currency: str
    language: str


def countries(pkg_dir: str) -> list[Country]:
    data = json.load(open(os.path.join(pkg_dir, "countries.min.json"), encoding="utf-8"))
    continents = json.load(open(os.path.join(pkg_dir, "continents.min.json"), encoding="utf-8"))
    langs = json.load(open(os.path.join(pkg_dir, "languages.min.json"), encoding="utf-8"))
    out = []
    for code in sorted(data):
        c = data[code]
        lang = langs.get((c.get("languages") or [""])[0], {}).get("name", "")
        out.append(Country(code, c["name"], c.get("capital", "") or "", continents.get(c["continent"], c["continent"]),
                           (c.get("currency") or [""])[0], lang))
    return out


def afinn(pkg_dir: str) -> dict[str, int]:
    src = open(os.path.join(pkg_dir, "index.js"), encoding="utf-8").read()
    lex: dict[str, int] = {}
    for m in re.finditer(r"^\s*(?:'([^']+)'|\"([^\"]+)\"|([A-Za-z0-9_]+)):\s*(-?\d+),?$", src, re.M):
        word = m.group(1) or m.group(2) or m.group(3)
        lex[word.lower()] = int(m.group(4))
    return lex


def iter_limit(it: Iterable[Unit], limit: int | None) -> Iterator[Unit]:
    for i, u in enumerate(it):
        if limit is not None and i >= limit:
            return
        yield u
