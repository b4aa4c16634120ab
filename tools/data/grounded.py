"""Grounded data for issue #16: extractive QA over synthetic documents and document-supported summaries.

Pure functions over parsed inputs (no I/O except `man_units`), so tests can run them on tiny inline data.
`build_grounded.py` writes the outputs to data/build/grounded/ (see tools/data/README.md, "Grounded data").

Design (recorded in grounded/MANIFEST.json):
  * QA. Entities are real countries (the fact table; consistent and COUNTERFACTUAL documents, whose capital is swapped
    for another real capital) and synthetic institutions (a library, a bridge, a choir ... in a made-up town, with a
    founding year, a person in a role, a quantity and a yearly date). One entity record is rendered in several
    document STYLES (narrative, notes, table, list, dialogue, letter, news), each with a few variants; questions come
    from phrasing FAMILIES per fact kind (direct, imperative, cloze, keyword, indirect, casual). Every answer is a
    span of its document.
  * Held-out design. Whole facts: countries in the `test` part of corpora.qa_split (the same held-out countries as
    qa/test), institutions hashed into `test`. Whole template families: the `dialogue` and `letter` styles, the last
    variant of every other style, and the `indirect` and `casual` question families are never trained. Records of
    held-out facts with trained styles and wordings go to `test`; those with a held-out style or wording (or both)
    to `heldout`, each record saying which (`new_style`, `new_wording`). Train/validation use only trained families.
  * Summaries. Prose paragraphs from Austen, fortunes, GCIDE definitions and quotations, WordNet glosses, man-page
    DESCRIPTION paragraphs and Debian long descriptions; the target is one the document supports: the lead sentence
    compressed, the most central sentence (content-word overlap with the rest), or, for Debian descriptions, the
    synopsis when >= 70% of its content words occur in the document. Documents keep the split of the general corpus
    (corpora.unit_split), so a held-out document is never in LM training text; man pages of section 7 and a set of
    hand-written everyday paragraphs (EVERYDAY, this file) are held-out families never trained.
  * LM text: a subsample of the general corpus train split and the fact statements (the model's prior).
"""
from __future__ import annotations

import gzip
import os
import random
import re
from typing import Iterable

import splits
from corpora import Fact, _words, qa_split, sensible_for_test, sentences, substitute_capital, unit_split
from extract import Unit, clean_line

GROUNDED_SPLITS = ("train", "validation", "test", "heldout")
ENTITY_RATIOS = (0.8, 0.1, 0.1)

# ------------------------------------------------------------------------------------------ words, support
STOP = set("""the and for with that this are from its has was can you your not all any into which also other such may
more use used using package provides contains a an of to in on at by is be as or it he she they we his her their our
them him there then than had have were been but if so do does did no nor what when who whom whose how why where very
upon one would could should will shall must might being these those some each every about over after before""".split())
_WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)


def content_words(text: str) -> list[str]:
    """Lower-cased words of >= 3 letters minus a stop list (the same notion as bench/cad-eval.ts' `words`)."""
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if len(w) >= 3 and w not in STOP]


def support(summary: str, document: str) -> float:
    """Share of the summary's content words that occur in the document (1.0 for a summary without any)."""
    sw = content_words(summary)
    if not sw:
        return 1.0
    dw = set(content_words(document))
    return sum(1 for w in sw if w in dw) / len(sw)


# -------------------------------------------------------------------------------------- synthetic entities
_TOWN_A = ["Ash", "Brook", "Elm", "Stone", "Mill", "Oak", "Red", "Fair", "North", "West", "Lark", "Holt", "Wren",
           "Glen", "Marsh", "Kings", "Thorn", "High", "Bram", "Cold", "Hazel", "Little", "Long", "Swan"]
_TOWN_B = ["ford", "field", "wick", "ton", "bury", "dale", "mere", "stead", "moor", "ham", "worth", "by", "combe",
           "bridge", "haven", "well"]
_NAME_A = ["Juniper", "Silver Birch", "Kestrel", "Blue Door", "Saint Anne's", "Victoria", "Meadowbank", "Copper Street",
           "Riverside", "Hillcrest", "Lantern", "Greyfriars", "Orchard", "Beacon", "Albion", "Maple", "Heron",
           "Old Harbour", "Willow", "Granite", "Castle Lane", "Foxglove", "Hawthorn", "Northgate"]
