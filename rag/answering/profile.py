"""What a question asks, worked out once: the one place where questions are recognised.

`profile_question` turns a cleaned question (and the chat before it) into a `QuestionProfile`: the asked question
and the retrieval query kept apart, its kinds (a lookup, asks for a figure, which paper, which papers, a comparison,
yes or no), its parts, the names and figures it contains, the two sides of a comparison, the claim of a yes/no
question and, for a follow-up, the papers of the previous answer. Every later step (focus, prompt fitting, the list
judge, the citation check, the answer's grade) reads the profile, never the raw string.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from rag.answering.question import Turn, truncate
from rag.text import content_terms


class Kind(StrEnum):
    """What kind of answer a question wants (a question may be of several kinds)."""

    LOOKUP = "lookup"  # facts from one paper
    FIGURE = "figure"  # a number: how much, how many, what accuracy ...
    NAME = "name"  # a name: what is it called, under what name ...
    WHICH_PAPER = "which-paper"  # one paper, named
    WHICH_PAPERS = "which-papers"  # every matching paper
    COMPARISON = "comparison"  # two things set side by side
    YES_NO = "yes-no"  # a claim to confirm or deny


# "How much faster ...?", "What top-1 accuracy ...?", "By how many points ...?" (not "inspired by how brains ..."):
# the answer is a figure
ASKS_FOR_FIGURE = re.compile(
    r"\bhow\s+(?:much|many|fast|large|big|long|often)\b|\bby\s+how\s+(?:much|many|far|large|wide|big)\b"
    r"|\b(?:what|which)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:scores?|accuracy|error|perplexity|speed|size|rates?|ranks?|values?|numbers?|percentage|fid|bleu|auroc|m?ap"
    r"|miou|mrr|latency|reduction|improvement|gains?)\b", re.IGNORECASE)
# "What is it called?", "under what name?", "what is its name?": the answer is a name (a paper's own, often)
ASKS_FOR_NAME = re.compile(r"\b(?:called|named)\s*(?:[?,;]|$)|\bwhat\s+name\b|\bwhat\s+(?:is|was|are|were)\s+"
                           r"(?:its|their|the)\s+names?\b", re.IGNORECASE)
# "In which papers ...?": a preposition before the question word
AMONG = r"in|among|from|across"
PAPER_NOUNS = r"(?:papers?|works?|stud(?:y|ies)|articles?|publications?|surveys?|reviews?|preprints?)"
# "Which paper ...?", "What recent works ...?", "Which survey ...?", "What's the work that ...?", "Is there a paper
# that ...?": the answer names papers, whatever else the question mentions
ASKS_FOR_PAPERS = re.compile(rf"^\W*(?:(?:and|so|then|also)\s+)?(?:(?:{AMONG})\s+)?(?:(?:which|what)\s+"
                             rf"(?:[\w-]+\s+){{0,3}}?{PAPER_NOUNS}\b(?!['’])|(?:(?:which|what)(?:['’]s|\s+is|\s+was)"
                             rf"|is\s+there)\s+(?:[\w-]+\s+){{0,3}}?{PAPER_NOUNS}\s+(?:that|which|where|whose)\b)",
                             re.IGNORECASE)
# "Which method estimates ...?", "Which neural PDE solver swaps ...?", "Which pruning method for lightweight SR nets
# trains ...?", "Which architecture, inspired by ..., keeps ...?": a work asked for by what it does, answered by its
# name (not "Which optimizer does it use?", "Which model size ...?"). The verb is a word ending in -s or -ed; a
# description between the noun and the verb is a phrase opening with a preposition and two to ten words long, or
# one set off by commas, and after one the verb is in lower case and followed by no comma, preposition, auxiliary
# or other such word ("worker updates in", "SR networks trains", "LLMs comes" are not the verb).
WORK_NOUNS = (r"(?:method|technique|approach|framework|model|solver|system|algorithm|architecture|optimi[sz]er|network"
              r"|estimator|variant|scheme|procedure|strategy|recipe|library|tool|generator|detector|encoder|pipeline"
              r"|rule|loss|objective|mechanism|regulari[sz]er|sampler|attack|defen[cs]e)")
AUXILIARY_WORDS = r"(?:does|did|do|is|was|are|were|has|have|had|can|could|would|will|should|may|might|must)"
LINKING_WORDS = r"(?:in|of|for|on|to|with|by|from|across|at|into|over|under|and|or|as|than|via)"
ASKS_FOR_WORK = re.compile(
    rf"^\W*(?:which|what)\s+(?:[\w-]+\s+){{0,4}}?{WORK_NOUNS}"
    rf"(?P<described>\s*,[^,?;]{{1,200}},|\s+(?={LINKING_WORDS}\b)(?:(?!{AUXILIARY_WORDS}\b)[\w()/-]+\s+){{2,10}}?)?"
    rf"\s*(?:(?:that|which)\s+)?(?!{AUXILIARY_WORDS}\b)(?(described)(?-i:(?=[a-z])))(?P<verb>[a-z-]+(?:s|ed))\b"
    rf"(?(described)(?!\s*,|\s+(?:{LINKING_WORDS}|{AUXILIARY_WORDS}|(?-i:[a-z][a-z-]*s))\b))",
    re.IGNORECASE)
# a word, hyphens and all ("GPT-4", "FFT-computed")
WORD_WITH_HYPHENS = re.compile(r"[^\W_](?:[\w-]*[^\W_])?")
# a capitalised word inside a sentence ("... is Sophia, the ..."): a name, unless it opens the sentence
INNER_CAPITALISED = re.compile(r"(?<![.?!:]\s)(?<=\s)[A-Z][\w-]*\w")
# "SVD-based", "FFT-computed", "GPT-2-based": a lower-case word joined after a name
JOINED_WORD = re.compile(r"-[a-z].*")
# "a Barlow Twins style objective", "MoE-like layers": names the question likens something to, not what it is about
LIKENESS = re.compile(r"(?:^|-)(?:style|like|type|inspired|flavou?red)\W*$")
# "List", "find", "give me", "I need", "we're looking for": a request for papers instead of a question
REQUEST = (r"(?:list|name|find|(?:please\s+)?(?:give|show|tell)\s+me|(?:i|we)(?:\s+(?:need|want)|(?:\s+(?:am|are)|['’]"
           r"(?:m|re))\s+(?:looking|searching)\s+for))")
# "Which papers ...?", "What recent works ...", "List the studies ...", "I need every paper ...", "Which abstracts
# ...?": a question whose answer is several papers
ASKS_FOR_SEVERAL = re.compile(
    rf"^\W*(?:(?:and|so|then|also)\s+)?(?:(?P<preposition>{AMONG})\s+(?=which|what))?"
    rf"(?:(?:which|what)(?:\s+(?:are|were))?|are\s+there|{REQUEST})(?:\s+(?:all|the|every|each|any))*\s+"
    r"(?P<kind>(?:(?!(?:paper|work|study|article|publication|abstract|of)\b)[\w-]+\s+){0,3}?"  # "recent ..."
    r"(?:papers|works|studies|articles|publications|surveys|reviews|abstracts"
    r"|(?:(?<=every\s)|(?<=each\s))(?:paper|work|study|article|abstract)))\b",  # "every paper": the plural's sense
    re.IGNORECASE,
)
# "every paper" -> "papers", "each study" -> "studies"; "abstracts" -> "papers" (the judge asks about a paper)
LIST_NOUN_FORMS = (
    (re.compile(r"\b(paper|work|article)$|\babstracts?$", re.IGNORECASE), lambda m: f"{m[1] or 'paper'}s"),
    (re.compile(r"\bstudy$", re.IGNORECASE), lambda m: "studies"),
)
# "Wich papers ...?": a misspelt "which", read as one
MISSPELT_WHICH = re.compile(r"\b(?:wich|whcih|whihc|wihch|whic|whch)\b", re.IGNORECASE)
# "In which papers does X ...?" -> "in which X ...": the auxiliary a question puts before its subject
AUXILIARY = re.compile(r"^(?:does|do|did|is|are|was|were)\s+", re.IGNORECASE)
# "Which of them ...?", "And which of these also ...?": a follow-up that narrows the previous list
NARROWS = re.compile(r"^\W*(?:(?:and|so|then|also|now)\s+)?(?:which|what)\s+(?:ones?\s+)?of\s+(?:(?:these|those|the)"
                     r"\s+(?:papers|works|studies|abstracts)|them|these|those)\b", re.IGNORECASE)
# the verb after "which paper": "Which paper traces ...?" -> "traces"
WHICH_PAPER_VERB = re.compile(r"\s*(?:which|what)\s+papers?\s+(\w+)", re.IGNORECASE)
# "What does it use?", "the paper's ...": a question about one paper already named (not a list of methods)
POINTS_TO_ONE = re.compile(r"\b(?:it|its|this|that|the (?:paper|method|model|approach|work|study))\b", re.IGNORECASE)
# "Is it true that ...?": a claim to confirm or deny, whatever words it holds
IS_IT_TRUE = re.compile(r"^\W*(?:is\s+it\s+(?:true|the\s+case|correct)|do(?:es)?\s+(?:the\s+)?(?:papers?|abstracts?|"
                        r"collection|evidence)\s+(?:say|show|support))\s+that\s+(?P<claim>.+)$",
                        re.IGNORECASE | re.DOTALL)
# "Does X ...?", "Can Y ...?": a question answered by yes or no, unless it asks what, which or how
YES_NO = re.compile(r"^\W*(?:is|are|was|were|does|do|did|can|could|has|have|had|will|would|should)\s+\S.*$",
                    re.IGNORECASE | re.DOTALL)
FOLLOW_UP_WORDS = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|the (paper|method|model|approach|authors?|study))\b",
    re.IGNORECASE,
)
# where a two-part question's second part starts: ", and which ...", "; what ...", " and how many ..."
# "on which ...", "with how many ...": a question word may follow a preposition
PREPOSITION_WORDS = r"(?:in|on|for|from|by|with|at|to|of|under)"
PREPOSITION = rf"(?:{PREPOSITION_WORDS}\s+)?"
PART_BREAK = re.compile(rf"(?:[.;:?]|,?\s+and|,?\s+but)\s+(?={PREPOSITION}"
                        r"(?:what|which|how|who|where|when|why|does|do|is|are|did|can)\b)", re.IGNORECASE)
# a piece of a question that asks something: it opens with a question word or a request, a sentence or clause of it
# does ("... experiences. Besides MNIST, on which benchmark ...", "In the model that ..., how many ..."), or it ends
# with "?"
ASKS = re.compile(rf"^\W*(?:(?:and|but|so|also|then)\s+)?{PREPOSITION}(?:what|which|how|who|whom|whose|where|when|why"
                  r"|whether|is|are|was|were|does|do|did|can|could|has|have|name|list|compare|describe|explain|give)\b"
                  rf"|\?\s*$|(?:[.;:?]|,)\s+{PREPOSITION}(?:what|which|how|who|where|when|why)\b", re.IGNORECASE)
# where what a part asks begins: a question word at its start, after punctuation, or after "and" / "but"
QUESTION_WORD = re.compile(r"(?:^\W*|(?<=[.,;:?)\-–—]\s)|(?<=\s(?:and|but)\s))"
                           r"(?:what|which|how|who|where|when|why)\b", re.IGNORECASE)
# "Which PEFT methods ...?": plural nouns that, in a question not pointing back at a paper, ask for a list of papers
LIST_NOUNS = re.compile(r"^\W*(?:(?:and|so|then|also)\s+)?(?:which|what|(?:list|name|find)(?:\s+(?:all|the|every))*)"
                        r"\s+(?P<kind>(?:[\w-]+\s+){0,4}?(?:methods|approaches|techniques|frameworks))\b",
                        re.IGNORECASE)
# the two sides of a comparison
SIDE_TEXT = r"(?:[^()?;:.]|\.(?!\s)|\([^()]*\))+?"  # a side's words within its sentence, a bracketed aside whole
# "two papers", "both small-LM reports", "two weight-only quantizers": two works, not "two ways" of one (nor "both
# lower and higher layers")
TWO_OF = r"\b(?:two|both)\s+(?:(?!(?:and|or)\b)[\w-]+\s+){0,3}?"  # "two", "both" and up to three words, no "and"
TWO_WORKS = (rf"{TWO_OF}(?:papers|works|studies|reports|articles|methods|approaches|proposals|models|systems|"
             r"techniques|frameworks|[\w-]+(?:ers|ors))\b")
SIDES = (
    # "compare X with Y", then "X to Y", then "X and Y": X may hold a "to" or an "and" of its own
    *(re.compile(rf"\bcompare\s+(?P<a>.+?)\s+(?:{joint})\s+(?P<b>.+?)(?:[:?;]|,\s*(?:what|which|how|in)\b|$)",
                 re.IGNORECASE) for joint in (r"with|against|versus|vs\.?", "to", "and")),
    re.compile(r"^\W*(?:how|in\s+what\s+way)\s+(?:do|does|did)\s+(?P<a>.+?)\s+(?:and|differ\s+from)\s+(?P<b>.+?)"
               r"\s+(?:differ|compare|contrast)\b", re.IGNORECASE),
    re.compile(r"^\W*how\s+(?:do|does)\s+(?P<a>.+?)\s+differ\s+from\s+(?P<b>.+?)(?:[:?;]|,|\s+in\b|$)",
               re.IGNORECASE),
    re.compile(r"^\W*(?P<a>.+?)\s+(?:versus|vs\.?)\s+(?P<b>.+?)(?:[:?;]|,|\.\s|$)", re.IGNORECASE),
    # "X and Y both ...", not "In the model whose encoder and decoder are both ..."
    re.compile(rf"^\W*(?!{PREPOSITION_WORDS}\b)(?P<a>[^,;:?]+?)\s+and\s+(?P<b>[^,;:?]+?)\s+both\b", re.IGNORECASE),
    # "FastRP compared with the paper that ...: ...?" (a name of a few words, not "X beats Y compared with Z")
    re.compile(r"^\W*(?P<a>(?:[\w().'-]+\s+){0,3}?[\w().'-]+)\s+compared\s+(?:with|to|against)\s+(?P<b>[^;:?]+?)"
               r"(?:[;:?]|$)", re.IGNORECASE),
    re.compile(r"\bone\s+(?P<a>[^;]+?)[;,]\s*(?:while\s+|and\s+|whereas\s+)?the\s+other\s+(?P<b>[^.?;]+)",
               re.IGNORECASE),
    re.compile(r"\bthe\s+(?:work|paper|study|method|approach|model)\s+(?:that|which)\s+(?P<a>.+?),?\s+(?:or|and)\s+"
               r"the\s+(?:work|paper|study|method|approach|model)\s+(?:that|which)\s+(?P<b>[^.?;]+)", re.IGNORECASE),
    # "Which reports the higher score: X, or Y?", then "Two papers ...: X, and Y." or "Both ...: X and Y." (a
    # bracket is one piece: its "and" or "or" does not part the sides); a comma before the joint is preferred, as X
    # may hold "and" or "or"
    *(re.compile(rf"{opening}[^:?.]*:\s*(?P<a>{SIDE_TEXT}){joint}(?P<b>{SIDE_TEXT})(?:[?;:]|\.(?:\s|$)|$)",
                 re.IGNORECASE)
      for opening, conjunction in ((r"\bwhich\b", "or"), (TWO_WORKS, "and"), (r"^\W*both\b", "and"))
      for joint in (rf",\s+{conjunction}\s+", rf"\s+{conjunction}\s+")),
)
MIN_SIDE_TERMS = 1
# a question about two works: "Both ...", "two papers", "how do the two ...?" (not "the two teacher models" of one
# paper); a word of comparison alone is not one ("the baseline it compares with", "in both directions",
# "finite-difference")
COMPARES = re.compile(rf"^\W*both\b|{TWO_OF}(?:papers|works|studies|reports|articles|proposals|methods|approaches)\b"
                      r"|\bhow\s+do\s+(?:the|these|those)\s+two\b", re.IGNORECASE)
# "what does the first ..., and what does the second ...?" (not "the first stage ... the second stage" of one work)
FIRST = re.compile(r"\bthe\s+(?:first|former)\s+(\w+)", re.IGNORECASE)
SECOND = re.compile(r"\bthe\s+(?:second|latter|other)\s+(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class Part:
    """One part of a question ("how many X" of "how many X, and which Y?") and whether it asks for a number."""

    text: str
    needs_figure: bool

    @property
    def asked(self) -> str:
        """What the part asks, without the description before it: "In the model that ..., how many clusters did
        its teacher have?" -> "how many clusters did its teacher have?"."""
        starts = [m.start() for m in QUESTION_WORD.finditer(self.text)]
        return self.text[starts[-1]:] if starts else self.text


