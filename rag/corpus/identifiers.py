"""Paper identifiers (DOI, arXiv id, PMID): normalization, the paper id they give, and a canonical link.

Id rule: ``arxiv:<id>`` when an arXiv id is known, else ``doi:<doi>``, else ``pmid:<pmid>``, else the
title hash (`paper_id_from_title`). The arXiv id comes first because a preprint keeps it for life
while a DOI is added only on publication: a BibTeX entry or OpenAlex work of the preprint and the
arXiv snapshot row of the published paper (which carries both) share only the arXiv id. arXiv's own
DOIs (``10.48550/arXiv.<id>``) count as arXiv ids. Limit: a paper known in one file only by its
journal DOI and in another only by its arXiv id stays two papers.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from rag.corpus.paper import clean_text, paper_id_from_title

DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*|doi\s+)", re.IGNORECASE)
DOI = re.compile(r"10\.\d{4,9}/\S+")
ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(.+)")
ARXIV_PREFIX = re.compile(r"^(?:arxiv:\s*|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)", re.IGNORECASE)
NEW_ARXIV = re.compile(r"(\d{4}\.\d{4,5})(?:v\d+)?")
OLD_ARXIV = re.compile(r"([a-z-]+)(?:\.[a-z]{2})?/(\d{7})(?:v\d+)?", re.IGNORECASE)
ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([\w.-]+(?:/\d{7})?)", re.IGNORECASE)
PMID_PREFIX = re.compile(r"^(?:pmid:\s*|https?://(?:pubmed\.ncbi\.nlm\.nih\.gov|www\.ncbi\.nlm\.nih\.gov/pubmed)/)",
                         re.IGNORECASE)


def normalize_doi(value: object) -> str | None:
    """``10.xxxx/suffix`` in lower case, without ``https://doi.org/`` or ``doi:`` prefixes; None if not a DOI."""
    text = clean_text(value or "")
    if DOI_PREFIX.match(text):
        text = unquote(DOI_PREFIX.sub("", text, count=1))
    text = text.strip().rstrip(".,;").casefold()
    return text if DOI.fullmatch(text) else None


def normalize_arxiv_id(value: object) -> str | None:
    """``2401.00001`` or ``hep-th/9901001``: no ``arXiv:`` prefix, URL, version suffix or subject class."""
    text = clean_text(value or "")
    text = ARXIV_PREFIX.sub("", text, count=1).removesuffix(".pdf").strip()
    if match := NEW_ARXIV.fullmatch(text):
        return match.group(1)
    if match := OLD_ARXIV.fullmatch(text):
        return f"{match.group(1).lower()}/{match.group(2)}"
    return None


def arxiv_id_from_doi(doi: str | None) -> str | None:
    """The arXiv id inside one of arXiv's own DOIs (``10.48550/arxiv.2401.00001``), else None."""
    match = ARXIV_DOI.fullmatch(doi or "")
    return normalize_arxiv_id(match.group(1)) if match else None


def arxiv_id_from_url(url: object) -> str | None:
    """The arXiv id of an ``arxiv.org/abs/...`` or ``arxiv.org/pdf/...`` link, else None."""
    match = ARXIV_URL.search(str(url or ""))
    return normalize_arxiv_id(match.group(1)) if match else None


def normalize_pmid(value: object) -> str | None:
    """A PubMed id as digits (``PMID:`` and pubmed link prefixes removed); None if not one."""
    text = PMID_PREFIX.sub("", clean_text(value or ""), count=1).strip().strip("/")
    return str(int(text)) if text.isdigit() and 0 < len(text) <= 9 and int(text) > 0 else None


def scholarly_id(*, title: str, doi: str | None = None, arxiv_id: str | None = None, pmid: str | None = None) -> str:
    """The paper id from already normalized identifiers (see the module docstring for the order)."""
    if arxiv_id:
        return f"arxiv:{arxiv_id}"
    if doi:
        return f"doi:{doi}"
    if pmid:
        return f"pmid:{pmid}"
    return paper_id_from_title(title)


def canonical_url(*, doi: str | None = None, arxiv_id: str | None = None, pmid: str | None = None) -> str | None:
    """A link to the paper: the DOI (version of record), else arXiv's abstract page, else PubMed."""
    if doi and not arxiv_id_from_doi(doi):
        return f"https://doi.org/{doi}"
    if arxiv_id:
        return f"https://arxiv.org/abs/{arxiv_id}"
    if pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
    return None