# type, quantity noun, quantity range, event
_TYPES = [("Library", "books", (2000, 90000), "book fair"), ("Museum", "visitors a year", (1000, 60000), "open day"),
          ("Theatre", "seats", (80, 1200), "summer festival"), ("Hospital", "beds", (20, 600), "open day"),
          ("Observatory", "telescopes", (2, 12), "star night"), ("Rowing Club", "members", (20, 400), "regatta"),
          ("Music School", "pupils", (30, 900), "spring concert"), ("Lighthouse", "steps", (60, 400), "open day"),
          ("Market Hall", "stalls", (12, 160), "harvest market"), ("Choir", "singers", (12, 120), "carol service"),
          ("Football Club", "members", (40, 3000), "cup final"), ("Botanical Garden", "species", (200, 9000), "plant sale"),
          ("Brewery", "workers", (4, 300), "beer festival"), ("Bridge", "metres", (20, 900), "bridge walk"),
          ("Railway Station", "platforms", (2, 14), "steam weekend"), ("Newspaper", "readers", (500, 80000), "anniversary dinner")]
_FIRST = ["Maria", "James", "Aisha", "Tomas", "Helen", "Kenji", "Grace", "Omar", "Ingrid", "Daniel", "Priya", "Lucas",
          "Fatima", "Ethan", "Sofia", "Samuel", "Chloe", "Mateo", "Hannah", "Victor", "Nadia", "Oliver", "Elena", "Arjun",
          "Ruth", "Felix", "Amara", "Peter", "Laura", "Yusuf", "Clara", "Henry"]
_LAST = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Kowalski", "Brennan", "Haddad", "Fischer", "Silva", "Novak",
         "Whitaker", "Osei", "Castillo", "Petrov", "Nakamura", "Gallagher", "Rahman", "Jensen", "Adeyemi", "Costa",
         "Holm", "Duarte", "Varga", "Mensah", "Keller", "Ortiz", "Blackwood", "Sato", "Ferreira", "Quinn"]
_ROLES = ["director", "head librarian", "chief engineer", "conductor", "manager", "captain", "head teacher", "curator",
          "editor", "treasurer", "head gardener", "chair"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]


def institutions(n: int, seed: int = 20261207) -> list[dict]:
    """Made-up institutions with five facts each (no prior knowledge exists: the model must read the document)."""
    rng = random.Random(seed)
    out, names = [], set()
    while len(out) < n:
        typ, qnoun, (lo, hi), event = rng.choice(_TYPES)
        name = f"{rng.choice(_NAME_A)} {typ}"
        town = rng.choice(_TOWN_A) + rng.choice(_TOWN_B)
        if (name, town) in names:
            continue
        names.add((name, town))
        person = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        day = rng.randint(1, 28)
        out.append({"entity": f"the {name} in {town}", "name": name, "town": town, "type": typ,
                    "year": str(rng.randint(1705, 2015)), "person": person, "role": rng.choice(_ROLES),
                    "quantity": str(rng.randint(lo, hi)), "qnoun": qnoun, "event": event,
                    "date": f"{day} {rng.choice(_MONTHS)}"})
    return out


