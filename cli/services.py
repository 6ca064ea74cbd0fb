"""Building the pieces from settings: model, router, store, users; finding a running `hotline up`."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import click

from classifiers import model_file
from classifiers.segment import Segmenter
from cli import runstate
from cli.settings import SAMPLES_DIR, ConfigError, Settings, read_yaml, yaml_line
from hotline.calendar import CalendarConfigError, WorkCalendar
from hotline.alerts import AlertPolicy, AlertPolicyError
from hotline.clock import Clock, ReplayClock, system_clock
from hotline.deadlines import DeadlinePolicy, DeadlinePolicyError
from hotline.lifecycle import Lifecycle
from hotline.routing import Router, RoutingConfigError
from hotline.surges import SurgeSettings
from hotline.topics import TopicSettings
from hotline.timestamps import TimestampError, parse_timestamp
from stores.base import Store
from stores.sqlite import SQLiteStore


def build_router(settings: Settings) -> Router:
    """The router from config/routing.yaml; an error names the file and the line of the entry at fault."""
    path = settings.routing_file
    try:
        return Router.from_config(read_yaml(path))
    except RoutingConfigError as exc:
        line = yaml_line(path, exc.where)
        raise ConfigError(f"{path}{f':{line}' if line else ''}: {exc}") from None


def build_users(settings: Settings, router: Router):
    """The users of config/users.yaml, each unit user's unit checked against the router's units; an error
    names the file and the line of the entry at fault."""
    from webapp.auth import Users, UsersConfigError

    path = settings.users_file
    try:
        return Users.from_config(read_yaml(path), units=set(router.units))
    except UsersConfigError as exc:
        line = yaml_line(path, exc.where)
        raise ConfigError(f"{path}{f':{line}' if line else ''}: {exc}") from None


def build_calendar(settings: Settings) -> WorkCalendar:
    """chinese-calendar's holidays and make-up workdays, with config/calendar.yaml on top."""
    import chinese_calendar

    years = {d.year for d in [*chinese_calendar.holidays, *chinese_calendar.workdays]}
    try:
        return WorkCalendar.build(chinese_calendar.holidays.keys(), chinese_calendar.workdays.keys(),
                                  range(min(years), max(years) + 1), read_yaml(settings.calendar_file))
    except CalendarConfigError as exc:
        raise ConfigError(f"{settings.calendar_file}: {exc}") from None


def build_deadlines(settings: Settings) -> tuple[DeadlinePolicy, WorkCalendar]:
    path = settings.config_dir / "deadlines.yaml"
    try:
        policy = DeadlinePolicy.from_config(read_yaml(path))
    except DeadlinePolicyError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return policy, build_calendar(settings)


def build_lifecycle(settings: Settings, router: Router | None = None) -> Lifecycle:
    policy, calendar = build_deadlines(settings)
    return Lifecycle((router or build_router(settings)).max_returns, calendar, policy)


def build_alert_policy(settings: Settings) -> AlertPolicy:
    path = settings.config_dir / "alerts.yaml"
    try:
        return AlertPolicy.from_config(read_yaml(path))
    except AlertPolicyError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def build_opinion_settings(settings: Settings) -> tuple[TopicSettings, SurgeSettings]:
    path = settings.config_dir / "opinion.yaml"
    data = read_yaml(path)
    try:
        return TopicSettings.from_config(data.get("topics") or {}), SurgeSettings.from_config(data.get("surges") or {})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def build_clock(settings: Settings) -> Clock:
    """The system clock, or a replayed one: HOTLINE_CLOCK_START (ISO time) runs from that moment,
    HOTLINE_CLOCK_SPEED times faster than the wall clock, anchored at HOTLINE_CLOCK_ANCHOR (Unix seconds;
    default: now), so the worker and the web app started by `hotline up` share one replayed time."""
    start = settings.env.get("HOTLINE_CLOCK_START")
    if not start:
        return system_clock
    try:
        return ReplayClock(parse_timestamp(start), float(settings.env.get("HOTLINE_CLOCK_SPEED") or 1),
                           float(settings.env.get("HOTLINE_CLOCK_ANCHOR") or time.time()))
    except (TimestampError, ValueError) as exc:
        raise ConfigError(f"HOTLINE_CLOCK_START/SPEED/ANCHOR: {exc}") from None


