"""How other commands find a running `hotline up` on this machine: a small JSON file in HOTLINE_HOME."""

from __future__ import annotations

import json
import os
from pathlib import Path


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(path)


def read(path: Path) -> dict | None:
    """The state of a live `hotline up`, or None (a file left by a dead one is ignored)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return state if pid_alive(int(state.get("pid", -1))) else None


def remove(path: Path, pid: int) -> None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return
    if state.get("pid") == pid:
        path.unlink(missing_ok=True)
