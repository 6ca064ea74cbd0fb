"""Near-duplicate texts between two sets, by the Jaccard overlap of their token sets.

Training data gathered from several files repeats messages (the board's tokenised export holds many of
the raw messages again): before extra data joins a cross-validation fold, its near-copies of that fold's
test messages are dropped, so the measured score stays a score on unseen messages.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

NEAR_DUPLICATE_JACCARD = 0.3


def near_duplicates(candidates: list[str], references: list[str], threshold: float = NEAR_DUPLICATE_JACCARD,
                    chunk: int = 2000) -> np.ndarray:
    """For each candidate document (space-separated tokens): does it share more than `threshold` of its
    token set (Jaccard) with any reference document?"""
    if not candidates or not references:
        return np.zeros(len(candidates), dtype=bool)
    sets = CountVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False, binary=True)
    sets.fit(list(candidates) + list(references))
    reference = sets.transform(references)
    reference_sizes = np.asarray(reference.sum(axis=1)).ravel()
    found = np.zeros(len(candidates), dtype=bool)
    for start in range(0, len(candidates), chunk):
        block = sets.transform(candidates[start:start + chunk])
        shared = (block @ reference.T).toarray()
        sizes = np.asarray(block.sum(axis=1)).ravel()
        union = sizes[:, None] + reference_sizes[None, :] - shared
        found[start:start + chunk] = (shared / np.maximum(union, 1)).max(axis=1) > threshold
    return found