def open_store(db_path: Path) -> SQLiteStore:
    return SQLiteStore(db_path)


def store_for(settings: Settings, db: Path | None = None) -> Store:
    """The configured store: Elasticsearch when HOTLINE_ES_URL (or store.elasticsearch) is set, else the
    SQLite file (--db, the running `hotline up`'s, or the configured one)."""
    if settings.es_url:
        from stores.elasticsearch import ElasticsearchStore

        return ElasticsearchStore(settings.es_url)
    return open_store(db or db_path(settings))


def read_store(settings: Settings, db: Path | None = None) -> Store:
    """The store for a command that only reads it: a SQLite file that is not there is an error (a mistyped
    --db, or nothing started yet), not a new empty store that answers with nothing."""
    if not settings.es_url:
        path = Path(db or db_path(settings))
        if not path.is_file():
            raise click.ClickException(f"no store at {path}: nothing has been stored there (`hotline up` creates "
                                       "it; --db names another file)")
    return store_for(settings, db)


def segmenter(settings: Settings) -> Segmenter:
    return Segmenter(settings.userdict)


def read_labelled_csv(path: Path, title_col: str | None, text_col: str, label_col: str,
                      encoding: str = "utf-8-sig") -> tuple[list[str], list[str]]:
    """Texts (title and text joined) and labels from a CSV; rows without a label are skipped."""
    texts, labels = [], []
    with open(path, encoding=encoding, newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        for column in filter(None, (title_col, text_col, label_col)):
            if column not in header:
                raise click.UsageError(f"{path}: no column {column!r}; the file has: {', '.join(header)}")
        for row in reader:
            label = (row.get(label_col) or "").strip()
            if not label:
                continue
            title = (row.get(title_col) or "") if title_col else ""
            texts.append(f"{title}\n{row.get(text_col) or ''}".strip())
            labels.append(label)
    return texts, labels


def ensure_model(settings: Settings, echo=click.echo) -> Path:
    """The configured model; the default one is trained from the bundled sample when missing."""
    path = settings.model_path
    if path != settings.default_model_path:
        if not path.exists():
            raise ConfigError(f"model file {path} does not exist (train one with `hotline train`)")
        return path
    texts, labels = read_labelled_csv(SAMPLES_DIR / "training.csv", "title", "text", "label")
    if path.exists():
        try:
            if load_model(settings, path).card["data"]["sha256"] == model_file.data_hash(texts, labels):
                return path
        except Exception:  # a model file of an earlier version: train it again
            pass
    echo(f"training the sample domain model into {path} ...")
    model = model_file.train(texts, labels, segmenter(settings), source="samples/training.csv", cv_folds=3)
    model.save(path)
    return path


def build_pipeline(settings: Settings, store, model_path: Path | None = None, type_model_path: Path | None = None):
    """The pipeline a worker runs: the domain model (and the ticket-type model, when one is given or configured)
    read again when its file changes, the routing rules, the deadline policy and the configured clock."""
    from streams.pipeline import Pipeline

    shared = segmenter(settings)
    model = model_file.ModelFile(model_path or ensure_model(settings), shared)
    type_model_path = type_model_path or settings.type_model_path
    type_model = model_file.ModelFile(type_model_path, shared) if type_model_path else None
    return Pipeline(model, build_router(settings), store, settings.limits, clock=build_clock(settings),
                    type_model=type_model, deadlines=build_deadlines(settings))


def load_model(settings: Settings, path: Path | None = None) -> model_file.TrainedModel:
    return model_file.load(path or settings.model_path, segmenter(settings))


def running(settings: Settings) -> dict | None:
    return runstate.read(settings.run_file)


def bootstrap_or_fail(settings: Settings) -> str:
    """Kafka address: the configured one, else the running `hotline up`'s embedded broker."""
    if settings.bootstrap:
        return settings.bootstrap
    state = running(settings)
    if state:
        return state["bootstrap"]
    raise click.ClickException(
        f"no running `hotline up` found (looked for {settings.run_file}) and no Kafka configured; "
        "start `hotline up` or set HOTLINE_KAFKA_BOOTSTRAP"
    )


def db_path(settings: Settings) -> Path:
    state = running(settings)
    return Path(state["db"]) if state else settings.db_path


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)