# ------------------------------------------------------------------------------------------ document styles
# Each style has variants; a variant renders all facts of an entity (so the other facts are distractors).
# {X} are fields; institutions: name town year person role quantity qnoun event date;
# countries: country capital continent language currency.
STYLES_INST = {
    "narrative": [
        "The {name} stands in {town}. It was founded in {year}, and today {person} is its {role}. It has {quantity} {qnoun}, and every year its {event} is held on {date}.",
        "Founded in {year}, the {name} is one of the best-known places in {town}. Its {role}, {person}, likes to point out that it has {quantity} {qnoun}. The {event} takes place on {date}.",
        "In {town} there is a {type_lower} called the {name}. {person}, the {role}, looks after it. It dates from {year}, counts {quantity} {qnoun} and holds its {event} on {date} each year.",
    ],
    "notes": [
        "{name}\nTown: {town}\nFounded: {year}\n{role_cap}: {person}\n{qnoun_cap}: {quantity}\n{event_cap}: {date}",
        "Notes on the {name}. Location - {town}. Established - {year}. {role_cap} - {person}. Size - {quantity} {qnoun}. {event_cap} - {date}.",
        "{name} ({town}); est. {year}; {role}: {person}; {quantity} {qnoun}; {event} on {date}.",
    ],
    "table": [
        "| name | town | founded | {role} | {qnoun} | {event} |\n| {name} | {town} | {year} | {person} | {quantity} | {date} |",
        "name: {name} | town: {town} | year founded: {year} | {role}: {person} | {qnoun}: {quantity} | {event}: {date}",
        "Field, value\nname, {name}\nplace, {town}\nfounded, {year}\n{role}, {person}\n{qnoun}, {quantity}\n{event}, {date}",
    ],
    "list": [
        "Facts about the {name}:\n- it is in {town}\n- it opened in {year}\n- {person} is the {role}\n- it has {quantity} {qnoun}\n- the {event} is on {date}",
        "* Place: {town}\n* Opened: {year}\n* Run by: {person} ({role})\n* {qnoun_cap}: {quantity}\n* {event_cap}: {date}",
        "1. The {name} is located in {town}. 2. It was set up in {year}. 3. Its {role} is {person}. 4. It has {quantity} {qnoun}. 5. Its {event} falls on {date}.",
    ],
    "news": [
        "{town} - The {name}, founded in {year}, announced that its {event} will again be held on {date}. {person}, the {role}, said the {type_lower} now has {quantity} {qnoun}.",
        "Local news from {town}: {person}, {role} of the {name}, reports {quantity} {qnoun}. The {type_lower}, which opened in {year}, holds its {event} on {date}.",
    ],
    "dialogue": [
        "A: Where is the {name}? B: In {town}. A: How old is it? B: It was founded in {year}. A: Who is in charge? B: {person}, the {role}. A: Is it big? B: It has {quantity} {qnoun}. A: And the {event}? B: That is on {date}.",
        "Visitor: I am looking for the {name}. Guide: It is in {town}; it has been there since {year}. Visitor: Who runs it? Guide: {person} is the {role}. It has {quantity} {qnoun}, and the {event} is on {date}.",
    ],
    "letter": [
        "Dear friends of the {name}, since {year} our {type_lower} in {town} has grown to {quantity} {qnoun}. Please join us for the {event} on {date}. Kind regards, {person}, {role}",
        "Hello all, a short update from {town}. The {name} (founded {year}) now has {quantity} {qnoun}, and our {event} is set for {date}. Best wishes, {person} ({role})",
    ],
}
STYLES_COUNTRY = {
    "narrative": [
        "{country} is a country in {continent}. Its capital is {capital}. Most people speak {language}, and they pay with the {currency}.",
        "Located in {continent}, {country} has its seat of government in {capital}. The {currency} is the money in use, and {language} is widely spoken.",
        "Travellers to {country}, in {continent}, usually arrive in the capital, {capital}. They will hear {language} and need the {currency}.",
    ],
    "notes": [
        "{country}\nContinent: {continent}\nCapital: {capital}\nLanguage: {language}\nCurrency: {currency}",
        "Notes on {country}. Region - {continent}. Capital city - {capital}. Spoken - {language}. Money - {currency}.",
        "{country} ({continent}); capital {capital}; language {language}; currency {currency}.",
    ],
    "table": [
        "| country | continent | capital | language | currency |\n| {country} | {continent} | {capital} | {language} | {currency} |",
        "country: {country} | continent: {continent} | capital: {capital} | language: {language} | currency: {currency}",
        "Field, value\ncountry, {country}\ncontinent, {continent}\ncapital, {capital}\nlanguage, {language}\ncurrency, {currency}",
    ],
    "list": [
        "Facts about {country}:\n- it is in {continent}\n- the capital is {capital}\n- people speak {language}\n- the currency is the {currency}",
        "* Country: {country}\n* Capital: {capital}\n* Continent: {continent}\n* Language: {language}\n* Money: {currency}",
        "1. {country} lies in {continent}. 2. Its capital is {capital}. 3. The main language is {language}. 4. It uses the {currency}.",
    ],
    "news": [
        "{capital_upper} - The government of {country} met today in the capital, {capital}. The {continent} country, where {language} is spoken, also discussed the {currency}.",
        "World briefing: in {capital}, the capital of {country}, prices in {currency} rose. {language} newspapers across {continent} reported the change.",
    ],
    "dialogue": [
        "A: I am flying to {country} next week. B: Which city? A: The capital, {capital}. B: Do you speak {language}? A: A little. B: Remember to change money into the {currency}; it is a long way to {continent}.",
        "Student: Where is {country}? Teacher: In {continent}. Student: And its capital? Teacher: {capital}. Student: What do people speak there? Teacher: {language}, and they pay in the {currency}.",
    ],
    "letter": [
        "Dear Sam, greetings from {capital}, the capital of {country}! Everyone here speaks {language}, and I have already spent far too many {currency} notes. {continent} is wonderful. Love, Alex",
        "Hi team, a note before the trip to {country} ({continent}). We land in the capital, {capital}. Bring some {currency} and a {language} phrase book. Thanks, Jo",
    ],
}
HELDOUT_STYLES = {"dialogue", "letter"}


def style_heldout(style: str, variant: int) -> bool:
    """Whole styles never trained, plus the last variant of every multi-variant style."""
    return style in HELDOUT_STYLES or variant == len(STYLES_INST[style]) - 1 and len(STYLES_INST[style]) > 2