@dataclass(frozen=True)
class QuestionProfile:
    """A question as every step after the request sees it (see the module docstring)."""

    asked: str  # the question as cleaned, what the answer must answer
    query: str  # the retrieval query: for a follow-up, joined to the question before it
    kinds: frozenset[Kind]
    parts: tuple[Part, ...]
    names: frozenset[str] = frozenset()  # words with a capital after their first letter (LoRA, GPT-4), as written
    subject_names: tuple[tuple[str, str], ...] = ()  # capitalised words of the query it is about, each with its name
    figures: frozenset[str] = frozenset()  # numbers written in the question
    sides: tuple[str, str] | None = None  # a comparison's two sides, as the question describes them
    claim: str | None = None  # a yes/no question's statement ("Is it true that X?" -> "X")
    follow_up: bool = False  # joined to the question before it for retrieval
    narrows: bool = False  # "which of them ...": a follow-up choosing among the previous answer's papers
    previous_papers: tuple[str, ...] = ()  # paper ids the previous answer cited (for a follow-up)
    terms: frozenset[str] = field(default=frozenset(), repr=False)  # content terms of the asked question

    def is_(self, kind: Kind) -> bool:
        return kind in self.kinds

    @property
    def lists_papers(self) -> bool:
        """The answer is every matching paper ("Which papers ...?", "Which of them ...?")."""
        return Kind.WHICH_PAPERS in self.kinds

    @property
    def names_a_paper(self) -> bool:
        """The answer names one or more papers (which paper, which papers)."""
        return bool({Kind.WHICH_PAPER, Kind.WHICH_PAPERS} & self.kinds)

    @property
    def about_several(self) -> bool:
        """The answer draws on several papers: a list, or a comparison."""
        return bool({Kind.WHICH_PAPERS, Kind.COMPARISON} & self.kinds)

    @property
    def wants_figure(self) -> bool:
        """Some part asks for a number (shortened abstracts then keep their sentences with figures first)."""
        return Kind.FIGURE in self.kinds

    @property
    def needs_figure(self) -> bool:
        """An answer must state a number: a part asks for one, and the question does not ask for papers ("Which
        paper reports how much ...?" is answered by a paper)."""
        return self.wants_figure and not self.names_a_paper

    @property
    def figure_parts(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.needs_figure) if self.needs_figure else ()

    @property
    def which_paper_verb(self) -> str | None:
        """The verb after "which paper(s)" or the work asked for: "Which paper traces ...?" -> "traces", "Which
        solver swaps ...?" -> "swaps"."""
        if match := WHICH_PAPER_VERB.match(self.asked):
            return match.group(1)
        match = ASKS_FOR_WORK.match(self.asked) if self.is_(Kind.WHICH_PAPER) else None
        return match.group("verb") if match else None

    @property
    def condition(self) -> str | None:
        """What a listed paper must do: "Which recent papers use X?" -> ("recent papers", "use X")."""
        asked = ASKS_FOR_SEVERAL.search(self.asked) or LIST_NOUNS.search(self.asked) or NARROWS.search(self.asked)
        if not asked:
            return None
        rest = self.asked[asked.end():].strip(" ,;:?.!")
        if rest and (preposition := asked.groupdict().get("preposition")):  # "In which papers does X ...?"
            rest = f"{preposition.lower()} which {AUXILIARY.sub('', rest)}"
        return rest or None

    @property
    def list_noun(self) -> str:
        """The noun a list question asks for ("recent papers"); "papers" for "which of them"."""
        asked = ASKS_FOR_SEVERAL.search(self.asked) or LIST_NOUNS.search(self.asked)
        kind = asked.group("kind") if asked else "papers"
        for form, plural in LIST_NOUN_FORMS:
            kind = form.sub(plural, kind)
        return kind


