"""Researchers' formats at scale: each reader alone (time, peak memory), and a 10,000-row arXiv snapshot
slice streamed through the bulk ingest.

The corpora are synthetic (`benchmarks.synthetic`, seed 0: seed abstracts remixed sentence by sentence),
written in each format as the real exports look: a BibTeX library, a RIS export, arXiv snapshot rows
(hard-wrapped titles and abstracts), OpenAlex works as JSON lines (inverted-index abstracts), a PubMed
XML file (structured abstracts). Each reader runs in a fresh subprocess, so its peak RSS (``VmHWM``) is
its own; running it at two sizes shows whether memory stays flat. The bulk ingest uses the hash
embedding (`HashEmbedding`): the store and the reader are real, the vectors are not MiniLM.

    .venv/bin/python -m benchmarks.formats --sizes 1000 10000            # ~3 min; writes results/formats.json
    .venv/bin/python -m benchmarks.formats --sizes 100000 --formats pubmed --bulk-size 0 --out /tmp/pubmed.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from benchmarks.common import RESULTS, machine, package_versions, proc_status, write_json
from benchmarks.synthetic import synthetic_records
from rag.settings import REPO_ROOT

OUT = RESULTS / "formats.json"
FORMATS = {"bib": "library.bib", "ris": "export.ris", "arxiv": "arxiv.jsonl", "openalex": "works.jsonl",
           "pubmed": "pubmed.xml"}
AUTHORS = [("Ada", "Lovelace"), ("Alan", "Turing"), ("Grace", "Hopper"), ("Kurt", "G\u00f6del")]


def arxiv_id(i: int) -> str:
    return f"{2401 + i // 100000}.{i % 100000:05d}"


def bibtex_entry(i: int, r: dict) -> str:
    authors = " and ".join(f"{last}, {first}" for first, last in AUTHORS[: 1 + i % 4]).replace("\u00f6", '{\\"o}')
    abstract = textwrap.fill(r["abstract"].replace("%", "\\%"), 90, subsequent_indent="    ")
    return (f"@article{{syn{i},\n  title = {{{r['title']}}},\n  author = {{{authors}}},\n"
            f"  journal = {{Journal of Examples}},\n  year = {{{r['published'][:4]}}},\n  doi = {{10.5555/syn.{i}}},\n"
            f"  abstract = {{{abstract}}}\n}}\n\n")


def ris_record(i: int, r: dict) -> str:
    authors = "".join(f"AU  - {last}, {first}\n" for first, last in AUTHORS[: 1 + i % 4])
    return (f"TY  - JOUR\nTI  - {r['title']}\n{authors}PY  - {r['published'][:4]}///\nT2  - Journal of Examples\n"
            f"DO  - 10.5555/syn.{i}\nAB  - {r['abstract']}\nER  - \n\n")


def arxiv_row(i: int, r: dict) -> str:
    names = AUTHORS[: 1 + i % 4]
    return json.dumps({
        "id": arxiv_id(i), "submitter": "Ada Lovelace", "authors": ", ".join(f"{f} {last}" for f, last in names),
        "title": textwrap.fill(r["title"], 72, subsequent_indent="  ", break_on_hyphens=False),
        "comments": "12 pages", "journal-ref": None,
        "doi": None, "report-no": None, "categories": "cs.LG", "license": None,
        "abstract": "  " + textwrap.fill(r["abstract"], 78, break_on_hyphens=False) + "\n",
        "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 00:00:00 GMT"}], "update_date": r["published"],
        "authors_parsed": [[last, first, ""] for first, last in names],
    }) + "\n"


def openalex_work(i: int, r: dict) -> str:
    index: dict[str, list[int]] = {}
    for position, word in enumerate(r["abstract"].split()):
        index.setdefault(word, []).append(position)
    return json.dumps({
        "id": f"https://openalex.org/W{4000000000 + i}", "doi": f"https://doi.org/10.5555/syn.{i}", "title": r["title"],
        "display_name": r["title"], "publication_year": int(r["published"][:4]),
        "primary_location": {"source": {"display_name": "Journal of Examples"}},
        "authorships": [{"author": {"display_name": f"{f} {last}"}} for f, last in AUTHORS[: 1 + i % 4]],
        "abstract_inverted_index": index,
    }, ensure_ascii=False) + "\n"


def pubmed_article(i: int, r: dict) -> str:
    sentences = r["abstract"].split(". ")
    half = max(1, len(sentences) // 2)
    parts = [("BACKGROUND", ". ".join(sentences[:half])), ("RESULTS", ". ".join(sentences[half:]))]
    abstract = "".join(f'<AbstractText Label="{label}">{escape(text)}</AbstractText>' for label, text in parts if text)
    authors = "".join(f"<Author><LastName>{last}</LastName><ForeName>{first}</ForeName></Author>"
                      for first, last in AUTHORS[: 1 + i % 4])
    return (f"<PubmedArticle><MedlineCitation><PMID>{30000000 + i}</PMID><Article><Journal><JournalIssue><PubDate>"
            f"<Year>{r['published'][:4]}</Year></PubDate></JournalIssue><Title>Journal of Examples</Title></Journal>"
            f"<ArticleTitle>{escape(r['title'])}</ArticleTitle><Abstract>{abstract}</Abstract>"
            f"<AuthorList>{authors}</AuthorList></Article></MedlineCitation><PubmedData><ArticleIdList>"
            f'<ArticleId IdType="doi">10.5555/syn.{i}</ArticleId></ArticleIdList></PubmedData></PubmedArticle>\n')


WRITERS = {"bib": bibtex_entry, "ris": ris_record, "arxiv": arxiv_row, "openalex": openalex_work,
           "pubmed": pubmed_article}


def write_corpus(fmt: str, n: int, folder: Path) -> Path:
    """``n`` synthetic papers in format ``fmt`` under ``folder``, streamed to disk."""
    path = folder / f"{n}-{FORMATS[fmt]}"
    with path.open("w", encoding="utf-8") as out:
        if fmt == "pubmed":
            out.write('<?xml version="1.0" ?>\n<PubmedArticleSet>\n')
        for i, record in enumerate(synthetic_records(n)):
            out.write(WRITERS[fmt](i, record))
        if fmt == "pubmed":
            out.write("</PubmedArticleSet>\n")
    return path


def read_only(path: Path) -> dict[str, Any]:
    """Run in a subprocess: every record of ``path`` through its reader; counts, time, peak RSS."""
    from rag.corpus import BadRecord, iter_records

    with contextlib.suppress(OSError):  # reset the peak RSS to the current RSS: the peak is then the reader's
        Path("/proc/self/clear_refs").write_text("5")
    base = proc_status()
    started, cpu = time.perf_counter(), time.process_time()
    papers = bad = 0
    for item in iter_records([path]):
        if isinstance(item, BadRecord):
            bad += 1
        else:
            papers += 1
    wall = time.perf_counter() - started
    return {"papers": papers, "bad": bad, "wall_s": round(wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
            "papers_per_s": round(papers / wall, 1), "rss_before_mb": round(base["VmRSS"] / 2**20, 1),
            "peak_rss_mb": round(proc_status()["VmHWM"] / 2**20, 1),
            "peak_over_start_mb": round((proc_status()["VmHWM"] - base["VmRSS"]) / 2**20, 1)}


def bulk(path: Path, work: Path) -> dict[str, Any]:
    """Run in a subprocess: `bulk_ingest` of ``path`` into an embedded store with hash vectors."""
    from benchmarks.common import HashEmbedding
    from rag.index import PaperIndex
    from rag.index.bulk import bulk_ingest
    from rag.settings import Settings

    settings = Settings(data_dir=work / "data", seeds_dir=work / "no-seeds")
    with PaperIndex(settings, HashEmbedding(), "formats-bulk") as index:
        report = bulk_ingest(index, [path], progress=False)
        stored = index.paper_count()
    return {"records": report.records, "added": report.ingest.added, "chunks": report.ingest.chunks,
            "bad": len(report.ingest.bad), "stored": stored, "survey_s": round(report.survey_seconds, 1),
            "write_s": round(report.write_seconds, 1), "bm25_s": round(report.bm25_seconds, 1),
            "papers_per_s": round(report.ingest.added / max(report.write_seconds, 1e-9), 1),
            "peak_rss_mb": round(proc_status()["VmHWM"] / 2**20, 1)}


def in_subprocess(function: str, *args: str) -> dict[str, Any]:
    code = (f"import json, sys; from pathlib import Path; from benchmarks.formats import {function}; "
            f"print(json.dumps({function}(*map(Path, sys.argv[1:]))))")
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--formats", nargs="+", choices=list(FORMATS), default=list(FORMATS))
    parser.add_argument("--bulk-size", type=int, default=10000, help="arXiv rows to bulk-ingest (0: none)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": machine(), "readers": [], "bulk": None, "packages": package_versions(
        "bibtexparser", "rispy", "lxml", "pdfminer.six", "chromadb")}
    with tempfile.TemporaryDirectory(prefix="rag-formats-") as tmp:
        work = Path(tmp)
        for n in args.sizes:
            for fmt in args.formats:
                path = write_corpus(fmt, n, work)
                row = {"format": fmt, "n": n, "file_mb": round(path.stat().st_size / 2**20, 1),
                       **in_subprocess("read_only", str(path))}
                print(json.dumps(row), flush=True)
                results["readers"].append(row)
                path.unlink()
        if args.bulk_size:
            path = write_corpus("arxiv", args.bulk_size, work)
            results["bulk"] = {"format": "arxiv", "n": args.bulk_size, **in_subprocess("bulk", str(path), str(work))}
            print(json.dumps(results["bulk"]), flush=True)
    write_json(args.out, results)


if __name__ == "__main__":
    main()
