"""`hotline`: the command line of hotline-pipeline."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import timedelta
from pathlib import Path

import click

from cli import services
from cli.settings import ConfigError, load_settings

CHANNEL = click.Choice(["hotline", "web"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Process 12345 hotline tickets and web messages: intake, classification, routing, storage."""
    try:
        ctx.obj = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


# -- running the system ---------------------------------------------------------------------------

@main.command()
@click.option("--model", "model_path", type=click.Path(path_type=Path), help="Domain model file (default: the sample model).")
@click.pass_obj
def up(settings, model_path):
    """Start broker, worker, opinion monitor and web app in the foreground; Ctrl-C stops them all."""
    from cli.stack import run_stack

    sys.exit(run_stack(settings, model_path=model_path))


@main.command()
@click.option("--rate", default=4.0, show_default=True, help="Records per second after the first burst.")
@click.option("--burst", default=40, show_default=True, help="Records sent at once when the stack is up.")
@click.option("--model", "model_path", type=click.Path(path_type=Path), help="Domain model file (default: the sample model).")
@click.pass_obj
def demo(settings, rate, burst, model_path):
    """Like `up`, on a fresh demo store, replaying the bundled sample tickets and web messages."""
    from cli.stack import run_stack

    sys.exit(run_stack(settings, model_path=model_path, demo_rate=rate, demo_burst=burst))


@main.command()
@click.option("--bootstrap", help="Kafka address (default: configured, or the running `hotline up`).")
@click.option("--db", "db", type=click.Path(path_type=Path), help="SQLite store file.")
@click.option("--model", "model_path", type=click.Path(path_type=Path), help="Domain model file.")
@click.option("--type-model", "type_model_path", type=click.Path(path_type=Path),
              help="Ticket-type model for tickets without a type (default: configured, else none).")
@click.option("--loglevel", default="warn", type=click.Choice(["crit", "error", "warn", "info", "debug"]))
@click.pass_obj
def worker(settings, bootstrap, db, model_path, type_model_path, loglevel):
    """Run one stream worker (Faust): intake -> normalise -> classify -> route -> store."""
    from streams.app import build_app, run_worker

    bootstrap = bootstrap or services.bootstrap_or_fail(settings)
    store = services.store_for(settings, db)
    pipeline = services.build_pipeline(settings, store, model_path, type_model_path)
    app = build_app(
        bootstrap, pipeline, store, datadir=settings.home / "faust",
        lifecycle=services.build_lifecycle(settings, pipeline.router),
        batch_size=settings.batch_size, batch_within=settings.batch_within, clock=pipeline.clock,
        watch=(services.build_alert_policy(settings), services.build_calendar(settings)),
    )
    run_worker(app, loglevel)


@main.command()
@click.option("--bootstrap", help="Kafka address (default: configured, or the running `hotline up`).")
@click.option("--db", "db", type=click.Path(path_type=Path), help="SQLite store file.")
@click.option("--loglevel", default="warn", type=click.Choice(["crit", "error", "warn", "info", "debug"]))
@click.pass_obj
def monitor(settings, bootstrap, db, loglevel):
    """Run the opinion monitor (Faust): hot topics and surges over every dispatched ticket."""
    from streams.app import build_monitor_app, run_worker

    bootstrap = bootstrap or services.bootstrap_or_fail(settings)
    store = services.store_for(settings, db)
    app = build_monitor_app(bootstrap, store, datadir=settings.home / "faust-monitor",
                            opinion=services.build_opinion_settings(settings), batch_size=settings.batch_size,
                            batch_within=settings.batch_within, clock=services.build_clock(settings))
    run_worker(app, loglevel)


@main.command()
@click.pass_obj
def topics(settings):
    """Create the configured topics on the configured Kafka (those that do not exist yet)."""
    from streams.broker import create_topics

    bootstrap = services.bootstrap_or_fail(settings)
    create_topics(bootstrap, settings.topics)
    click.echo(f"topics on {bootstrap}: " + ", ".join(f"{name} ({count})" for name, count in settings.topics.items()))