def asks_for_figure(text: str) -> bool:
    """Whether the text asks for a number: how much, how many, what accuracy / score / rank / value ..."""
    return bool(ASKS_FOR_FIGURE.search(text))


def question_parts(question: str) -> tuple[Part, ...]:
    """The question cut where a new question starts (", and which ...", "; how many ..."), each part marked when
    it asks for a number; a piece that asks nothing (a description before the question) is not a part."""
    texts = [t.strip(" ,;:") for t in PART_BREAK.split(question)]
    texts = [t for t in texts if content_terms(t) and ASKS.search(t)] or [question]
    return tuple(Part(t, asks_for_figure(t)) for t in texts)


def comparison_sides(question: str) -> tuple[str, str] | None:
    """The two things a comparison sets side by side, as the question names or describes them; None when it does
    not say them apart."""
    for pattern in SIDES:
        match = pattern.search(question)
        if match:
            a, b = (match.group(side).strip(" ,;:.") for side in ("a", "b"))
            if len(content_terms(a)) >= MIN_SIDE_TERMS and len(content_terms(b)) >= MIN_SIDE_TERMS:
                return a, b
    return None


def about_two_works(question: str) -> bool:
    """Whether the question sets two works side by side without naming them apart (`COMPARES`, or "the first ...
    the second ..." about two things, not two stages of one)."""
    if COMPARES.search(question):
        return True
    first = FIRST.search(question)
    second = SECOND.search(question, first.end()) if first else None
    return bool(second and first.group(1).casefold() != second.group(1).casefold())


