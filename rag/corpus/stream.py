"""Corpora too large to hold in memory: one validating pass, then papers streamed in file order.

`load_corpus` keeps every paper in memory to merge duplicates. `CorpusStream` keeps only the set
of paper ids seen (about 100 bytes per paper) and, for a paper met again in another file, the
extra source file names; the first occurrence's text wins, as in `load_corpus`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.corpus import DEFAULT_LIMITS, BadRecord, Paper, iter_records
from rag.errors import CorpusError
from rag.settings import CorpusSettings


@dataclass
class CorpusSurvey:
    """What a first pass over the files found: how many records, and the bad ones."""

    records: int = 0
    bad: list[BadRecord] = field(default_factory=list)


def survey(paths: Iterable[Path], limits: CorpusSettings = DEFAULT_LIMITS) -> CorpusSurvey:
    """Read every record once (validating, counting) without keeping any: the total for a progress bar."""
    found = CorpusSurvey()
    for item in iter_records(paths, limits=limits):
        if isinstance(item, BadRecord):
            found.bad.append(item)
        else:
            found.records += 1
    return found


@dataclass
class CorpusStream:
    """Papers of ``paths``, each id once, streamed; iterate once.

    ``extra_sources`` collects, for a paper seen again later, the source files of its repeats
    (to be added to the stored paper after ingestion); ``records`` and ``bad`` count as you go.
    """

    paths: list[Path]
    limits: CorpusSettings = field(default_factory=lambda: DEFAULT_LIMITS)
    records: int = 0
    unique: int = 0
    bad: list[BadRecord] = field(default_factory=list)
    extra_sources: dict[str, list[str]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def __iter__(self) -> Iterator[Paper]:
        for item in iter_records(self.paths, limits=self.limits):
            if isinstance(item, BadRecord):
                self.bad.append(item)
                continue
            self.records += 1
            if item.id in self._seen:
                extra = self.extra_sources.setdefault(item.id, [])
                extra.extend(s for s in item.sources if s not in extra)
                continue
            self._seen.add(item.id)
            self.unique += 1
            yield item

    @property
    def duplicates(self) -> int:
        return self.records - self.unique


def stream_corpus(paths: Iterable[Path], *, skip_bad: bool = False,
                  limits: CorpusSettings = DEFAULT_LIMITS) -> tuple[CorpusStream, CorpusSurvey]:
    """Survey the files (raising `CorpusError` on bad records unless ``skip_bad``), then a stream of their papers.

    As with `load_corpus`, nothing is written when a bad record aborts: the survey runs first.
    """
    paths = list(map(Path, paths))
    found = survey(paths, limits)
    if found.bad and not skip_bad:
        raise CorpusError(found.bad)
    return CorpusStream(paths, limits), found