@main.command()
@click.option("--host", help="Address to listen on (default from config).")
@click.option("--port", type=int, help="Port (default from config / HOTLINE_WEB_PORT).")
@click.option("--bootstrap", help="Kafka address for the HTTP intake.")
@click.option("--db", "db", type=click.Path(path_type=Path), help="SQLite store file.")
@click.pass_obj
def web(settings, host, port, bootstrap, db):
    """Run the web app (pages and JSON API)."""
    import uvicorn

    from hotline.process import settle_garbage_collector
    from streams.producer import HotlineProducer
    from webapp.app import create_app
    from webapp.auth import session_secret

    bootstrap = bootstrap or settings.bootstrap or None
    router = services.build_router(settings)
    app = create_app(
        store=services.store_for(settings, db),
        users=services.build_users(settings, router),
        router=router,
        lifecycle=services.build_lifecycle(settings, router),
        clock=services.build_clock(settings),
        alert_policy=services.build_alert_policy(settings),
        bootstrap=bootstrap,
        segmenter=services.segmenter(settings),
        secret=session_secret(settings.home, settings.env),
        producer=(lambda: HotlineProducer(bootstrap, settings.max_record_bytes)) if bootstrap else None,
        limits=settings.limits,
    )
    settle_garbage_collector()
    uvicorn.run(app, host=host or settings.web_host, port=port or settings.web_port, log_level="warning")


# -- data in and out ------------------------------------------------------------------------------

@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--channel", type=CHANNEL, required=True, help="hotline (call-centre tickets) or web (web messages).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), help="Default: from the file name.")
@click.option("--encoding", default="utf-8-sig", show_default=True, help="Text encoding of a CSV file (e.g. gb18030).")
@click.option("--sheet", help="XLSX sheet (default: the first).")
@click.option("--id-col", help="Column with the source id.")
@click.option("--title-col", help="Column with the title.")
@click.option("--text-col", help="Column with the text.")
@click.option("--time-col", help="Column with the time received.")
@click.option("--caller-col", help="Hotline: column with the caller's name.")
@click.option("--phone-col", help="Hotline: column with the caller's phone number.")
@click.option("--district-col", help="Column with the district.")
@click.option("--type-col", help="Hotline: column with the ticket type (咨询/求助/投诉/举报/建议).")
@click.option("--urgency-col", help="Hotline: column with the urgency (一般/紧急).")
@click.option("--author-col", help="Web: column with the author.")
@click.option("--likes-col", help="Web: column with the number of likes.")
@click.option("--reply-col", help="Column with a historical reply (答复意见): replayed as a reply event.")
@click.option("--reply-time-col", help="Column with the time of that reply (答复时间).")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until every row is stored or rejected.")
@click.option("--timeout", default=600.0, show_default=True, help="Longest wait for the pipeline, in seconds.")
@click.pass_obj
def ingest(settings, path, channel, fmt, encoding, sheet, wait, timeout, **cols):
    """Send the rows of a CSV, XLSX or JSONL file to the intake topic of a channel."""
    from cli.ingest import run_ingest

    columns = {name[:-4]: value for name, value in cols.items() if value}
    if ("reply" in columns) != ("reply_time" in columns):
        raise click.UsageError("give --reply-col and --reply-time-col together")
    if "reply" in columns and not wait:
        raise click.UsageError("replies are replayed once their tickets are stored: --reply-col needs --wait")
    from streams.producer import DeliveryError

    try:
        code = run_ingest(settings, path, channel, columns, fmt, encoding, sheet, wait, timeout)
    except DeliveryError as exc:
        raise click.ClickException(f"{exc}. Run the same ingest again: rows already kept are kept once.") from None
    sys.exit(code)


def _period(start: str, end: str):
    """The period of --from and --to, whole days, both included."""
    from hotline.statistics import Period
    from hotline.timestamps import SHANGHAI, TimestampError, parse_timestamp

    try:
        first, last = (parse_timestamp(day).astimezone(SHANGHAI).date() for day in (start, end))
    except TimestampError as exc:
        raise click.BadParameter(str(exc)) from None
    if last < first:
        raise click.BadParameter(f"--to {end} is before --from {start}")
    return Period.days(first, last)


