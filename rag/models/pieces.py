"""A prompt cut into pieces for a model that can reuse computed prompt state: a ``cached`` piece (a paper's
fenced abstract) has the same text in every prompt it appears in, so its state is computed once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    """A piece of the prompt after the fixed prefix; ``cached`` pieces are read once and reused."""

    text: str
    cached: bool = False


@dataclass(frozen=True)
class PiecedPrompt:
    """The whole prompt text as a fixed prefix (the rules, the same for every question) and pieces."""

    prefix: str
    pieces: tuple[Piece, ...]

    @property
    def text(self) -> str:
        return self.prefix + "".join(piece.text for piece in self.pieces)

    @property
    def cached_piece(self) -> tuple[str, str]:
        """The prefix and the first cached piece's text: what warming reads and saves."""
        return self.prefix, next(piece.text for piece in self.pieces if piece.cached)
