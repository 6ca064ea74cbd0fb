"""Dead letters: what could not be accepted, with the original payload and the reason."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from hotline.models import Rejection

MAX_KEPT_PAYLOAD_BYTES = 64 * 1024


def rejection_id(channel: str, payload: bytes) -> str:
    """Identical payloads on the same channel give the same dead letter: a second ingest adds nothing."""
    return hashlib.sha256(channel.encode("utf-8", "replace") + b"\0" + payload).hexdigest()[:24]


def make_rejection(
    channel: str, source_ref: str, stage: str, reason: str, payload: bytes, now: datetime,
    max_kept_bytes: int = MAX_KEPT_PAYLOAD_BYTES,
) -> Rejection:
    """Build a dead letter; payloads over max_kept_bytes keep their start and are flagged truncated."""
    kept = payload[:max_kept_bytes]
    try:
        body, encoding = kept.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    return Rejection(
        rejection_id=rejection_id(channel, payload),
        channel=channel,
        source_ref=source_ref[:300],
        stage=stage,
        reason=reason,
        payload=body,
        payload_encoding=encoding,
        payload_size=len(payload),
        payload_truncated=len(kept) < len(payload),
        rejected_at=now,
    )