# ------------------------------------------------------------------------------------------ question families
QUESTION_FAMILIES = ("direct", "imperative", "cloze", "keyword", "indirect", "casual")
HELDOUT_QFAMILIES = {"indirect", "casual"}
QUESTIONS: dict[str, dict[str, list[str]]] = {
    "capital": {
        "direct": ["What is the capital of {country}?", "Which city is the capital of {country}?"],
        "imperative": ["Name the capital of {country}.", "Give the capital city of {country}."],
        "cloze": ["The capital of {country} is which city?", "{country}'s capital is what?"],
        "keyword": ["capital of {country}?", "{country} capital"],
        "indirect": ["I would like to know the capital of {country}.", "Can you tell me which city is {country}'s capital?"],
        "casual": ["so what's the capital of {country}?", "any idea where {country} has its capital?"],
    },
    "continent": {
        "direct": ["On which continent is {country}?", "Which continent is {country} in?"],
        "imperative": ["Name the continent of {country}.", "State the continent where {country} lies."],
        "cloze": ["{country} lies on which continent?", "{country} is in which continent?"],
        "keyword": ["continent of {country}?", "{country} continent"],
        "indirect": ["I wonder which continent {country} belongs to.", "Could you say what continent {country} is on?"],
        "casual": ["what continent's {country} on?", "{country}, which continent again?"],
    },
    "language": {
        "direct": ["Which language is spoken in {country}?", "What language do people speak in {country}?"],
        "imperative": ["Name the language of {country}.", "Give the main language of {country}."],
        "cloze": ["People in {country} speak which language?", "The language of {country} is what?"],
        "keyword": ["language of {country}?", "{country} language"],
        "indirect": ["Tell me which language is spoken in {country}.", "I need to know the language of {country}."],
        "casual": ["what do they speak in {country}?", "{country}, what language do folks use?"],
    },
    "currency": {
        "direct": ["What currency is used in {country}?", "Which money does {country} use?"],
        "imperative": ["Name the currency of {country}.", "Give the currency used in {country}."],
        "cloze": ["{country} pays with which currency?", "The currency of {country} is what?"],
        "keyword": ["currency of {country}?", "{country} currency"],
        "indirect": ["Could you tell me the currency of {country}?", "I would like to know what money {country} uses."],
        "casual": ["what money do they use in {country}?", "{country}, which currency do I need?"],
    },
    "year": {
        "direct": ["When was the {name} founded?", "In which year was the {name} founded?"],
        "imperative": ["Give the year the {name} was founded.", "Name the founding year of the {name}."],
        "cloze": ["The {name} was founded in which year?", "The {name} dates from what year?"],
        "keyword": ["founding year of the {name}?", "{name} founded"],
        "indirect": ["Tell me when the {name} was set up.", "I wonder how long ago, in which year, the {name} started."],
        "casual": ["so when did the {name} open?", "how old is the {name}, what year?"],
    },
    "person": {
        "direct": ["Who is the {role} of the {name}?", "Who runs the {name}?"],
        "imperative": ["Name the {role} of the {name}.", "Give the name of the {name}'s {role}."],
        "cloze": ["The {role} of the {name} is who?", "The {name} is run by whom?"],
        "keyword": ["{role} of the {name}?", "{name} {role}"],
        "indirect": ["Tell me who is in charge of the {name}.", "I would like to know who the {role} of the {name} is."],
        "casual": ["who's the {role} at the {name}?", "so who's in charge at the {name}?"],
    },
    "place": {
        "direct": ["Where is the {name}?", "In which town is the {name}?"],
        "imperative": ["Name the town where the {name} is.", "Give the location of the {name}."],
        "cloze": ["The {name} is in which town?", "The {name} can be found where?"],
        "keyword": ["town of the {name}?", "{name} location"],
        "indirect": ["Tell me where the {name} is located.", "I need to know which town has the {name}."],
        "casual": ["where's the {name}?", "so which town is the {name} in?"],
    },
    "quantity": {
        "direct": ["How many {qnoun} does the {name} have?", "What is the number of {qnoun} at the {name}?"],
        "imperative": ["Give the number of {qnoun} of the {name}.", "State how many {qnoun} the {name} has."],
        "cloze": ["The {name} has how many {qnoun}?", "The number of {qnoun} at the {name} is what?"],
        "keyword": ["number of {qnoun}, {name}?", "{name} {qnoun}"],
        "indirect": ["Tell me how many {qnoun} the {name} has.", "I wonder what the count of {qnoun} at the {name} is."],
        "casual": ["how many {qnoun} has the {name} got?", "so how big is the {name}, how many {qnoun}?"],
    },
    "date": {
        "direct": ["When is the {event} of the {name}?", "On which day is the {name}'s {event}?"],
        "imperative": ["Give the date of the {name}'s {event}.", "Name the day of the {event} at the {name}."],
        "cloze": ["The {event} of the {name} is on which date?", "The {name} holds its {event} when?"],
        "keyword": ["date of the {event}, {name}?", "{name} {event} date"],
        "indirect": ["Tell me the date of the {event} at the {name}.", "I would like to know when the {name}'s {event} is."],
        "casual": ["when's the {event} at the {name}?", "so what day is the {name}'s {event}?"],
    },
}
COUNTRY_KINDS = ("capital", "continent", "language", "currency")
INST_KINDS = ("year", "person", "place", "quantity", "date")


