"""The one source of 'now' for the whole system; tests, replays and the demo pass their own.

`ReplayClock` runs from a chosen start, `speed` times faster than the wall clock, anchored to a wall-clock
moment so that several processes started at different times (worker, web app) share one replayed time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from hotline.timestamps import SHANGHAI

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(SHANGHAI)


@dataclass(frozen=True)
class ReplayClock:
    start: datetime
    speed: float = 1.0
    anchor: float = 0.0  # wall-clock seconds (time.time()) at which replayed time was `start`

    def __call__(self) -> datetime:
        return (self.start + timedelta(seconds=(time.time() - self.anchor) * self.speed)).astimezone(SHANGHAI)
