"""Quality figures for a classifier: macro-F1, accuracy, per-class F1 and the confusion matrix."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def reliability(confidences, correct, bins: int = 10) -> dict:
    """How far confidence is from accuracy: expected calibration error and the table behind it."""
    confidences = np.asarray(confidences, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    table, error = [], 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidences > low) & (confidences <= high) if low > 0 else (confidences >= low) & (confidences <= high)
        n = int(inside.sum())
        if not n:
            continue
        mean_confidence, accuracy = float(confidences[inside].mean()), float(correct[inside].mean())
        error += n / len(confidences) * abs(mean_confidence - accuracy)
        table.append({"bin": f"{low:.1f}-{high:.1f}", "n": n, "mean_confidence": round(mean_confidence, 4),
                      "accuracy": round(accuracy, 4)})
    return {"expected_calibration_error": round(error, 4), "bins": table}


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