def _country_fields(f: Fact, capital: str) -> dict:
    return {"country": f.country, "capital": capital, "continent": f.continent, "language": f.language,
            "currency": f.currency, "capital_upper": capital.upper()}


def _inst_fields(e: dict) -> dict:
    return {**e, "type_lower": e["type"].lower(), "role_cap": e["role"].capitalize(), "qnoun_cap": e["qnoun"].capitalize(),
            "event_cap": e["event"].capitalize(), "town_upper": e["town"].upper()}


def _inst_answer(e: dict, kind: str) -> str:
    return {"year": e["year"], "person": e["person"], "place": e["town"], "quantity": e["quantity"], "date": e["date"]}[kind]


def _pick(options: list[str], key: str) -> str:
    return options[int(splits.unit_float("grounded-q", key) * len(options))]


def _qa_record(split: str, ent: str, kind: str, style: str, variant: int, family: str, doc: str, q: str, ans: str,
               **extra) -> dict:
    return {"split": split, "task": "qa", "entity": ent, "kind": kind, "style": style, "variant": variant,
            "qfamily": family, "new_style": style_heldout(style, variant), "new_wording": family in HELDOUT_QFAMILIES,
            "document": doc, "question": q, "answer": ans, "memorised_answer": extra.pop("memorised_answer", None),
            "contradicts": extra.pop("contradicts", False), **extra}


def qa_records(facts: list[Fact], fictional: list[Fact], insts: list[dict], train_contradict_every: int = 3) -> list[dict]:
    """Extractive QA records over all entities (see the module doc for the split design).

    Train/validation: every trained style variant x fact kind, one phrasing from a trained family (chosen by hash).
    Held-out facts: every style variant x kind, one phrasing from a trained and one from a held-out family; records
    with no held-out family go to `test`, the others to `heldout`. Countries also get a counterfactual capital
    document (capital swapped for another real capital, the answer follows the document): in train for one style
    variant in `train_contradict_every`, for every variant of held-out facts.
    """
    train_fams = [f for f in QUESTION_FAMILIES if f not in HELDOUT_QFAMILIES]
    held_fams = [f for f in QUESTION_FAMILIES if f in HELDOUT_QFAMILIES]
    out: list[dict] = []

    def emit(fact_split, ent, kinds, styles, fields_of, answer_of, qfields, extra_of=lambda k: {}, salt=""):
        for style, variants in styles.items():
            for vi, tmpl in enumerate(variants):
                new_style = style_heldout(style, vi)
                if fact_split != "test" and new_style:
                    continue
                doc = tmpl.format(**fields_of())
                for kind in kinds:
                    fams = [_pick(train_fams, f"{ent}|{style}|{vi}|{kind}|{salt}")]
                    if fact_split == "test":
                        fams.append(_pick(held_fams, f"{ent}|{style}|{vi}|{kind}|{salt}|h"))
                    for fam in fams:
                        q = _pick(QUESTIONS[kind][fam], f"{ent}|{style}|{vi}|{kind}|{fam}|{salt}").format(**qfields)
                        split = fact_split if fact_split != "test" else (
                            "heldout" if new_style or fam in HELDOUT_QFAMILIES else "test")
                        out.append(_qa_record(split, ent, kind, style, vi, fam, doc, q, answer_of(kind), **extra_of(kind)))

    for f in list(facts) + list(fictional):
        sp = qa_split(f, facts)
        real = not f.code.startswith("Z")
        ans = {"capital": f.capital, "continent": f.continent, "language": f.language, "currency": f.currency}
        emit(sp, f.country, COUNTRY_KINDS, STYLES_COUNTRY, lambda: _country_fields(f, f.capital), ans.__getitem__,
             {"country": f.country},
             lambda k: {"memorised_answer": ans[k] if real else None, "contradicts": False, "fictional": not real,
                        "code": f.code})
        if not real or not sensible_for_test(f, facts) and sp != "train" or _words(f.capital) & _words(f.country):
            continue
        # counterfactual documents: only the capital question (the document swaps the capital)
        for style, variants in STYLES_COUNTRY.items():
            for vi, tmpl in enumerate(variants):
                new_style = style_heldout(style, vi)
                if sp != "test" and new_style:
                    continue
                if sp == "train" and (vi + len(style) + int(splits.unit_float("g-contra", f.code) * 97)) % train_contradict_every:
                    continue
                fake = substitute_capital(f, facts, f"g{style}{vi}")
                doc = tmpl.format(**_country_fields(f, fake))
                fams = [_pick(train_fams, f"{f.code}|c|{style}|{vi}")]
                if sp == "test":
                    fams.append(_pick(held_fams, f"{f.code}|c|{style}|{vi}|h"))
                for fam in fams:
                    q = _pick(QUESTIONS["capital"][fam], f"{f.code}|c|{style}|{vi}|{fam}").format(country=f.country)
                    split = sp if sp != "test" else ("heldout" if new_style or fam in HELDOUT_QFAMILIES else "test")
                    out.append(_qa_record(split, f.country, "capital", style, vi, fam, doc, q, fake,
                                          memorised_answer=f.capital, contradicts=True, fictional=False, code=f.code))
    for e in insts:
        sp = splits.split_of("grounded-entity", e["entity"], ENTITY_RATIOS)
        qf = {"name": e["name"], "role": e["role"], "qnoun": e["qnoun"], "event": e["event"]}
        emit(sp, e["entity"], INST_KINDS, STYLES_INST, lambda: _inst_fields(e), lambda k: _inst_answer(e, k), qf,
             lambda k: {"fictional": True})
    return out