@main.command()
@click.option("--from", "start", required=True, help="First day of the period (received on or after).")
@click.option("--to", "end", required=True, help="Last day of the period (inclusive).")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "html"]), default="md", show_default=True)
@click.option("--domain", help="Only tickets of this domain.")
@click.option("--district", help="Only tickets of this district.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: standard output).")
@click.option("--db", "db", type=click.Path(path_type=Path), help="SQLite store file.")
@click.pass_obj
def report(settings, start, end, fmt, domain, district, out, db):
    """Per-unit figures for a period: on-time rate, reply time, satisfaction, returns, overdue."""
    from cli.report import render, rows
    from hotline.statistics import FIELDS, unit_statistics
    from stores.base import TicketQuery

    period = _period(start, end)
    first, last = period.start, period.end - timedelta(days=1)
    router = services.build_router(settings)
    now = services.build_clock(settings)()
    store = services.read_store(settings, db)
    tickets = list(store.iter_tickets(TicketQuery(received=period, domain=domain, district=district), fields=FIELDS))
    units, total = unit_statistics(tickets, now)
    title = f"12345热线办理情况报告 {first:%Y-%m-%d} 至 {last:%Y-%m-%d}"
    notes = [f"工单 {total.tickets} 件（受理时间在此期间" + (f"，领域 {domain}" if domain else "")
             + (f"，{district}" if district else "") + "）",
             "签收超时 = 晚于签收时限签收，或超过签收时限未签收；工单此后改派、退回或重办，仍计入当时的承办单位；"
             "签收及时率 = 按时签收 / (按时签收 + 签收超时)",
             "按时办结率 = 期限内答复 / 有答复期限的答复；满意率 = (满意 + 基本满意) / 回访；"
             "退单率 = 本单位退回的工单 / 派给本单位的工单（全部单位：退过单的工单 / 工单）",
             "待派单：等待派单员派单的工单（未派出或被退回），计入热线中心，不计入建议的承办单位",
             "答复用时从受理起算：工作日按节假日与调休日历及办公时间计，自然日按实际时长计"]
    text = render(fmt, rows(units, total, router.unit_name), title, now, notes)
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out} ({total.tickets} tickets, {len(units)} units)", err=True)
    else:
        click.echo(text, nl=False)


