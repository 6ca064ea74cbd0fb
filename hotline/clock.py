"""The one source of 'now' for the whole system; tests and replays pass their own."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from hotline.timestamps import SHANGHAI

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(SHANGHAI)