# --------------------------------------------------------------------------------------------- summaries
_PAREN = re.compile(r"\s*[(\[][^()\[\]]{0,200}[)\]]")
_LEAD_JUNK = re.compile(r"^(?:but|and|so|however|indeed|well|oh|yes|no|now|then)\b[,]?\s+", re.I)
_QUOTES = re.compile(r"[\"“”‘’`]|(?<!\w)'|'(?!\w)")


def compress(sentence: str, max_words: int = 22, min_words: int = 6) -> str | None:
    """A compressed sentence the document supports: parentheses and quote marks dropped, a leading connective
    dropped, cut at a clause boundary (, ; : -) when too long; one capital letter at the start, a full stop at the
    end. None when no clean sentence of min_words..max_words words results."""
    s = _QUOTES.sub("", _PAREN.sub("", sentence)).strip()
    s = _LEAD_JUNK.sub("", s).strip()
    s = re.sub(r"\s+([,;:.!?])", r"\1", s)
    s = re.sub(r"\s+", " ", s)
    words = s.split()
    if len(words) > max_words:
        cut = None
        for i in range(min(len(words), max_words), min_words - 1, -1):
            if re.search(r"[,;:]$", words[i - 1]) or (i < len(words) and words[i] in ("-", "--", "—")):
                cut = i
                break
        if cut is None:
            return None
        words = words[:cut]
        s = " ".join(words)
    s = s.rstrip(" ,;:-—")
    s = re.sub(r"[.!?]+$", "", s).strip()
    if len(s.split()) < min_words or not re.match(r"^[^\W\d_]", s):
        return None
    if sum(c.isalpha() for c in s) < 0.7 * len(s.replace(" ", "")):
        return None
    return s[0].upper() + s[1:] + "."


def central_index(sents: list[str]) -> int:
    """Index of the sentence whose content words overlap most with the rest of the document (first on ties)."""
    sets = [set(content_words(s)) for s in sents]
    best, bi = -1.0, 0
    for i, si in enumerate(sets):
        if not si:
            continue
        rest = set().union(*(sets[:i] + sets[i + 1:]))
        score = len(si & rest) / (len(si) ** 0.5)
        if score > best:
            best, bi = score, i
    return bi


_GCIDE_HEAD = re.compile(r"^(?:[^\s.]+(?: [^\s.]+)? (?:n|v|a|adj|adv|prep|pron|interj|v\. [ti]|n\. pl)\.\s*)?(?:\d+\.\s*)*(?:\d+\s+)?")


def summary_target(source: str, text: str, synopsis: str | None, key: str) -> tuple[str, str] | None:
    """(target, kind) for one document, kind in lead / central / synopsis; None if none is clean."""
    sents = sentences(text)
    if source == "gcide-def":  # "Acts n. 1. 1 one of the books ..." -> "one of the books ..."
        sents = [_GCIDE_HEAD.sub("", s) for s in sents]
        sents = [s for s in sents if len(s.split()) >= 3]
    h = splits.unit_float("grounded-sum-kind", key)
    if synopsis and h < 0.34 and len(synopsis.split()) >= 3 and support(synopsis, text) >= 0.7:
        syn = synopsis.strip()
        return syn[0].upper() + syn[1:], "synopsis"
    order = ["central", "lead"] if len(sents) >= 3 and h >= 0.67 else ["lead", "central"]
    for kind in order:
        if kind == "lead":
            t = compress(sents[0]) if sents else None
        else:
            t = compress(sents[central_index(sents)]) if len(sents) >= 2 else None
        if t and support(t, text) >= 0.99:
            return t, kind
    return None


SUMMARY_SOURCES = {"austen": (40, 170), "fortunes": (20, 120), "gcide-def": (20, 120), "gcide-quote": (20, 120),
                   "wordnet-gloss": (14, 80), "debian": (25, 150), "man": (25, 150), "everyday": (20, 200)}
# Training documents kept per family at most (the dictionaries would otherwise be 80% of the summaries)
SUMMARY_TRAIN_CAP = {"gcide-def": 8000, "wordnet-gloss": 6000, "debian": 16000}
HELDOUT_SUMMARY_FAMILIES = {"man7", "everyday"}


