"""A small text corpus for language modelling, a character tokenizer and next-token data sets.

The corpus needs no download: it is the help text of Python's keywords and topics that ships with every
CPython in ``pydoc_data/topics.py`` (about 0.5 MB of English prose and code).

Example::

    >>> from qhybrid.classical.text import CharTokenizer, load_corpus
    >>> tok = CharTokenizer.fit("hello")
    >>> tok.decode(tok.encode("hole"))
    'hole'
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.utils.data import Dataset

from qhybrid.classical.validation import check_int

__all__ = ["CharLMDataset", "CharTokenizer", "char_lm_datasets", "load_corpus"]

_CORPORA = ("pydoc_topics",)


def load_corpus(name: str = "pydoc_topics", *, max_chars: int | None = None) -> str:
    """Return a text corpus that ships with Python.

    Args:
        name: ``"pydoc_topics"``: pydoc's topic help texts, joined in sorted topic order.
        max_chars: keep only the first ``max_chars`` characters (for quick runs).
    """
    if name not in _CORPORA:
        raise ValueError(f"unknown corpus {name!r}; allowed: {', '.join(_CORPORA)}")
    check_int("max_chars", max_chars, 2, allow_none=True)
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[k].strip() for k in sorted(topics))
    return text if max_chars is None else text[:max_chars]


class CharTokenizer:
    """Maps each distinct character to an integer id (ids in sorted character order)."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars = sorted(set(chars))
        if not self.chars:
            raise ValueError("a tokenizer needs at least one character")
        self._stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        """Build the vocabulary from every character in ``text``."""
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """Token ids of ``text`` as a 1-D ``torch.long`` tensor."""
        try:
            return torch.tensor([self._stoi[c] for c in text], dtype=torch.long)
        except KeyError as err:
            raise ValueError(f"character {err.args[0]!r} is not in the tokenizer's vocabulary") from None

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Text for a sequence of token ids."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return "".join(self.chars[i] for i in ids)

    def state_dict(self) -> dict[str, list[str]]:
        return {"chars": list(self.chars)}

    @classmethod
    def from_state_dict(cls, state: dict[str, list[str]]) -> CharTokenizer:
        return cls(state["chars"])


class CharLMDataset(Dataset):
    """Next-token pairs cut from a token stream: item ``i`` is ``(ids[s:s+T], ids[s+1:s+T+1])``.

    Windows start every ``stride`` tokens (default ``block_size``: non-overlapping, each token seen once
    per epoch). ``tensors()`` returns all pairs stacked, for the Trainer's fast in-memory loader.
    """

    def __init__(self, ids: torch.Tensor, block_size: int, stride: int | None = None) -> None:
        check_int("block_size", block_size, 1)
        stride = block_size if stride is None else check_int("stride", stride, 1)
        if ids.dim() != 1 or len(ids) < block_size + 1:
            raise ValueError(
                f"need a 1-D token stream longer than block_size={block_size}, got shape {tuple(ids.shape)}"
            )
        self.ids, self.block_size, self.stride = ids.long(), block_size, stride
        self._n = (len(ids) - block_size - 1) // stride + 1

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -self._n <= i < self._n:
            raise IndexError(i)
        s = (i % self._n) * self.stride
        return self.ids[s : s + self.block_size], self.ids[s + 1 : s + self.block_size + 1]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        windows = self.ids.unfold(0, self.block_size + 1, self.stride)[: self._n]
        return windows[:, :-1].contiguous(), windows[:, 1:].contiguous()


def char_lm_datasets(
    block_size: int = 64,
    *,
    corpus: str = "pydoc_topics",
    val_fraction: float = 0.1,
    max_chars: int | None = None,
) -> tuple[CharLMDataset, CharLMDataset, CharTokenizer]:
    """Train and validation next-character data sets and the tokenizer, from one corpus.

    The last ``val_fraction`` of the text is held out (a contiguous tail, so no window straddles both).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    text = load_corpus(corpus, max_chars=max_chars)
    tok = CharTokenizer.fit(text)
    ids = tok.encode(text)
    cut = int(len(ids) * (1 - val_fraction))
    return CharLMDataset(ids[:cut], block_size), CharLMDataset(ids[cut:], block_size), tok
