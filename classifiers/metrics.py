"""Quality figures for a classifier: macro-F1, accuracy, per-class F1 and the confusion matrix."""

from __future__ import annotations

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def report(y_true: list[str], y_pred: list[str], labels: list[str] | None = None) -> dict:
    labels = sorted(set(y_true) | set(y_pred)) if labels is None else list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "n": len(y_true),
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "per_class": {
            label: {"f1": round(float(f), 4), "precision": round(float(p), 4),
                    "recall": round(float(r), 4), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "confusion": {"labels": labels, "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()},
    }
