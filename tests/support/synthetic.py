"""A deterministic synthetic corpus for scale tests, remixed sentence by sentence from the seed abstracts.

Paper ``i`` depends only on ``(seed, i)``: the first N papers of a larger corpus are exactly the
N-paper corpus, records can be made in any order, and memory stays constant (only the seed
sentence pools are held). Each abstract has as many sentences as a randomly drawn seed abstract
(so lengths follow the seeds' distribution: 3-18 sentences, ~1,400 characters): an opening
sentence drawn from the seeds' first sentences, middle sentences from their middle sentences,
and a closing one from their last sentences. Titles are a unique made-up method name (a
bijective syllable code of ``i``) and the descriptive part of a seed title, e.g.
``"Kavolu: Efficient Streaming Language Models with Attention Sinks"``.

    .venv/bin/python -m tests.support.synthetic 100000 /tmp/syn-100k.jsonl --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.corpus import load_corpus
from rag.settings import REPO_ROOT
from rag.text import split_sentences

SEEDS = REPO_ROOT / "seeds"
ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "ch", "kr", "pl", "st", "tr"]
VOWELS = ["a", "e", "i", "o", "u"]
SYLLABLES = [onset + vowel for onset in ONSETS for vowel in VOWELS]  # 100; consonants-then-one-vowel parse uniquely
NAME_SYLLABLES = 4  # 100**4 = 10**8 distinct names
NAME_SPACE = len(SYLLABLES) ** NAME_SYLLABLES
NAME_STRIDE = 48_271  # coprime with NAME_SPACE: neighbouring papers get unrelated-looking names


@dataclass(frozen=True)
class SentencePools:
    """The seed material: sentences by position, sentences per abstract, title parts."""

    openings: list[str]
    middles: list[str]
    closings: list[str]
    lengths: np.ndarray  # sentences per seed abstract (at least 2)
    title_parts: list[str]


@lru_cache(maxsize=4)
def pools(seeds_dir: Path = SEEDS) -> SentencePools:
    openings, middles, closings, lengths, parts = [], [], [], [], []
    for paper in load_corpus([seeds_dir]).papers:
        sentences = split_sentences(paper.abstract)
        if len(sentences) >= 2:
            openings.append(sentences[0])
            closings.append(sentences[-1])
            middles.extend(sentences[1:-1])
            lengths.append(len(sentences))
        title = paper.title
        parts.append(title.split(":", 1)[1].strip() if ":" in title else title)
    return SentencePools(openings, middles or closings, closings, np.array(lengths), sorted(set(parts)))


def method_name(i: int) -> str:
    """A pronounceable made-up name, different for every ``i`` below 10**8 (a bijection onto 4-syllable words)."""
    code = (i * NAME_STRIDE) % NAME_SPACE
    syllables = []
    for _ in range(NAME_SYLLABLES):
        code, digit = divmod(code, len(SYLLABLES))
        syllables.append(SYLLABLES[digit])
    return "".join(syllables).capitalize()


def synthetic_record(i: int, seed: int = 0, material: SentencePools | None = None, tag: str = "syn") -> dict:
    """Paper number ``i`` of the corpus with this ``seed``, as a JSONL-ready dict."""
    p = material or pools()
    rng = np.random.default_rng([seed, i])
    n = int(p.lengths[rng.integers(len(p.lengths))])
    sentences = [p.openings[rng.integers(len(p.openings))]]
    sentences += [p.middles[j] for j in rng.integers(len(p.middles), size=n - 2)]
    sentences.append(p.closings[rng.integers(len(p.closings))])
    title = f"{method_name(i)}: {p.title_parts[rng.integers(len(p.title_parts))]}"
    day = int(rng.integers(0, 3 * 365))
    published = str(np.datetime64("2022-01-01") + np.timedelta64(day, "D"))
    return {
        "id": f"{tag}-{i:07d}",
        "title": title,
        "abstract": " ".join(sentences),
        "url": f"https://example.org/{tag}/{i}",
        "published": published,
    }


def synthetic_records(n: int, seed: int = 0, start: int = 0, tag: str = "syn") -> Iterator[dict]:
    """Papers ``start .. start+n-1``, streamed."""
    material = pools()
    for i in range(start, start + n):
        yield synthetic_record(i, seed, material, tag)


def write_jsonl(path: Path, n: int, seed: int = 0, start: int = 0, tag: str = "syn") -> Path:
    """Write ``n`` synthetic papers to ``path`` (JSONL), streaming; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8") as out:
        for record in synthetic_records(n, seed, start, tag):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of papers")
    parser.add_argument("out", type=Path, help="JSONL file to write ('-' for stdout)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="index of the first paper")
    args = parser.parse_args(argv)
    if str(args.out) == "-":
        for record in synthetic_records(args.n, args.seed, args.start):
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        write_jsonl(args.out, args.n, args.seed, args.start)


if __name__ == "__main__":
    main()
