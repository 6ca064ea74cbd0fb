"""Shared fixtures: the sample model, the shared data folder, and a running `hotline up`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

PROJECT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT.parent / "shared" / "data"
ARTIFACTS = PROJECT / "test-artifacts"


def hotline_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_model(tmp_path_factory) -> Path:
    """The domain model trained on the bundled sample, once per test session."""
    from cli import services
    from cli.settings import load_settings

    home = tmp_path_factory.mktemp("model-home")
    settings = load_settings({"HOTLINE_HOME": str(home)})
    return services.ensure_model(settings, echo=lambda *_: None)


@dataclass
class Stack:
    home: Path
    env: dict
    url: str
    process: subprocess.Popen
    state: dict
    log: Path

    def run(self, *args: str, input: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(hotline_command(*args), env=self.env, cwd=PROJECT, capture_output=True,
                              input=input, timeout=timeout)

    def export(self, rejected: bool = False) -> list[dict]:
        result = self.run("export", *(["--rejected"] if rejected else []))
        assert result.returncode == 0, result.stderr.decode()
        return [json.loads(line) for line in result.stdout.decode().splitlines()]

    def client(self, user: str = "dispatcher") -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(user, f"{user}-demo"), timeout=30)


def start_stack(home: Path, model: Path, extra_env: dict | None = None, command: tuple[str, ...] = ("up",)) -> Stack:
    port = free_port()
    env = {**os.environ, "HOTLINE_HOME": str(home), "HOTLINE_WEB_PORT": str(port), "HOTLINE_MODEL": str(model),
           **(extra_env or {})}
    env.pop("HOTLINE_KAFKA_BOOTSTRAP", None)
    env.pop("HOTLINE_DB", None)
    log = home / "up.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(hotline_command(*command), env=env, cwd=PROJECT, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"hotline up exited {process.returncode}:\n{log.read_text()}")
            run_file = home / "run.json"
            if run_file.exists():
                try:
                    if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                        return Stack(home, env, url, process, json.loads(run_file.read_text()), log)
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"hotline up not ready after 180 s:\n{log.read_text()}")
            time.sleep(0.5)
    except BaseException:
        stop_stack(process)
        raise


def stop_stack(process: subprocess.Popen, timeout: float = 60) -> int | None:
    """Ctrl-C the stack; kill its whole process group if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)
    return process.returncode


@pytest.fixture(scope="session")
def stack(tmp_path_factory, sample_model) -> Stack:
    """One `hotline up` (embedded Tansu broker, worker, web app) shared by the end-to-end tests."""
    running = start_stack(tmp_path_factory.mktemp("stack-home"), sample_model)
    try:
        yield running
    finally:
        stop_stack(running.process)


def wait_until(predicate, timeout: float = 60, interval: float = 0.5, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not reached within {timeout} s")
        time.sleep(interval)
