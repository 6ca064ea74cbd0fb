"""A trained model and its model card, saved together in one file.

The file is a pickle (joblib): load only model files you trust.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jieba
import joblib
import numpy as np
import sklearn
from sklearn.model_selection import StratifiedKFold

from classifiers.estimator import TITLE_WEIGHT, TextClassifier, document
from classifiers.metrics import reliability, report
from classifiers.overlap import NEAR_DUPLICATE_JACCARD, near_duplicates
from classifiers.segment import Segmenter
from hotline.models import Prediction

log = logging.getLogger(__name__)

FORMAT = "hotline-model/2"
TASKS = {
    "domain": "first-level domain (一级分类)",
    "ticket_type": "ticket type (咨询/求助/投诉/举报/建议)",
}


def to_document(segmenter: Segmenter, text: str) -> str:
    """A text written "title\ntext" as a document; a text without a line break is all text."""
    title, newline, body = text.partition("\n")
    if not newline:
        title, body = "", text
    return document(segmenter.segment(title), segmenter.segment(body))


def data_hash(texts: list[str], labels: list[str]) -> str:
    digest = hashlib.sha256()
    for text, label in zip(texts, labels):
        digest.update(text.encode("utf-8"))
        digest.update(b"\x1f")
        digest.update(label.encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


@dataclass
class TrainedModel:
    estimator: TextClassifier
    card: dict
    segmenter: Segmenter

    def current(self) -> "TrainedModel":
        """A trained model is its own current version (a ModelFile may load a newer one)."""
        return self

    @property
    def version(self) -> str:
        return self.card["version"]

    @property
    def classes(self) -> list[str]:
        return list(self.card["classes"])

    def predict_documents(self, documents: list[str], top_k: int = 3) -> list[Prediction]:
        """Batch prediction over documents (see classifiers.estimator.document)."""
        if not documents:
            return []
        probabilities = self.estimator.predict_proba(documents)
        classes = self.estimator.classes_
        order = np.argsort(-probabilities, axis=1)[:, :top_k]
        out = []
        for row, best in zip(probabilities, order):
            top = [(str(classes[i]), round(float(row[i]), 4)) for i in best]
            out.append(Prediction(label=top[0][0], confidence=top[0][1], top=top, model_version=self.version))
        return out

    def documents(self, texts: list[str]) -> list[str]:
        """Texts written "title\ntext" (the first line is the title) as the estimator's documents."""
        return [to_document(self.segmenter, text) for text in texts]

    def predict(self, texts: list[str], top_k: int = 3) -> list[Prediction]:
        return self.predict_documents(self.documents(texts), top_k)

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        joblib.dump({"format": FORMAT, "card": self.card, "estimator": self.estimator}, tmp, compress=3)
        tmp.replace(path)