@main.command()
@click.option("--from", "start", required=True, help="First day of the period (received on or after).")
@click.option("--to", "end", required=True, help="Last day of the period (inclusive).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--domain", help="Only tickets of this domain.")
@click.option("--district", help="Only tickets of this district.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output); a CSV file begins with a byte-order mark for Excel.")
@click.option("--db", "db", type=click.Path(path_type=Path), help="SQLite store file.")
@click.pass_obj
def archive(settings, start, end, fmt, domain, district, out, db):
    """Answered tickets of a period for publication (归档公开): personal data removed, reports (举报) withheld."""
    from cli.archive import write_archive
    from hotline.archive import WITHHELD_REASONS, publication_mask
    from stores.base import TicketQuery

    selected = TicketQuery(received=_period(start, end), domain=domain, district=district)
    router = services.build_router(settings)
    store = services.read_store(settings, db)
    mask_text = publication_mask(services.segmenter(settings))
    if out:
        with open(out, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as handle:
            counts = write_archive(store, selected, router.unit_name, fmt, handle, mask_text)
    else:
        counts = write_archive(store, selected, router.unit_name, fmt, click.get_text_stream("stdout"), mask_text)
    withheld = ", ".join(f"{WITHHELD_REASONS[k]} {n}" for k, n in sorted(counts.items()) if k != "published")
    where = f" to {out}" if out else ""
    click.echo(f"{counts['published']} ticket(s) published{where}" + (f"; withheld: {withheld}" if withheld else ""),
               err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON: deadline alerts and surge alerts.")
@click.option("--all", "everything", is_flag=True,
              help="Every alert kept, also those acknowledged or no longer applying (hotline.alerts.still_applies).")
@click.option("--limit", default=500, show_default=True)
@click.option("--db", "db", type=click.Path(path_type=Path), help="SQLite store file.")
@click.pass_obj
def alerts(settings, as_json, everything, limit, db):
    """Open alerts, newest first: due-soon warnings, overdue escalations and late acceptances still applying now,
    and surge alerts."""
    store = services.read_store(settings, db)
    found = store.alerts(open_at=None if everything else services.build_clock(settings)(), limit=limit)
    surges = store.opinion_alerts(open_only=not everything, limit=limit)
    if as_json:
        click.echo(json.dumps({"alerts": found, "surges": surges}, ensure_ascii=False, indent=2))
        return
    for alert in found:
        click.echo(f"{alert['raised_at'][:16]}  {alert['ticket_id']}  {alert['kind']} L{alert['level']}  {alert['message']}")
    for surge in surges:
        click.echo(f"{surge['raised_at'][:16]}  {surge['kind']}  {surge['label'] or surge['key']}  {surge['observed']} in the window, "
                   f"{surge['expected']:.1f} expected")
    click.echo(f"{len(found)} deadline alert(s), {len(surges)} surge alert(s)", err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--window", type=click.Choice(["hour", "day", "week"]), default="day", show_default=True)
@click.option("--limit", default=20, show_default=True)
@click.option("--db", "db", type=click.Path(path_type=Path), help="SQLite store file.")
@click.pass_obj
def hotspots(settings, as_json, window, limit, db):
    """Current hot topics (热点): heat, trend, districts and member tickets."""
    from hotline.topics import WINDOWS, hot_topics

    store = services.read_store(settings, db)
    now = services.build_clock(settings)()
    topics = hot_topics(store.hot_topics(now - WINDOWS[window]), now, WINDOWS[window], limit)
    if as_json:
        click.echo(json.dumps({"now": now.isoformat(), "window": window, "topics": topics}, ensure_ascii=False, indent=2))
        return
    for topic in topics:
        click.echo(f"{topic['heat']:7.1f}  {topic['members_in_window']:4d}  {topic['label']}")
    click.echo(f"{len(topics)} topic(s) in the last {window}", err=True)


@main.command()
@click.option("--rejected", is_flag=True, help="Print the dead letters with their reasons instead of the tickets.")
@click.option("--db", "db", type=click.Path(path_type=Path), help="SQLite store file.")
@click.pass_obj
def export(settings, rejected, db):
    """Print stored tickets (or dead letters) as JSON Lines."""
    from cli.export import ticket_line

    store = services.read_store(settings, db)
    out = click.get_text_stream("stdout")
    if rejected:
        for letter in store.iter_rejections():
            letter.pop("seq", None)
            out.write(json.dumps(letter, ensure_ascii=False) + "\n")
    else:
        for ticket in store.iter_tickets():
            out.write(json.dumps(ticket_line(ticket), ensure_ascii=False) + "\n")


# -- the classifier -------------------------------------------------------------------------------

def _labelled_options(func):
    for option in reversed([
        click.option("--data", "data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="CSV file."),
        click.option("--title-col", help="Column with the title (optional)."),
        click.option("--text-col", required=True, help="Column with the text."),
        click.option("--label-col", required=True, help="Column with the label."),
        click.option("--encoding", default="utf-8-sig", show_default=True),
    ]):
        func = option(func)
    return func


@main.command()
@_labelled_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Model file to write.")
@click.option("--cv", default=5, show_default=True, help="Cross-validation folds for the model card's metrics (0: none).")
@click.option("--task", default="domain", show_default=True, type=click.Choice(["domain", "ticket_type"]),
              help="What the labels are: first-level domains or ticket types.")
@click.option("--with-corrections", is_flag=True,
              help="Add the dispatchers' corrections from the store (domain task) as labelled examples.")
@click.option("--db", "db", type=click.Path(path_type=Path), help="Store with the corrections (default: the running one).")
@click.option("--extra", "extra", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="More labelled data, e.g. train_tokenized.csv: trained on, but the model card's metrics are "
                   "measured on --data only (near-copies of each test fold dropped).")
@click.option("--extra-text-col", default="tokens", show_default=True, help="Column of --extra with the text.")
@click.option("--extra-label-col", help="Column of --extra with the label (default: --label-col).")
@click.pass_obj
def train(settings, data, title_col, text_col, label_col, encoding, out, cv, task, with_corrections, db,
          extra, extra_text_col, extra_label_col):
    """Train the domain classifier; the model file carries its model card."""
    from tqdm import tqdm

    from classifiers import model_file

    texts, labels = services.read_labelled_csv(data, title_col, text_col, label_col, encoding)
    if not texts:
        raise click.ClickException(f"{data}: no labelled rows")
    source = str(data)
    if with_corrections:
        if task != "domain":
            raise click.UsageError("--with-corrections adds domain labels: use it with --task domain")
        corrections = services.read_store(settings, db).corrections()
        texts += [f"{c['title']}\n{c['text']}" for c in corrections]
        labels += [c["domain"] for c in corrections]
        source += f" + {len(corrections)} dispatcher corrections"
        click.echo(f"adding {len(corrections)} dispatcher corrections", err=True)
    more = services.read_labelled_csv(extra, None, extra_text_col, extra_label_col or label_col, encoding) if extra else None
    with tqdm(total=len(texts) + len(more[0] if more else []), desc="segmenting", unit="row", file=sys.stderr) as bar:
        def progress(done, total):
            bar.update(done - bar.n)
        click.echo(f"training on {len(texts)} rows{f' + {len(more[0])} extra rows' if more else ''} "
                   f"({cv}-fold cross-validation for the model card) ...", err=True)
        try:
            model = model_file.train(texts, labels, services.segmenter(settings), source=source, cv_folds=cv,
                                     progress=progress, task=task, extra=more, extra_source=str(extra) if extra else None)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    model.save(out)
    click.echo(model_file.card_json(model))


@main.command()
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_labelled_options
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_obj
def evaluate(settings, model_path, data, title_col, text_col, label_col, encoding, as_json):
    """Measure a model on labelled data: macro-F1, accuracy, per-class F1, confusion matrix."""
    from classifiers.metrics import report

    model = services.load_model(settings, model_path)
    texts, labels = services.read_labelled_csv(data, title_col, text_col, label_col, encoding)
    if not texts:
        raise click.ClickException(f"{data}: no labelled rows")
    predicted = [p.label for p in model.predict(texts)]
    result = report(labels, predicted, labels=sorted(set(model.classes) | set(labels)))
    result["model_version"] = model.version
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"model {model.version} on {len(texts)} rows: macro-F1 {result['macro_f1']:.4f}, accuracy {result['accuracy']:.4f}")
    for label, figures in result["per_class"].items():
        click.echo(f"  {label:<10} F1 {figures['f1']:.4f}  support {figures['support']}")


@main.command()
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("file", required=False, type=click.File("r", encoding="utf-8"))
@click.option("--title-col", default="title", show_default=True, help="JSONL/CSV field with the title.")
@click.option("--text-col", default="text", show_default=True, help="JSONL/CSV field with the text.")
@click.option("--id-col", default="id", show_default=True, help="Field copied to the output when present.")
@click.pass_obj
def classify(settings, model_path, file, title_col, text_col, id_col):
    """Classify texts: FILE is JSONL or CSV (or plain lines on standard input); JSONL out."""
    from cli.export import classify_stream

    model = services.load_model(settings, model_path)
    source = file or click.get_text_stream("stdin")
    classify_stream(model, source, title_col, text_col, id_col, click.get_text_stream("stdout"))


# -- measuring ------------------------------------------------------------------------------------

@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--records", default=20_000, show_default=True, help="Records for each throughput figure.")
@click.option("--latency-rate", default=1000.0, show_default=True, help="Records/s offered for the latency figure.")
@click.option("--latency-seconds", default=15.0, show_default=True, help="How long that rate is offered.")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Domain model (default: the configured one).")
@click.pass_obj
def bench(settings, as_json, records, latency_rate, latency_seconds, model_path):
    """Throughput, latency, memory and classification speed on an embedded broker, each next to its
    reference (the work alone, a raw aiokafka consumer, a Faust agent doing nothing). Progress on stderr."""
    from cli.bench import run_bench

    started = time.monotonic()
    result = run_bench(settings, records, model_path, latency_rate, latency_seconds,
                       progress=lambda m: click.echo(f"[{time.monotonic() - started:6.1f} s] {m}", err=True))
    click.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else
               "\n".join(f"{k}: {v}" for k, v in result.items()))


@main.group()
def sla():
    """Working-time deadlines under the Chinese holiday calendar."""


@sla.command()
@click.option("--received", required=True, help="When the ticket was received (ISO 8601; Asia/Shanghai unless an offset is given).")
@click.option("--working-days", type=click.IntRange(min=1), help="Deadline in working days (the day of receipt does not count).")
@click.option("--working-hours", type=click.FloatRange(min=0, min_open=True), help="Deadline in office hours.")
@click.option("--json", "as_json", is_flag=True, help="Print the deadline and any warnings as JSON.")
@click.pass_obj
def due(settings, received, working_days, working_hours, as_json):
    """Print the deadline for a ticket received at --received."""
    from hotline.timestamps import TimestampError, parse_timestamp

    if (working_days is None) == (working_hours is None):
        raise click.UsageError("give exactly one of --working-days and --working-hours")
    try:
        moment = parse_timestamp(received)
    except TimestampError as exc:
        raise click.BadParameter(str(exc), param_hint="--received") from None
    calendar = services.build_calendar(settings)
    deadline = (calendar.add_working_days(moment, working_days) if working_days
                else calendar.add_working_hours(moment, working_hours))
    for warning in deadline.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps({"received": moment.isoformat(), "due": deadline.at.isoformat(),
                               "warnings": list(deadline.warnings)}, ensure_ascii=False))
    else:
        click.echo(deadline.at.isoformat())


@main.command("hash-password")
@click.password_option()
def hash_password(password):
    """Print a password hash for config/users.yaml."""
    from webapp.auth import hash_password as make

    click.echo(make(password))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