def yes_no_claim(question: str) -> str | None:
    """The statement a yes/no question asks about: "Is it true that X?" -> "X"; "Does X use Y?" -> the question
    itself (unless it also asks what, which, how or for a figure). None for other questions."""
    if match := IS_IT_TRUE.match(question):
        claim = match.group("claim")
    elif YES_NO.match(question) and not ASKS_FOR_FIGURE.search(question) and not re.search(
            r"\b(?:which|what|how)\b", question, re.IGNORECASE):
        claim = question
    else:
        return None
    return claim.strip().rstrip("?").strip() or None


def is_name(word: str) -> bool:
    """A word with a capital after its first letter (NeurIPS, LoRA, GPT-4, KANs, mT5) or all capitals."""
    return any(c.isupper() for c in word[1:])


def question_names(question: str) -> frozenset[str]:
    """The question's names (`is_name`), as written."""
    return frozenset(w for w in WORD_WITH_HYPHENS.findall(question) if is_name(w))


def subject_names(query: str) -> tuple[tuple[str, str], ...]:
    """The query's capitalised words (`INNER_CAPITALISED`) that say what it is about, each with the name a paper
    must name: "SVD-based" -> "SVD"; none of the names it likens something to ("a Barlow Twins style loss")."""
    words = query.split()
    likened: set[str] = set()
    for i, word in enumerate(words):
        if not (match := LIKENESS.search(word)):
            continue
        if match.start():  # "MoE-like": the name joined before it
            likened.add(word[: match.start()])
            continue
        for before in reversed(words[max(0, i - 3) : i]):  # "Barlow Twins style": the capitalised words before it
            if not before[:1].isupper():
                break
            likened.add(before)
    names = {word: JOINED_WORD.sub("", word, count=1) for word in INNER_CAPITALISED.findall(query)}
    return tuple((word, name) for word, name in names.items() if name not in likened)


