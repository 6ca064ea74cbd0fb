"""jieba segmentation with the project's user dictionary.

Two engines give the same tokens: `jieba` (the reference, pure Python, ~700 long messages/s here) and
`rjieba` (the jieba-rs binding, ~13x faster). jieba-rs differs from jieba in two known places, both
mended here so the tokens are equal:
- with HMM on, jieba-rs keeps runs like `baidu.com`, `2015-2040`, `publish_id` whole where jieba splits
  them with its `re_skip` pattern: such tokens are split again the same way;
- where two splits are equally likely (a character repeated three times or more, 咚咚咚), the two pick
  differently: texts with such a run are segmented by jieba itself.
tests/test_segment_equivalence.py checks token equality on every text in ../shared/data.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import jieba

jieba.setLogLevel(logging.WARNING)

# A token is kept when it has at least one letter, digit or CJK character; masks (****) and punctuation go.
_WORDLIKE = re.compile(r"[0-9A-Za-z\u4e00-\u9fff]")
# jieba's finalseg splits non-Han runs with this pattern (jieba/finalseg/__init__.py, re_skip).
_JIEBA_SKIP = re.compile(r"([a-zA-Z0-9]+(?:\.\d+)?%?)")
_JOINED_RUN = re.compile(r"^[a-zA-Z0-9.%+#&_\-]*[.\-_+#&][a-zA-Z0-9.%+#&_\-]*$")
_TIE_PRONE = re.compile(r"([\u4e00-\u9fff])\1\1")
_JOIN_CHARS = re.compile(r"[.\-_+#&]")
# jieba cuts each run of these characters on its own (jieba/__init__.py, re_han_default).
_JIEBA_BLOCK = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)")
ENGINES = ("rjieba", "jieba")


def read_userdict(path: Path) -> list[tuple[str, int | None, str | None]]:
    """Entries of a jieba user dictionary: `word [freq] [tag]` per line."""
    entries = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.strip().split()
        if not parts:
            continue
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        tag = parts[-1] if len(parts) > 1 and not parts[-1].isdigit() else None
        entries.append((parts[0], freq, tag))
    return entries


class Segmenter:
    """Splits Chinese text into jieba tokens; one instance per user dictionary."""

    def __init__(self, userdict: Path | None = None, engine: str = "rjieba"):
        if engine not in ENGINES:
            raise ValueError(f"unknown segmentation engine {engine!r} (expected {' or '.join(ENGINES)})")
        self.engine = engine
        self.userdict = Path(userdict) if userdict else None
        self.userdict_sha256 = hashlib.sha256(self.userdict.read_bytes()).hexdigest() if self.userdict else None
        self._reference = None
        self._tagger = None
        self._fast = None
        if engine == "rjieba":
            import rjieba

            self._fast = rjieba.Jieba()
            for word, freq, tag in read_userdict(self.userdict) if self.userdict else []:
                self._fast.add_word(word, freq, tag)

    @property
    def reference(self) -> jieba.Tokenizer:
        if self._reference is None:
            tokenizer = jieba.Tokenizer()
            if self.userdict is not None:
                tokenizer.load_userdict(str(self.userdict))
            self._reference = tokenizer
        return self._reference

    def raw_tokens(self, text: str) -> list[str]:
        """Exactly jieba's `lcut(text, HMM=True)`, whichever engine runs."""
        if self._fast is None:
            return self.reference.lcut(text, HMM=True)
        if _TIE_PRONE.search(text):
            return self._cut_tie_prone(text)
        tokens = self._fast.cut(text, True)
        if not _JOIN_CHARS.search(text):
            return tokens
        out = []
        for token in tokens:
            if len(token) > 1 and token[0].isascii() and _JOINED_RUN.match(token):
                out.extend(part for part in _JIEBA_SKIP.split(token) if part)
            else:
                out.append(token)
        return out

    def _cut_tie_prone(self, text: str) -> list[str]:
        """jieba cuts each block on its own, so only the blocks with a tie-prone run need jieba itself."""
        tokens: list[str] = []
        for block in _JIEBA_BLOCK.split(text):
            if block:
                tokens.extend(self.reference.lcut(block, HMM=True) if _TIE_PRONE.search(block)
                              else self.raw_tokens(block))
        return tokens

    def tokens(self, text: str) -> list[str]:
        return list(filter(_WORDLIKE.search, self.raw_tokens(text)))

    def segment(self, text: str) -> str:
        """Tokens joined by single spaces: the form the estimators and the full-text index take."""
        return " ".join(self.tokens(text))

    def segment_many(self, texts: list[str]) -> list[str]:
        return [self.segment(t) for t in texts]

    def tag(self, text: str) -> list[tuple[str, str]]:
        """Words with jieba's part-of-speech tags (`nr` a person's name), the user dictionary's words included.
        Unlike the tokens, the two engines' tags are not made equal: they differ somewhere in about one of
        sixteen of the board's messages."""
        if self._fast is not None:
            return self._fast.tag(text, True)
        if self._tagger is None:
            import jieba.posseg

            self._tagger = jieba.posseg.POSTokenizer(self.reference)
        return [(pair.word, pair.flag) for pair in self._tagger.lcut(text, HMM=True)]

    def in_dictionary(self, word: str) -> bool:
        """Whether jieba's dictionary (or the user dictionary) has the word; a word it lacks was found by its HMM."""
        if self._fast is not None:
            return self._fast.has_word(word)
        return self.reference.FREQ.get(word, 0) > 0
