"""TF-IDF over segmented text (tokens separated by spaces), giving the same matrices as scikit-learn's
`TfidfVectorizer` but transforming several times faster, because the classifier's speed is the stream
workers' speed. A batch's tokens are looked up once each (C-level `map` over a dict); everything after that
runs over the whole batch in numpy.

- `WordNgramTfidf`: word unigrams and bigrams. A token becomes a number; a bigram's column is found by its
  pair of numbers in a sorted table.
- `CharNgramTfidf`: character n-grams inside tokens (scikit-learn's `analyzer="char_wb"`). Messages repeat
  a small vocabulary of tokens, so a token's n-gram columns are computed once, kept in a table, and
  gathered for every occurrence.

Fitting uses scikit-learn's own vectorizers, so vocabularies and weights are theirs;
tests/test_classifier.py checks that transforms give the same matrices.
"""

from __future__ import annotations

import itertools
from array import array

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

_CACHE_LIMIT = 500_000


def token_char_ngrams(token: str, min_n: int, max_n: int) -> list[str]:
    """scikit-learn's char_wb n-grams of one token: padded with a space each side, a short token once."""
    padded = f" {token.lower()} "
    grams = []
    for n in range(min_n, max_n + 1):
        if len(padded) <= n:
            grams.append(padded)
            break
        grams.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return grams


def _split(documents) -> tuple[list[str], np.ndarray]:
    """All tokens of a batch in order, and where each document's tokens start (one more entry at the end)."""
    token_lists = [document.split() for document in documents]
    bounds = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists)), out=bounds[1:])
    return list(itertools.chain.from_iterable(token_lists)), bounds


def _counts(rows: np.ndarray, columns: np.ndarray, n_rows: int, width: int) -> sp.csr_matrix:
    """A count matrix from the (row, column) of each occurrence (duplicates summed)."""
    data = np.ones(len(columns), dtype=np.float64)
    matrix = sp.csr_matrix((data, (rows, columns)), shape=(n_rows, width))
    matrix.sum_duplicates()
    return matrix


