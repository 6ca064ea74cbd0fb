"""jieba segmentation with the project's user dictionary."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import jieba

jieba.setLogLevel(logging.WARNING)

# A token is kept when it has at least one letter, digit or CJK character; masks (****) and punctuation go.
_WORDLIKE = re.compile(r"[0-9A-Za-z\u4e00-\u9fff]")


class Segmenter:
    """Splits Chinese text into jieba tokens; one instance per user dictionary."""

    def __init__(self, userdict: Path | None = None):
        self.tokenizer = jieba.Tokenizer()
        self.userdict = Path(userdict) if userdict else None
        self.userdict_sha256 = None
        if self.userdict is not None:
            data = self.userdict.read_bytes()
            self.userdict_sha256 = hashlib.sha256(data).hexdigest()
            self.tokenizer.load_userdict(str(self.userdict))

    def tokens(self, text: str) -> list[str]:
        return [t for t in self.tokenizer.lcut(text, HMM=True) if _WORDLIKE.search(t)]

    def segment(self, text: str) -> str:
        """Tokens joined by single spaces: the form the estimators and the full-text index take."""
        return " ".join(self.tokens(text))

    def segment_many(self, texts: list[str]) -> list[str]:
        return [self.segment(t) for t in texts]