def train(
    texts: list[str], labels: list[str], segmenter: Segmenter, source: str, cv_folds: int = 5, progress=None,
    task: str = "domain", extra: tuple[list[str], list[str]] | None = None, extra_source: str | None = None,
) -> TrainedModel:
    """Fit on all data (and the extra labelled data, if any); the card carries metrics cross-validated on
    the data only: each fold is tested on its share of `texts`, trained on the rest plus the extra rows that
    are not near-copies of the fold's test messages (classifiers.overlap)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r} (expected {' or '.join(TASKS)})")
    if len(texts) != len(labels) or not texts:
        raise ValueError("training needs the same, non-zero number of texts and labels")
    classes, counts = np.unique(np.asarray(labels), return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"training needs at least two classes, got {list(classes)}")
    lonely = [str(c) for c, n in zip(classes, counts) if n < 2]
    if lonely:
        raise ValueError(f"class(es) with a single example cannot be learned: {', '.join(lonely)}")
    extra_texts, extra_labels = extra if extra else ([], [])
    unknown = sorted(set(extra_labels) - set(classes))
    if unknown:
        raise ValueError(f"the extra data has labels the training data lacks: {', '.join(unknown)}")
    documents = []
    for i, text in enumerate([*texts, *extra_texts]):
        documents.append(to_document(segmenter, text))
        if progress:
            progress(i + 1, len(texts) + len(extra_texts))
    documents, extra_documents = documents[:len(texts)], documents[len(texts):]
    folds = int(min(cv_folds, counts.min()))
    metrics = None
    dropped: list[int] = []
    if folds >= 2:
        probabilities, dropped = _cross_validate(documents, list(labels), extra_documents, list(extra_labels), folds, classes)
        predicted = classes[np.argmax(probabilities, axis=1)]
        metrics = report(list(labels), list(predicted), labels=list(classes))
        metrics["reliability"] = reliability(probabilities.max(axis=1), predicted == np.asarray(labels))
        metrics["method"] = f"stratified {folds}-fold cross-validation on the training data" + (
            f"; each fold also trained on the extra data less its near-copies of the fold's test messages "
            f"(token-set Jaccard > {NEAR_DUPLICATE_JACCARD}; {round(float(np.mean(dropped)))} of {len(extra_texts)} "
            f"dropped per fold on average)" if extra_texts else "")
    estimator = TextClassifier().fit(documents + extra_documents, list(labels) + list(extra_labels))
    trained_at = datetime.now(timezone.utc)
    digest = data_hash(texts, labels)
    card = {
        "format": FORMAT,
        "task": task,
        "task_description": TASKS[task],
        "version": f"{task}-{trained_at:%Y%m%d%H%M%S}-{digest[:8]}",
        "trained_at": trained_at.isoformat(),
        "classes": [str(c) for c in classes],
        "data": {
            "source": source,
            "rows": len(texts),
            "per_class": {str(c): int(n) for c, n in zip(classes, counts)},
            "sha256": digest,
            **({"extra": {"source": extra_source, "rows": len(extra_texts),
                          "per_class": {str(c): int(n) for c, n in zip(*np.unique(extra_labels, return_counts=True))}}}
               if extra_texts else {}),
        },
        "metrics": metrics,
        "estimator": (f"jieba tokens, title x{TITLE_WEIGHT} -> TF-IDF (words 1-2, chars 1-3) -> class-balanced "
                      "ridge classifier, temperature-scaled"),
        "versions": {
            "jieba": jieba.__version__,
            "scikit-learn": sklearn.__version__,
            "python": platform.python_version(),
        },
        "segmenter": {"engine": segmenter.engine, "userdict_sha256": segmenter.userdict_sha256},
    }
    return TrainedModel(estimator=estimator, card=card, segmenter=segmenter)


def _cross_validate(documents, labels, extra_documents, extra_labels, folds, classes):
    """Out-of-fold class probabilities (columns in `classes` order) and the extra rows dropped per fold."""
    labels_array = np.asarray(labels)
    probabilities = np.zeros((len(documents), len(classes)))
    dropped = []
    for train_index, test_index in StratifiedKFold(folds, shuffle=True, random_state=0).split(documents, labels_array):
        test_documents = [documents[i] for i in test_index]
        near = near_duplicates(extra_documents, test_documents)
        dropped.append(int(near.sum()))
        fold_documents = [documents[i] for i in train_index] + [d for d, n in zip(extra_documents, near) if not n]
        fold_labels = list(labels_array[train_index]) + [lab for lab, n in zip(extra_labels, near) if not n]
        model = TextClassifier().fit(fold_documents, fold_labels)
        columns = [list(model.classes_).index(c) for c in classes]
        probabilities[test_index] = model.predict_proba(test_documents)[:, columns]
    return probabilities, dropped


class ModelFile:
    """A model file that running workers pick up again when it is replaced on disk (no restart)."""

    def __init__(self, path: Path, segmenter: Segmenter, check_every: float = 2.0):
        self.path = Path(path)
        self.segmenter = segmenter
        self.check_every = check_every
        self._stamp = self._stat()
        self.model = load(self.path, segmenter)
        self._checked = time.monotonic()

    def _stat(self) -> tuple[int, int]:
        info = self.path.stat()
        return info.st_mtime_ns, info.st_ino

    def current(self) -> TrainedModel:
        now = time.monotonic()
        if now - self._checked >= self.check_every:
            self._checked = now
            try:
                stamp = self._stat()
                if stamp != self._stamp:
                    model = load(self.path, self.segmenter)
                    log.warning("loaded model %s from %s (was %s)", model.version, self.path, self.model.version)
                    self.model, self._stamp = model, stamp
            except Exception:
                log.exception("could not load the new model file %s; keeping %s", self.path, self.model.version)
        return self.model


def load(path: Path, segmenter: Segmenter) -> TrainedModel:
    try:
        data = joblib.load(Path(path))
    except (AttributeError, ImportError) as error:  # pickled classes this version no longer has
        raise ValueError(f"{path} was written by an earlier version of hotline-pipeline ({error}); "
                         "train the model again with `hotline train`") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a hotline model file (expected format {FORMAT})")
    return TrainedModel(estimator=data["estimator"], card=data["card"], segmenter=segmenter)


def card_json(model: TrainedModel) -> str:
    return json.dumps(model.card, ensure_ascii=False, indent=2)