class WordNgramTfidf(BaseEstimator, TransformerMixin):
    """TF-IDF over word n-grams of space-separated tokens (n up to 2), case kept."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), min_df: int = 1, sublinear_tf: bool = True):
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf

    def fit(self, documents, y=None) -> "WordNgramTfidf":
        if not 1 <= self.ngram_range[0] <= self.ngram_range[1] <= 2:
            raise ValueError(f"word n-grams of length 1 or 2 only, not {self.ngram_range}")
        counter = CountVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False,
                                  ngram_range=self.ngram_range, min_df=self.min_df)
        counts = counter.fit_transform(documents)
        self.vocabulary_ = counter.vocabulary_
        self.tfidf_ = TfidfTransformer(sublinear_tf=self.sublinear_tf).fit(counts)
        self._build_tables()
        return self

    def _build_tables(self) -> None:
        """Number every token of the vocabulary (unknown tokens get the next number); a unigram's column
        by token number; bigram columns sorted by the key first * (tokens + 1) + second."""
        tokens: dict[str, int] = {}
        for feature in self.vocabulary_:
            for token in feature.split(" "):
                tokens.setdefault(token, len(tokens))
        unknown = len(tokens)
        self._numbers = tokens
        self._unigram_columns = np.full(unknown + 1, -1, dtype=np.int64)
        keys, columns = [], []
        for feature, column in self.vocabulary_.items():
            first, _, second = feature.partition(" ")
            if second:
                keys.append(tokens[first] * (unknown + 1) + tokens[second])
                columns.append(column)
            else:
                self._unigram_columns[tokens[first]] = column
        order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
        self._bigram_keys = np.asarray(keys, dtype=np.int64)[order]
        self._bigram_columns = np.asarray(columns, dtype=np.int64)[order]

    def counts(self, documents) -> sp.csr_matrix:
        tokens, bounds = _split(documents)
        unknown = len(self._numbers)
        numbers = np.fromiter(map(self._numbers.get, tokens, itertools.repeat(unknown)), dtype=np.int64,
                              count=len(tokens))
        row_of = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
        rows, columns = [], []
        low, high = self.ngram_range
        if low == 1:
            rows.append(row_of)
            columns.append(self._unigram_columns[numbers])
        if high == 2 and len(numbers) > 1:
            keys = numbers[:-1] * (unknown + 1) + numbers[1:]
            keys[row_of[:-1] != row_of[1:]] = -1  # a pair across two documents is no bigram
            order = np.argsort(keys)  # searching sorted keys is about twice as fast
            keys = keys[order]
            at = np.minimum(np.searchsorted(self._bigram_keys, keys), max(len(self._bigram_keys) - 1, 0))
            known = (self._bigram_keys[at] == keys) if len(self._bigram_keys) else np.zeros(len(keys), dtype=bool)
            rows.append(row_of[:-1][order[known]])
            columns.append(self._bigram_columns[at[known]])
        rows_all = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        columns_all = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)
        keep = columns_all >= 0
        return _counts(rows_all[keep], columns_all[keep], len(bounds) - 1, len(self.vocabulary_))

    def transform(self, documents) -> sp.csr_matrix:
        return self.tfidf_.transform(self.counts(documents))

    def __getstate__(self):
        state = self.__dict__.copy()
        for derived in ("_numbers", "_unigram_columns", "_bigram_keys", "_bigram_columns", "_columns"):
            state.pop(derived, None)
        return state

    def __setstate__(self, state):
        state.pop("_columns", None)  # the lookup of model files written before the tables
        self.__dict__.update(state)
        self._build_tables()


class _TokenColumns(dict):
    """Each token's n-gram columns, computed once: token -> number (a new token is numbered on lookup, so
    lookups can run in `map`), and a flat table of columns where number i's run starts at starts[i] and
    ends where the next begins."""

    def __init__(self, vocabulary: dict, ngram_range: tuple[int, int]):
        super().__init__()
        self.vocabulary = vocabulary
        self.ngram_range = ngram_range
        self.columns = array("q")
        self.starts = array("q")

    def __missing__(self, token: str) -> int:
        vocabulary = self.vocabulary
        columns = [vocabulary[g] for g in token_char_ngrams(token, *self.ngram_range) if g in vocabulary]
        number = self[token] = len(self.starts)
        self.starts.append(len(self.columns))
        self.columns.extend(columns)
        return number


class CharNgramTfidf(BaseEstimator, TransformerMixin):
    """TF-IDF over character n-grams within space-separated tokens (documents are segmented text)."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 3), min_df: int = 2, sublinear_tf: bool = True):
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf

    def fit(self, documents, y=None) -> "CharNgramTfidf":
        counter = CountVectorizer(analyzer="char_wb", ngram_range=self.ngram_range, min_df=self.min_df)
        counts = counter.fit_transform(documents)
        self.vocabulary_ = counter.vocabulary_
        self.tfidf_ = TfidfTransformer(sublinear_tf=self.sublinear_tf).fit(counts)
        self._table = _TokenColumns(self.vocabulary_, self.ngram_range)
        return self

    def counts(self, documents) -> sp.csr_matrix:
        if len(self._table) >= _CACHE_LIMIT:
            self._table = _TokenColumns(self.vocabulary_, self.ngram_range)
        table = self._table
        tokens, bounds = _split(documents)
        numbers = np.fromiter(map(table.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        # documents x token numbers (occurrences) times token numbers x n-gram columns: the product sums
        # each document's n-grams over its tokens, without sorting anything
        occurrences = sp.csr_matrix((np.ones(len(numbers)), numbers, bounds), shape=(len(bounds) - 1, len(table.starts)))
        # copies of the table, so that it can grow while a matrix made from it is still in use
        grams_ptr = np.append(np.array(table.starts, dtype=np.int64), len(table.columns))
        grams = sp.csr_matrix((np.ones(len(table.columns)), np.array(table.columns, dtype=np.int64), grams_ptr),
                              shape=(len(table.starts), len(self.vocabulary_)))
        return (occurrences @ grams).tocsr()

    def transform(self, documents) -> sp.csr_matrix:
        return self.tfidf_.transform(self.counts(documents))

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_table", None)
        state.pop("_columns", None)
        return state

    def __setstate__(self, state):
        state.pop("_columns", None)  # the cache of model files written before the table
        self.__dict__.update(state)
        self._table = _TokenColumns(self.vocabulary_, self.ngram_range)