def previous_user_question(history: Sequence[Turn]) -> str | None:
    questions = [" ".join(str(t.content).split()) for t in history if t.role == "user" and str(t.content).strip()]
    return questions[-1] if questions else None


def is_follow_up(question: str, history: Sequence[Turn]) -> bool:
    """A question that leans on the one before it: it points back ("it", "these", "the paper") or is too short to
    stand alone."""
    return bool(previous_user_question(history)) and bool(
        FOLLOW_UP_WORDS.search(question) or len(content_terms(question)) < 3)


def as_turns(history: Sequence[Turn | dict] | None) -> list[Turn]:
    return [t if isinstance(t, Turn) else Turn(t["role"], t["content"], tuple(t.get("papers") or ()))
            for t in history or ()]


def profile_question(question: str, history: Sequence[Turn | dict] | None = None,
                     max_chars: int | None = None) -> QuestionProfile:
    """The profile of a cleaned question; a follow-up's retrieval query is joined to the question before it (cut to
    ``max_chars``), and it keeps the previous answer's papers. A misspelt "which" ("Wich papers ...") is read as one,
    in the asked question too."""
    question = MISSPELT_WHICH.sub(lambda typo: "Which" if typo.group()[0].isupper() else "which", question)
    turns = as_turns(history)
    follow_up = is_follow_up(question, turns)
    query = question
    previous: tuple[str, ...] = ()
    if follow_up:
        earlier = previous_user_question(turns) or ""
        query = f"{truncate(earlier, max_chars) if max_chars else earlier} {question}"
        previous = next((t.papers for t in reversed(turns) if t.role == "assistant"), ())
    narrowing = bool(NARROWS.search(question))  # "Which of these ...?": a list, narrowing the previous one if any
    narrows = follow_up and narrowing
    kinds: set[Kind] = set()
    if IS_IT_TRUE.match(question):  # a claim, whatever it mentions (a comparison, a figure)
        return QuestionProfile(asked=question, query=query, kinds=frozenset({Kind.YES_NO}),
                               parts=(Part(question, False),), names=question_names(question),
                               subject_names=subject_names(query),
                               claim=yes_no_claim(question), follow_up=follow_up,
                               terms=frozenset(content_terms(question)))
    lists_methods = bool(LIST_NOUNS.search(question)) and not POINTS_TO_ONE.search(question)
    if ASKS_FOR_SEVERAL.search(question) or narrowing or lists_methods:
        kinds.add(Kind.WHICH_PAPERS)
    elif ASKS_FOR_PAPERS.match(question) or ASKS_FOR_WORK.match(question):
        kinds.add(Kind.WHICH_PAPER)
    if asks_for_figure(question):
        kinds.add(Kind.FIGURE)
    if ASKS_FOR_NAME.search(question):
        kinds.add(Kind.NAME)
    sides = comparison_sides(question) if not kinds & {Kind.WHICH_PAPER, Kind.WHICH_PAPERS} else None
    if sides or about_two_works(question):
        kinds.add(Kind.COMPARISON)
    claim = yes_no_claim(question) if not kinds else None
    if claim:
        kinds.add(Kind.YES_NO)
    if not kinds & {Kind.WHICH_PAPER, Kind.WHICH_PAPERS, Kind.COMPARISON, Kind.YES_NO}:
        kinds.add(Kind.LOOKUP)
    return QuestionProfile(
        asked=question, query=query, kinds=frozenset(kinds), parts=question_parts(question),
        names=question_names(question), subject_names=subject_names(query),
        figures=frozenset(re.findall(r"(?<![\w.])\d+(?:\.\d+)?", question)),
        sides=sides, claim=claim, follow_up=follow_up,
        narrows=narrows, previous_papers=previous, terms=frozenset(content_terms(question)),
    )
