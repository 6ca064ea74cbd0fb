"""`hotline up` and `hotline demo`: broker, worker and web app as one foreground job."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import click

from cli import runstate, services
from cli.settings import ConfigError, Settings
from streams.broker import EmbeddedBroker, create_topics, wait_for_port


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _child(args: list[str], log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "cli.main", *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=str(Path(__file__).resolve().parent.parent))


def _stop(processes: list[subprocess.Popen], grace: float = 20) -> None:
    """SIGTERM to all at once; those still running after the grace are killed."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def run_stack(settings: Settings, model_path: Path | None = None, demo_rate: float | None = None,
              demo_burst: int = 40) -> int:
    settings.home.mkdir(parents=True, exist_ok=True)
    existing = runstate.read(settings.run_file)
    if existing:
        raise click.ClickException(f"hotline is already running (pid {existing['pid']}, web {existing['web']}); stop it first")
    if not _port_free(settings.web_host, settings.web_port):
        raise click.ClickException(f"port {settings.web_port} on {settings.web_host} is in use; set HOTLINE_WEB_PORT")
    try:
        # configuration errors show now, not at the first ticket
        services.build_users(settings, services.build_router(settings))
        services.build_deadlines(settings)
        services.build_alert_policy(settings)
        services.build_opinion_settings(settings)
        if settings.env.get("HOTLINE_CLOCK_START") and not settings.env.get("HOTLINE_CLOCK_ANCHOR"):
            # one replayed time for the worker and the web app, whenever each of them starts
            os.environ["HOTLINE_CLOCK_ANCHOR"] = settings.env["HOTLINE_CLOCK_ANCHOR"] = str(time.time())
        notice = services.build_calendar(settings).gap_notice(services.build_clock(settings)().date())
        if model_path:
            settings.model_path = model_path
        model = services.ensure_model(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None

    demo = demo_rate is not None
    db = settings.home / "demo.db" if demo else settings.db_path
    if demo:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    logs = settings.home / "logs"
    broker = None
    processes: list[tuple[str, subprocess.Popen]] = []
    replay = None
    stopping = {"signal": None}

    def on_signal(signum, _frame):
        stopping["signal"] = signum

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if settings.bootstrap:
            bootstrap = settings.bootstrap
        else:
            broker = EmbeddedBroker(log_path=logs / "broker.log").start()
            bootstrap = broker.bootstrap
        create_topics(bootstrap, settings.topics)
        services.open_store(db).close()
        readers = {"worker": ["worker", "--bootstrap", bootstrap, "--db", str(db), "--model", str(model)],
                   "monitor": ["monitor", "--bootstrap", bootstrap, "--db", str(db)]}
        processes += [(name, _child(args, logs / f"{name}.log")) for name, args in readers.items()]
        processes.append(("web", _child(["web", "--bootstrap", bootstrap, "--db", str(db),
                                         "--host", settings.web_host, "--port", str(settings.web_port)], logs / "web.log")))
        wait_for_port(settings.web_host, settings.web_port, 60)
        url = f"http://{settings.web_host}:{settings.web_port}"
        runstate.write(settings.run_file, {
            "pid": os.getpid(), "bootstrap": bootstrap, "web": url, "db": str(db), "model": str(model),
            "embedded_broker": broker is not None, "started_at": datetime.now().isoformat(timespec="seconds"),
        })
        click.echo(f"hotline is up: web {url} (users in config/users.yaml), Kafka {bootstrap}"
                   f"{' (embedded Tansu)' if broker else ''}, store {db}, logs {logs}. Ctrl-C stops.")
        if notice:
            click.echo(f"note: {notice}", err=True)

        if demo:
            from cli.demo import DemoReplay

            replay = DemoReplay(bootstrap, settings.max_record_bytes, services.store_for(settings, db),
                                services.build_clock(settings), services.build_calendar(settings), demo_rate,
                                demo_burst, click.echo)
        while stopping["signal"] is None:
            if broker and (code := broker.exit_code()) is not None:
                # Tansu keeps data in memory only: its records, offsets and groups are gone (the store keeps
                # what was processed). The worker and the monitor start again with it, so that they read the
                # new topics from their start; the web app's producer reconnects. They stop before the new
                # broker is up: a reader that met the new topics would read them from its positions in the lost
                # ones, past records it never saw, and could commit those positions in the new, empty group.
                # Without a broker they cannot leave their groups or commit: a few seconds' grace, not twenty.
                click.echo(f"the embedded broker stopped (exit {code}); stopping the worker and monitor, then "
                           f"restarting it on {bootstrap} with empty topics, and them with it "
                           f"(see {logs / 'broker.log'})", err=True)
                _stop([process for name, process in processes if name in readers], grace=5)
                broker.start()
                create_topics(bootstrap, settings.topics)
                processes = [(name, _child(readers[name], logs / f"{name}.log") if name in readers else process)
                             for name, process in processes]
            for name, process in processes:
                if process.poll() is not None:
                    click.echo(f"the {name} stopped (exit {process.returncode}); see {logs / (name + '.log')}", err=True)
                    return 1
            if replay:
                replay.step()
            time.sleep(0.05 if replay and not replay.done else 0.3)
        click.echo("stopping ...")
        return 0
    finally:
        if replay:
            replay.close()
        _stop([process for _, process in processes])
        if broker:
            broker.stop()
        runstate.remove(settings.run_file, os.getpid())
        for s, handler in previous.items():
            signal.signal(s, handler)