def summary_records(units: Iterable[Unit], synopses: dict[str, str] | None = None) -> list[dict]:
    """Grounded summaries. `synopses` maps a Debian unit's text to its synopsis. Man units have keys `man<section>:...`."""
    out, seen = [], set()
    for u in units:
        rng_words = SUMMARY_SOURCES.get(u.source)
        if rng_words is None:
            continue
        n = len(u.text.split())
        if not rng_words[0] <= n <= rng_words[1]:
            continue
        key = f"{u.source}:{u.key}:{u.text[:40]}"
        t = summary_target(u.source, u.text, (synopses or {}).get(u.text), key)
        if t is None or t[0].lower() in seen:
            continue  # one document per target: near-duplicate documents (libfoo1 / libfoo-dev, ISO 8859-n) share it
        seen.add(t[0].lower())
        family = u.key.split(":")[0] if u.source == "man" else u.source
        sp = "heldout" if family in HELDOUT_SUMMARY_FAMILIES else unit_split(u) if u.source != "man" else \
            splits.split_of("man", u.key.split(":")[1])
        if sp == "test":
            sp = "heldout"
        out.append({"split": sp, "task": "summary", "source": u.source, "family": family, "key": u.key,
                    "document": u.text, "summary": t[0], "target_kind": t[1]})
    kept, n = [], {}
    for r in sorted(out, key=lambda r: splits.stable_order_key(r["key"] + r["summary"])):
        cap = SUMMARY_TRAIN_CAP.get(r["family"]) if r["split"] == "train" else None
        n[r["family"]] = n.get(r["family"], 0) + 1
        if cap is None or n[r["family"]] <= cap:
            kept.append(r)
    return kept


def everyday_units() -> list[Unit]:
    return [Unit("everyday", f"everyday:{i}", t) for i, t in enumerate(EVERYDAY)]


# Hand-written for this project (original text, never trained): everyday prose paragraphs for held-out summaries.
EVERYDAY = [
    "The lighthouse on the northern cape was built to warn ships away from the rocks. For almost a century a keeper lived in the small house beside it and climbed the stairs every evening to light the lamp. Today the light is automatic and the house has become a museum. Visitors can climb to the top on summer afternoons.",
    "Our village bakery opens at six in the morning. By seven there is usually a queue of people waiting for fresh bread and warm rolls. The baker starts work at three, mixing dough by hand in the back room. On Saturdays she also makes a large apple cake that sells out before noon.",
    "The city council has decided to close the old swimming pool next spring. The building needs a new roof and the heating system is more than forty years old. A new pool will be built near the railway station. Until it opens, swimmers will have to travel to the next town.",
    "Tomatoes grow best in a warm, sunny corner of the garden. They need plenty of water, but the leaves should stay dry. Tall plants must be tied to a stick so that the fruit does not pull them over. Most gardeners pick the first ripe tomatoes in late summer.",
    "A heavy storm crossed the valley on Tuesday night. Strong winds brought down several trees, and one of them blocked the main road for hours. Some homes lost power until the following afternoon. Nobody was hurt, but the farmers say part of the harvest was damaged.",
    "The school library is moving to a bigger room on the ground floor. The new room has large windows, comfortable chairs and space for twice as many books. Pupils helped to carry the boxes during the last week of term. The library will reopen when the holidays are over.",
    "Every autumn, thousands of geese stop at the lake on their way south. They rest on the water for a few days and feed in the nearby fields. Bird watchers come from far away to see them. The best time to watch is early in the morning, when the birds take off together.",
    "My grandfather repaired clocks for most of his life. His workshop was full of tiny screws, springs and wheels, each kept in its own drawer. He could tell what was wrong with a clock just by listening to it. When he retired, he gave his tools to a young apprentice from the town.",
    "The train to the coast was delayed by more than an hour this morning. A signal failure near the bridge stopped all trains in both directions. Passengers waited on the platform while engineers fixed the problem. The railway company has promised to refund the tickets of everyone affected.",
    "Learning to ride a bicycle takes patience. Most children start with a small bike and someone holding the back of the seat. After a few days they find their balance and can ride alone. Falling off now and then is part of learning, so a helmet is always a good idea.",
    "The market in the town square is held every Friday. Farmers sell vegetables, eggs and cheese from their own land. There is also a stall with second-hand books and another with handmade soap. In winter the market moves into the old town hall to keep out of the rain.",
    "Volunteers cleaned the beach on Sunday morning. In three hours they collected more than two hundred bags of rubbish, most of it plastic. The group meets once a month and welcomes new helpers. Gloves and bags are provided, and hot tea is served afterwards.",
    "The old stone bridge over the river is more than five hundred years old. It was once the only way across for miles, and traders paid a small toll to use it. Cars are no longer allowed on the bridge because it is too narrow. Today it is used by walkers and cyclists.",
    "Our neighbours have adopted a dog from the animal shelter. He is a shy brown dog who was found alone by the side of a road. At first he hid under the table whenever someone came in. After a few weeks he began to follow the children everywhere and now sleeps at the foot of their beds.",
    "The museum has opened a new exhibition about the history of the town's harbour. It shows old maps, photographs and models of the ships that once sailed from here. One room tells the story of the fishermen and their families. The exhibition is free and runs until the end of the year.",
    "Snow fell across the hills during the night, and by morning the roads were white. Schools in the area stayed closed, and many people worked from home. Children spent the day building snowmen and sliding down the slopes. The weather is expected to turn milder by the weekend.",
    "The community garden began as an empty plot behind the church. Ten years ago a few neighbours cleared the weeds and planted beans and potatoes. Now more than thirty families grow food there, and they share whatever they cannot eat. Each spring they hold a seed swap that anyone can join.",
    "A new bus line will connect the hospital with the university from next month. Buses will run every fifteen minutes during the day and every half hour in the evening. The line is meant to help students and staff who now have to change buses twice. Tickets will cost the same as on other city routes.",
]


