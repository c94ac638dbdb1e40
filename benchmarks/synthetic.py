"""Generate synthetic collections in the house format, for benchmarks and tests.

Questions belong to planted topics: a topic has its own vocabulary, so questions of one
topic share words, while distractor words are shared across topics. Sizes, title styles
(folded or plain), 0-5 related links, missing `score`, LaTeX and code in answers follow
what real collections show. Deterministic for a given seed.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

from qtkit.slugs import slug

SUBJECTS = [
    "Computer Science", "Mathematics", "Physics", "Economics", "History of the World",
    "Sociology", "Engineering", "Education Studies", "Digital media", "Others",
]
_SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "qui", "bar", "zel", "dor", "fen", "gal",
              "hu", "jin", "pra", "sto", "tri", "ux", "wen", "yor", "nal", "cep", "mor", "pli"]
_COMMON = ("the of and to in is for how what does why which can with on by an as are this "
           "from that be or when used between process role effect method").split()
_STARTS = ["What is", "How does", "Why does", "How can", "What are the effects of", "Explain"]


@dataclass
class Topic:
    subject: str
    words: list[str]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def make_topics(count: int, seed: int = 0, words_per_topic: int = 25) -> list[Topic]:
    """Topics with disjoint vocabularies, spread over the subjects."""
    rng = random.Random(seed)
    seen: set[str] = set()
    topics = []
    for i in range(count):
        words: list[str] = []
        while len(words) < words_per_topic:
            w = _word(rng)
            if w not in seen:
                seen.add(w)
                words.append(w)
        topics.append(Topic(SUBJECTS[i % len(SUBJECTS)], words))
    return topics


def question_text(rng: random.Random, topic: Topic, distractors: list[str]) -> tuple[str, str, str, str]:
    """Title, answer, description and keywords for one question of `topic`."""
    core = rng.sample(topic.words, 4)
    title = f"{rng.choice(_STARTS)} {core[0]} {rng.choice(_COMMON)} {core[1]} in {core[2]}?"
    sentences = []
    for _ in range(rng.randint(18, 40)):
        words = rng.sample(topic.words, 5) + rng.sample(_COMMON, 6) + rng.sample(distractors, 1)
        rng.shuffle(words)
        sentences.append(" ".join(words).capitalize() + ".")
    paras = [" ".join(sentences[i : i + 6]) for i in range(0, len(sentences), 6)]
    if rng.random() < 0.3:
        paras.insert(1, f"$$ {core[0]} = \\frac{{{core[1]}}}{{\\nabla {core[2]}}} \\neq 0 $$")
    if rng.random() < 0.2:
        paras.insert(1, f"```python\\nprint('{core[3]}')\\n```")
    answer = "\\n\\n".join(paras)
    description = f"This content explains {core[0]} and {core[1]} with respect to {core[2]}."
    keywords = ", ".join(rng.sample(topic.words, 8))
    return title, answer, description, keywords


def render_question(
    qid: int, title: str, subject: str, answer: str, description: str, keywords: str,
    related: list[tuple[int, str, str]], folded: bool, score: bool = True, date: str = "2025-01-15",
) -> str:
    """One question file in the house format."""
    def scalar(key: str, value: str, indent: int = 0) -> str:
        pad = " " * indent
        return f"{pad}{key}: >-\n{pad}    {value}\n" if folded else f"{pad}{key}: {value}\n"

    s = slug(title)
    text = (
        f"---\n_schema: default\nid: {qid}\ndate: {date}\n"
        + scalar("title", title) + scalar("article_title", title)
        + "date_format: MMM DD, YYYY\npost_on_text: Posted on\n"
        + f"seo:\n  title: QuickTakes | {subject}\n  page_description: >-\n    {description}\n"
        + f"  page_keywords: >-\n    {keywords}\n"
        + f"author: QuickTakes\nquestion: >-\n    {title}\nanswer: >-\n    {answer}\n"
        + f"subject: {subject}\nfile_name: {s}.md\nurl: /learn/{slug(subject)}/questions/{s}\n"
        + ("score: -1.0\n" if score else "")
    )
    for n, (rid, rtitle, rsubject) in enumerate(related, 1):
        text += f"related_article{n}:\n    id: {rid}\n" + scalar("title", rtitle, 4)
        text += f"    subject: {rsubject}\n    url: /learn/{slug(rsubject)}/questions/{slug(rtitle)}\n"
    return text + "---\n\n&nbsp;"


def generate(dest: str | Path, n: int, seed: int = 0, topics: int | None = None, start_id: int = 64,
             topic_seed: int | None = None) -> dict[int, int]:
    """Write `n` question files named `<id>.md` into `dest`; return {id: topic index}.

    `topic_seed` (default: `seed`) fixes the topics' vocabularies, so questions added
    later with another `seed` can join the topics of an existing collection."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    topic_list = make_topics(topics or max(10, n // 40), seed if topic_seed is None else topic_seed)
    distractors = [_word(rng) for _ in range(200)]
    qid = start_id
    made: list[tuple[int, str, str]] = []
    truth: dict[int, int] = {}
    for _ in range(n):
        qid += rng.choice((1, 1, 1, 2, 3))
        t = rng.randrange(len(topic_list))
        topic = topic_list[t]
        title, answer, desc, kw = question_text(rng, topic, distractors)
        title = f"{title[:-1]} ({qid})?"  # titles unique across the collection
        related = rng.sample(made[-50:], min(len(made), rng.randint(0, 5)))
        body = render_question(qid, title, topic.subject, answer, desc, kw, related,
                               folded=rng.random() < 0.7, score=rng.random() < 0.95)
        with open(os.path.join(dest, f"{qid}.md"), "w", encoding="utf-8", newline="") as fh:
            fh.write(body)
        made.append((qid, title, topic.subject))
        truth[qid] = t
    return truth
