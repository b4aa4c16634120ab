"""Cloze questions over prose (issues #13, #16): a sentence asked back with one name or number replaced by a question
word, its answer the replaced words, its document the sentence with its neighbours hidden among other passages
(joined with spaces, as Concert joins retrieved passages for the user model). They teach a small model to find the
passage that shares the question's words and copy what stands where the question word is — relations and wordings
the templated QA of build_grounded.py never has.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

VERSION = 1  # part of the causal LM's tokenized-cache key: bump when the records change
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# A name (a run of capitalised words, with a title before it) or a number, as whole words.
CLOZE_SPAN = re.compile(r"(?<![\w-])(?:(?:(?:Mr|Mrs|Dr|St)\. |Miss )?[A-Z][a-z]+(?: [A-Z][a-z]+)*|\d[\d,.]*\d|\d)(?![\w-])")
TITLES = ("Mr. ", "Mrs. ", "Miss ", "Dr. ")


def cloze_question(sentence: str, rng) -> Optional[Tuple[str, str]]:
    """(question, answer): the sentence with one name or number (not its first word) replaced by a question word;
    None when it has none or is too short to ask. `rng`: a numpy Generator."""
    spans = [m for m in CLOZE_SPAN.finditer(sentence) if m.start() > 0 and m.group() != "I"]
    if not spans or len(sentence.split()) < 5:
        return None
    m = spans[int(rng.integers(0, len(spans)))]
    answer = m.group()
    if answer[0].isdigit():
        wh = "how many" if re.match(r"\s+[a-z]", sentence[m.end():]) else "what"
    else:
        wh = "who" if answer.startswith(TITLES) else "what"
    q = (sentence[: m.start()] + wh + sentence[m.end():]).strip().rstrip(".!;:,")
    return q + "?", answer


def cloze_records(texts: List[str], rng, n: int) -> List[Dict[str, str]]:
    """Up to n {"task": "qa", "document", "question", "answer"} records over `texts` (each text asked at most once):
    the asked sentence with its neighbours among 0–3 other texts (each cut to 300 characters)."""
    out: List[Dict[str, str]] = []
    if not texts:
        return out
    for i in rng.permutation(len(texts)).tolist():
        if len(out) >= n:
            break
        sents = [x for x in SENTENCE_END.split(texts[i].strip()) if x]
        j = int(rng.integers(0, len(sents)))
        qa = cloze_question(sents[j], rng)
        if qa is None:
            continue
        own = " ".join(sents[max(0, j - 1): j + 2])
        others = [texts[int(k)][:300] for k in rng.integers(0, len(texts), int(rng.integers(0, 4)))]
        parts = others + [own]
        rng.shuffle(parts)
        out.append({"task": "qa", "document": " ".join(parts), "question": qa[0], "answer": qa[1]})
    return out