# -------------------------------------------------------------------------------------------- man pages
_MAN_FONT = re.compile(r"\\f(?:[BIRP]|\(\w\w|\[\w*\])")
_MAN_ESC = [(r"\-", "-"), (r"\(em", "—"), (r"\(en", "–"), (r"\(aq", "'"), (r"\(dq", '"'), (r"\(lq", '"'),
            (r"\(rq", '"'), (r"\(bu", "*"), (r"\e", "\\"), (r"\&", ""), (r"\ ", " "), (r"\~", " "), (r"\:", ""),
            (r"\%", ""), (r"\|", ""), (r"\^", "")]
_FONT_ALT = {".BR", ".RB", ".IR", ".RI", ".BI", ".IB"}


def _man_args(rest: str) -> list[str]:
    return [a[1:-1] if len(a) >= 2 and a[0] == a[-1] == '"' else a for a in re.findall(r'"[^"]*"|\S+', rest)]


def man_description(troff: str) -> list[str]:
    """Paragraphs of the DESCRIPTION section of a man page, as plain single-line text (font macros joined,
    escapes resolved; indented/tagged paragraphs, tables and examples dropped)."""
    paras, cur, in_desc, skip = [], [], False, False

    def flush():
        text = clean_line(" ".join(cur))
        cur.clear()
        if text:
            paras.append(text)

    for line in troff.split("\n"):
        if line.startswith(".SH"):
            flush()
            in_desc = line[3:].strip().strip('"').upper() == "DESCRIPTION"
            skip = False
            continue
        if not in_desc or line.startswith('.\\"') or line.startswith("'\\\""):
            continue
        if line.startswith("."):
            macro, _, rest = line.partition(" ")
            if macro in (".PP", ".P", ".LP", ".SS", ".TP", ".IP", ".RS", ".RE", ".nf", ".fi", ".EX", ".EE", ".TS", ".TE", ".in", ".sp", ".br"):
                flush()
                skip = macro in (".TP", ".IP", ".RS", ".nf", ".EX", ".TS", ".in") or (skip and macro not in (".PP", ".P", ".LP", ".SS", ".RE"))
                continue
            if skip:
                continue
            if macro in (".B", ".I", ".SM", ".SB"):
                cur.append(" ".join(_man_args(rest)))
            elif macro in _FONT_ALT:
                cur.append("".join(_man_args(rest)))
            elif macro in (".UR", ".UE", ".MT", ".ME"):
                continue
            else:
                continue
        elif not skip:
            cur.append(line)
    flush()
    out = []
    for p in paras:
        p = _MAN_FONT.sub("", p)
        for a, b in _MAN_ESC:
            p = p.replace(a, b)
        p = clean_line(p)
        if "\\" in p or "{" in p or "=" in p or len(p.split()) < 8:
            continue
        out.append(p)
    return out


def man_units(man_root: str, max_paras: int = 2) -> list[Unit]:
    """The first paragraphs of DESCRIPTION of every man page under man_root/man<N>/ (gzip troff). Keys
    `man<N>:<page>:<i>`; the split is keyed by the page."""
    out = []
    for sec in sorted(os.listdir(man_root)):
        d = os.path.join(man_root, sec)
        if not sec.startswith("man") or not os.path.isdir(d):
            continue
        for fn in sorted(os.listdir(d)):
            p = os.path.join(d, fn)
            if not fn.endswith(".gz") or os.path.islink(p):
                continue
            with gzip.open(p, "rt", encoding="utf-8", errors="replace") as f:
                text = f.read()
            if text.startswith(".so "):
                continue
            for i, para in enumerate(man_description(text)[:max_paras]):
                out.append(Unit("man", f"{sec}:{fn[:-3]}:{i}", para))
    return out
