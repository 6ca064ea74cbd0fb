"""FastAPI app: log-in, ticket list and detail pages, dead letters, JSON API, live updates (SSE)."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import logging
import threading
import uuid
from collections import Counter
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi.exception_handlers import http_exception_handler
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from classifiers.segment import Segmenter
from hotline import pii
from hotline.alerts import AlertPolicy
from hotline.archive import publication_mask
from hotline.clock import Clock, system_clock
from hotline.lifecycle import (
    AWAITING_DISPATCH, STATUS_NAMES, InvalidEvent, Lifecycle, TransitionError, callback_given_up, holder,
    possible_events, state_of,
)
from hotline.models import EVENT_KINDS, Prediction, Ticket, TicketEvent
from hotline.records import Limits, RecordError, to_ticket
from hotline.routing import Router
from hotline.statistics import accept_overdue, overdue, overdue_and_due_soon
from hotline.timestamps import TimestampError, parse_timestamp
from hotline.topics import topic_label
from stores.base import FILTERS, ORDERS, Store, TicketQuery
from streams.producer import DeliveryError
from webapp.auth import User, Users, centre_only
from webapp.callbacks import callback_routes
from webapp.metrics import metrics_routes
from webapp.monitor import monitor_routes
from webapp.params import merged_tickets_href, received_period, topic_tickets_href
from webapp.supervision import supervision_routes

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)
MAX_INTAKE_BATCH = 1000
EVENT_NAMES = {
    "dispatched": "派单", "rerouted": "改派", "returned": "退单", "accepted": "签收", "paused": "等待市民补充",
    "resumed": "恢复办理", "extension_requested": "申请延期", "extension_approved": "批准延期",
    "extension_refused": "驳回延期", "replied": "答复", "closed": "办结", "callback": "回访",
    "callback_failed": "回访未接通", "reopened": "重办", "merged": "并单", "urged": "催办",
}
# Who may record each event: dispatchers dispatch, units handle, supervisors decide, the callback team calls back.
EVENT_PERMISSIONS = {
    "dispatched": "dispatch", "returned": "dispatch", "merged": "dispatch",
    "accepted": "handle", "paused": "handle", "resumed": "handle", "extension_requested": "handle", "replied": "handle",
    "rerouted": "supervise", "extension_approved": "supervise", "extension_refused": "supervise",
    "closed": "supervise", "reopened": "supervise", "callback": "callback", "callback_failed": "callback",
    "urged": "supervise",
}


class LoginRequired(Exception):
    pass


def create_app(store: Store, users: Users, router: Router, segmenter: Segmenter, secret: str,
               producer=None, domains: list[str] | None = None, poll_seconds: float = 1.0,
               lifecycle: Lifecycle | None = None, clock: Clock = system_clock,
               alert_policy: AlertPolicy | None = None, bootstrap: str | None = None,
               limits: Limits = Limits()) -> FastAPI:
    """The web app over a store. producer: a callable returning a HotlineProducer, or None (no Kafka: no HTTP
    intake and no dispatcher actions). domains: the classes a dispatcher may choose from. lifecycle: the
    rules events are checked against before they are sent (default: the router's return limit only).
    With a lifecycle that has a calendar and an alert policy, the supervision pages are served too.
    bootstrap: the Kafka address, for the consumer lag on /metrics. limits: the workers' (a dead letter's record
    sent again is checked against them)."""
    lifecycle = lifecycle or Lifecycle(router.max_returns)
    unit_names = {unit.id: unit.name for unit in router.units.values()}
    domains = list(domains or sorted({d for rule in router.rules for d in rule.domains}))
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    supervision = lifecycle.calendar is not None and alert_policy is not None
    templates.env.globals["supervision"] = supervision
    templates.env.globals["callbacks"] = lifecycle.policy is not None  # callbacks are due by the deadline policy
    templates.env.globals["unit_name"] = lambda unit_id: unit_names.get(unit_id, unit_id) or "—"  # "": merged unsent
    templates.env.globals["status_name"] = lambda status: STATUS_NAMES.get(status, status)
    producer_lock = threading.Lock()
    producer_holder: dict = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        # shutting down: the Kafka producer, then the store
        producer = producer_holder.pop("producer", None)
        if producer:
            try:
                producer.close()
            except DeliveryError as exc:  # every request already flushed: nothing accepted is in here
                log.warning("closing the Kafka producer: %s", exc)
        store.close()

    app = FastAPI(title="hotline-pipeline", version="0.1.0", lifespan=lifespan)
    app.add_middleware(SessionMiddleware, secret_key=secret,
                       session_cookie="hotline_session", same_site="strict", max_age=12 * 3600)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # -- who is asking ------------------------------------------------------------------------
    def _basic_user(request: Request) -> User | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            username, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return users.authenticate(username, password)

    def api_user(request: Request) -> User:
        user = users.get(request.session.get("user", "")) or _basic_user(request)
        if user is None:
            # The Basic challenge is left out for the pages' own requests (static/live.js, and their event
            # streams): a browser answers it with its log-in dialog and never hands the 401 to the page, which
            # would send the user to /login.
            page = (request.headers.get("x-requested-with") == "fetch"
                    or request.headers.get("accept") == "text/event-stream")
            raise HTTPException(401, "log in first (session or HTTP Basic)",
                                headers=None if page else {"WWW-Authenticate": "Basic"})
        return user

    def page_user(request: Request) -> User:
        user = users.get(request.session.get("user", ""))
        if user is None:
            raise LoginRequired()
        return user

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, _exc):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    def render(request: Request, name: str, user: User | None, **context):
        return templates.TemplateResponse(request, name, {"user": user, **context})

    @app.exception_handler(StarletteHTTPException)
    async def _error(request: Request, exc: StarletteHTTPException):
        """A page's refusal (no such ticket, another unit's ticket, …) as a page with the reason; the API's as JSON."""
        path = request.url.path
        if path.startswith(("/api/", "/static/")) or path in ("/metrics", "/docs", "/openapi.json"):
            return await http_exception_handler(request, exc)
        user = users.get(request.session.get("user", ""))
        return templates.TemplateResponse(request, "error.html", {"user": user, "status": exc.status_code,
                                                                  "detail": exc.detail}, status_code=exc.status_code)

    app.include_router(monitor_routes(store, clock, api_user, page_user, render, list(unit_names.values())))
    app.include_router(metrics_routes(store, clock, bootstrap))
    if lifecycle.policy is not None:
        app.include_router(callback_routes(store, unit_names, lifecycle.policy.callback.attempts, clock, api_user,
                                           page_user, render))
    if supervision:
        app.include_router(supervision_routes(store, unit_names, lifecycle.calendar, alert_policy, clock,
                                              api_user, page_user, render, publication_mask(segmenter)))

    # -- pages --------------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/tickets"):
        return render(request, "login.html", None, next=next, error=None)

    @app.post("/login")
    async def login(request: Request):
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        target = str(form.get("next") or "/tickets")
        if not target.startswith("/") or target.startswith("//"):
            target = "/tickets"
        user = await run_in_threadpool(users.authenticate, username, password)
        if user is None:
            return render(request, "login.html", None, next=target, error="用户名或密码错误 Wrong user name or password")
        request.session["user"] = user.username
        return RedirectResponse(target, status_code=303)

    @app.post("/logout")
    async def logout(request: Request):
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/")
    async def home():
        return RedirectResponse("/tickets", status_code=303)

    @app.get("/tickets", response_class=HTMLResponse)
    async def tickets_page(request: Request, user: User = Depends(page_user)):
        facets = await run_in_threadpool(store.facets, TicketQuery(unit=user.unit))  # the page's script follows its filters
        return render(request, "tickets.html", user, facets=facets, filters=FILTERS,
                      names={"lead_unit": unit_names, "status": STATUS_NAMES})

    @app.get("/tickets/{ticket_id}", response_class=HTMLResponse)
    async def ticket_page(request: Request, ticket_id: str, user: User = Depends(page_user)):
        ticket = await run_in_threadpool(stored_for, ticket_id, user)
        events = await run_in_threadpool(store.ticket_events, ticket_id)
        # what the user's role may record in the ticket's state now (dispatching is the queue's; a return has its
        # form); nothing on a ticket a unit only reads (one it has left)
        possible = possible_events(state_of(ticket)) if user.acts_on(ticket) else []
        actions = [k for k in possible if k not in ("dispatched", "returned") and getattr(user.role, EVENT_PERMISSIONS[k])]
        can_return = "returned" in possible and getattr(user.role, EVENT_PERMISSIONS["returned"])
        units = [{"id": u.id, "name": u.name} for u in router.units.values()]
        topic = await run_in_threadpool(store.topic_of, ticket_id)
        merge_into = await run_in_threadpool(merge_target, ticket_id, topic, user)
        merged = await run_in_threadpool(merges, ticket, user)
        # an open ticket past its reply deadline, or near it, as the supervision page counts it
        now = clock()
        late = overdue_and_due_soon([ticket], now, lifecycle.calendar, alert_policy.due_soon_working_hours) \
            if supervision else []
        return render(request, "ticket.html", user, ticket=_visible(ticket, user),
                      events=_visible_events(events, user, ticket), read_only=not user.acts_on(ticket),
                      actions=actions, can_return=can_return, action_names=EVENT_NAMES, units=units,
                      topic=_with_label(topic), merge_into=merge_into["ticket_id"] if merge_into else "",
                      late=late[0] if late else None, merged=merged, given_up=callback_given_up(ticket),
                      accept_overdue=accept_overdue(ticket, now))

    @app.get("/rejected", response_class=HTMLResponse)
    async def rejected_page(request: Request, user: User = Depends(page_user)):
        centre_only(user, "dead letters are")
        letters = await run_in_threadpool(store.recent_rejections, 500)
        total = await run_in_threadpool(store.count_rejections)
        return render(request, "rejected.html", user, letters=[_visible_letter(r, user) for r in letters], total=total,
                      can_resend=user.role.intake and user.role.see_personal_data)

    # -- JSON API -----------------------------------------------------------------------------
    @app.get("/api/health")
    async def health():
        return {"status": "ok", "tickets": await run_in_threadpool(store.count_tickets)}

    def selected_tickets(
        q: str = "", channel: str | None = None, domain: str | None = None, subdomain: str | None = None,
        lead_unit: str | None = None, status: str | None = None, district: str | None = None,
        ticket_type: str | None = None, held_by: str | None = None, topic: str | None = None, alert: str | None = None,
        merged_into: str | None = None, start: str | None = None, end: str | None = None, after_seq: int | None = None,
        overdue: bool = False, awaiting_callback: bool = False, callback_given_up: bool = False,
        accepted_late: bool = False, accepted_late_by: str | None = None, replied: bool = False,
        called_back: bool = False, reopened: bool = False, urged: bool = False,
        open_: bool = Query(False, alias="open"), returned: bool = False, returned_by: str | None = None,
        order: str = "newest", limit: int = 50, offset: int = 0,
        user: User = Depends(api_user),
    ) -> TicketQuery:
        """The tickets the list's words and filters select; a unit's user's are only its unit's (and those it
        returned or was late to accept, asked for by `returned_by` or `accepted_late_by`). `held_by`: the
        tickets a unit answers for now (待派单: those waiting for a dispatcher); `topic`: an opinion topic's
        tickets; `alert`: the tickets an opinion alert counted; `merged_into`: the tickets merged (并单) into
        that one; `overdue`: open tickets past their reply deadline now; `awaiting_callback`: replied tickets whose
        callback (回访) is due; `callback_given_up`: those whose callback was given up (无法回访);
        `accepted_late` (签收超时: accepted late, or not yet with the deadline passed now, by the unit holding
        it or by one it has left), `accepted_late_by`: those of them counted against this unit, `replied`,
        `called_back` (a satisfaction recorded), `reopened` (重办), `urged` (催办), `open`: what the supervision
        figures of those names count; `returned`: returned (退单) once or more; `returned_by`: the tickets this
        unit returned, wherever they are now; `start`, `end`: received from `start` to `end` (see
        webapp.params.received_period);
        `order`: newest first, `due`: earliest reply deadline first, `accept`: earliest acceptance deadline first
        (with `status=dispatched`: what a unit has to accept, 待签收), or `callback`: earliest callback deadline
        first."""
        if order not in ORDERS:
            raise HTTPException(400, f"order must be one of {', '.join(ORDERS)}, got {order!r}")
        # a unit's user lists the tickets with its unit now; asking for those its figures count against it after
        # they left it (returned by it, late to be accepted by it: its supervision row's links), it lists those,
        # wherever they are now, as it may read them (User.sees)
        left = user.unit is not None and user.unit in (returned_by, accepted_late_by)
        return TicketQuery(
            words=segmenter.tokens(q) if q.strip() else [], channel=channel or None, domain=domain or None,
            subdomain=subdomain or None, lead_unit=lead_unit or None, status=status or None,
            district=district or None, ticket_type=ticket_type or None, unit=None if left else user.unit,
            held_by=held_by or None,
            topic=topic or None, alert=alert or None, merged_into=(merged_into,) if merged_into else (),
            overdue_at=clock() if overdue else None,
            awaiting_callback=awaiting_callback, callback_given_up=callback_given_up,
            accepted_late_at=clock() if accepted_late or accepted_late_by else None,
            accepted_late_by=accepted_late_by or None,
            replied=replied, called_back=called_back, reopened=reopened, urged=urged, open=open_, returned=returned,
            returned_by=returned_by or None,
            received=received_period(start, end), after_seq=after_seq, order=order,
            limit=max(1, min(limit, 500)), offset=max(0, offset),
        )

    @app.get("/api/tickets")
    async def api_tickets(query: TicketQuery = Depends(selected_tickets)):
        """Tickets newest first, by words and filters (query: limit, offset)."""
        rows, total = await run_in_threadpool(store.search, query)
        now = clock()
        return {"total": total, "latest_seq": await run_in_threadpool(store.latest_seq),
                "tickets": [{**_summary(r), "lead_unit_name": unit_names.get(r["lead_unit"], r["lead_unit"]),
                             "status_name": STATUS_NAMES.get(r["status"], r["status"]), "overdue": overdue(r, now),
                             "accept_overdue": accept_overdue(r, now)}
                            for r in rows]}

    @app.get("/api/tickets/export")
    async def api_tickets_export(query: TicketQuery = Depends(selected_tickets)):
        """Every ticket the list's words and filters select, oldest first, as CSV for Excel (UTF-8 with a
        byte-order mark), read from the store a page at a time while it is sent; no personal data."""
        now = clock()

        def lines():
            yield "\ufeff"
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow([label for _, label in EXPORT_COLUMNS])
            for ticket in store.iter_tickets(query, fields=EXPORT_FIELDS):
                writer.writerow(_export_row(ticket, now, unit_names))
                if buffer.tell() > 65536:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        name = f"tickets-{now:%Y%m%d-%H%M}.csv"
        return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/api/tickets/{ticket_id}")
    async def api_ticket(ticket_id: str, user: User = Depends(api_user)):
        ticket = await run_in_threadpool(stored_for, ticket_id, user)
        return {**_visible(ticket, user), "topic": _with_label(await run_in_threadpool(store.topic_of, ticket_id))}

    @app.get("/api/facets")
    async def api_facets(query: TicketQuery = Depends(selected_tickets)):
        """Each filter's values with their counts among the tickets the list's words and other filters select."""
        return await run_in_threadpool(store.facets, query)

    @app.get("/api/rejections")
    async def api_rejections(limit: int = 500, user: User = Depends(api_user)):
        """The newest dead letters; payloads are masked for roles that may not see personal data."""
        centre_only(user, "dead letters are")
        letters = await run_in_threadpool(store.recent_rejections, max(1, min(limit, 5000)))
        return {"total": await run_in_threadpool(store.count_rejections),
                "rejections": [_visible_letter(r, user) for r in letters]}

    @app.get("/api/rejections/{rejection_id}")
    async def api_rejection(rejection_id: str, user: User = Depends(api_user)):
        """One dead letter, with its whole payload (masked for roles that may not see personal data)."""
        centre_only(user, "dead letters are")
        letter = await run_in_threadpool(store.get_rejection, rejection_id)
        if letter is None:
            raise HTTPException(404, f"no dead letter {rejection_id}")
        return _visible_letter(letter, user)

    @app.post("/api/rejections/{rejection_id}/resend", status_code=202)
    async def api_resend(rejection_id: str, request: Request, user: User = Depends(api_user)):
        """Send a dead letter's record again as a person corrected it (the body: the record, a JSON object). The
        record is checked as a worker checks it first, so a mistake left in it is answered now rather than by
        another dead letter; the dead letter is then marked as resent, with the ticket it becomes."""
        centre_only(user, "dead letters are")
        if not (user.role.intake and user.role.see_personal_data):
            raise HTTPException(403, f"role {user.role.name} may not send records again (that takes intake and "
                                     "seeing the original record, with its personal data)")
        letter = await run_in_threadpool(store.get_rejection, rejection_id)
        if letter is None:
            raise HTTPException(404, f"no dead letter {rejection_id}")
        if letter["resent_as"]:
            raise HTTPException(409, f"already sent again as {letter['resent_as']} by {letter['resent_by']}")
        if letter["channel"] not in ("hotline", "web"):
            raise HTTPException(400, f"a dead letter of {letter['channel']} is not an intake record: a refused "
                                     "ticket event is recorded again on its ticket's page")
        record = await _json_object(request)
        try:
            to_ticket(letter["channel"], record, clock(), limits)
        except RecordError as exc:
            raise HTTPException(400, f"still not a ticket: {exc}") from None
        sent = await run_in_threadpool(
            with_producer, lambda kafka: kafka.send(letter["channel"], record, ref=f"resend:{rejection_id}"))
        if sent.rejected_at_intake:
            raise HTTPException(413, f"the record is over the intake's size limit: kept as dead letter {sent.rejection_id}")
        if not await run_in_threadpool(store.mark_rejection_resent, rejection_id, sent.ticket_id, user.username, clock()):
            raise HTTPException(409, f"sent as {sent.ticket_id}, but someone else sent this dead letter again meanwhile")
        return {"ticket_id": sent.ticket_id, "rejection_id": rejection_id}

    @app.get("/api/stream")
    async def api_stream(request: Request, user: User = Depends(api_user)):
        """Server-sent events: `tickets` with the latest sequence number whenever new tickets are stored."""
        async def events():
            last = await run_in_threadpool(store.latest_change)
            yield f"event: hello\ndata: {json.dumps({'latest_seq': last[0]})}\n\n"
            idle = 0.0
            while not await request.is_disconnected():
                await asyncio.sleep(poll_seconds)
                latest = await run_in_threadpool(store.latest_change)
                if latest != last:
                    yield f"event: tickets\ndata: {json.dumps({'latest_seq': latest[0], 'previous_seq': last[0]})}\n\n"
                    last, idle = latest, 0.0
                else:
                    idle += poll_seconds
                    if idle >= 15:
                        yield ": keep-alive\n\n"
                        idle = 0.0
        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def with_producer(work):
        """Run work(producer) with the app's one Kafka producer, then flush."""
        if producer is None:
            raise HTTPException(503, "no Kafka address configured")
        with producer_lock:
            if "producer" not in producer_holder:
                producer_holder["producer"] = producer()
            kafka = producer_holder["producer"]
            try:
                result = work(kafka)
                kafka.flush()
            except DeliveryError as exc:
                producer_holder.pop("producer").discard()  # unusable now: the next request makes a new one
                log.warning("Kafka did not take a request's records: %s", exc)
                raise HTTPException(503, f"not accepted: {exc}; send the request again (records already kept "
                                         "are kept once)") from None
            return result

    # -- dispatcher: queue, dispatch (派单), return (退单) ---------------------------------------
    def dispatcher(user: User = Depends(api_user)) -> User:
        if not user.role.dispatch:
            raise HTTPException(403, f"role {user.role.name} may not dispatch tickets")
        return user

    def page_dispatcher(user: User = Depends(page_user)) -> User:
        if not user.role.dispatch:
            raise HTTPException(403, f"role {user.role.name} may not dispatch tickets")
        return user

    def stored_for(ticket_id: str, user: User) -> dict:
        """The stored ticket, if this user may read it: 404 if there is none, 403 if it is another unit's."""
        ticket = store.get_ticket(ticket_id)
        if ticket is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        if not user.sees(ticket):
            raise HTTPException(403, f"ticket {ticket_id} is not with {unit_names.get(user.unit, user.unit)}: "
                                     "a unit sees the tickets dispatched to it, as lead or co-unit, and those it "
                                     "returned or was late to accept")
        return ticket

    def held_for(ticket_id: str, user: User) -> dict:
        """The stored ticket, if this user may act on it (`stored_for`; 403 too if a unit only reads it)."""
        ticket = stored_for(ticket_id, user)
        if not user.acts_on(ticket):
            raise HTTPException(403, f"ticket {ticket_id} is no longer with {unit_names.get(user.unit, user.unit)}: "
                                     "a unit reads the tickets it returned or was late to accept, and acts only on "
                                     "those dispatched to it now")
        return ticket

    def unmerged(ticket_id: str) -> dict | None:
        """The stored ticket, or the one it was merged (并单) into, the merges followed to the one that answers."""
        ticket, seen = store.get_ticket(ticket_id), set()
        while ticket is not None and ticket["status"] == "merged" and ticket["merged_into"] \
                and ticket["merged_into"] not in seen:
            seen.add(ticket["ticket_id"])
            ticket = store.get_ticket(ticket["merged_into"])
        return ticket

    def brief(ticket: dict) -> dict:
        """A ticket in a line: id, title, when it came, its status and, unless it waits for a dispatcher (its
        status says so), the unit that answers for it, by name."""
        unit = holder(ticket)
        return {"ticket_id": ticket["ticket_id"], "title": ticket["title"], "received_at": ticket["received_at"],
                "status_name": STATUS_NAMES.get(ticket["status"], ticket["status"]),
                "holder_name": None if unit == AWAITING_DISPATCH else unit_names.get(unit, unit)}

    def merge_target(ticket_id: str, topic: dict | None, user: User) -> dict | None:
        """For a near-copy (重复件) of an earlier ticket, the ticket a merge (并单) would join: the earlier one, or
        the one it was itself merged into; None for no near-copy, or a ticket the user may not see."""
        target = unmerged(topic["duplicate_of"]) if topic and topic["duplicate_of"] else None
        return target if target is not None and target["ticket_id"] != ticket_id and user.sees(target) else None

    def merges(ticket: dict, user: User) -> dict:
        """What a ticket page shows of merges (并单): for a merged ticket, the ticket answering for it (status,
        holder, latest reply, as far as the user may see it); for any, how many were merged into it (their
        callers are owed its answer too), with the link to them."""
        shown: dict = {"merged_here": store.search(TicketQuery(merged_into=(ticket["ticket_id"],), unit=user.unit, limit=1))[1],
                       "merged_here_href": merged_tickets_href(ticket["ticket_id"])}
        main = unmerged(ticket["merged_into"]) if ticket["status"] == "merged" and ticket["merged_into"] else None
        if main is not None and user.sees(main):
            replies = [e for e in _visible_events(store.ticket_events(main["ticket_id"]), user, main)
                       if e["kind"] == "replied"]
            shown["main"] = {**brief(main), "reply": replies[-1]["data"].get("reply", "") if replies else ""}
        return shown

    def suggestion(ticket: dict, domain: str) -> dict:
        prediction = Prediction(label=domain, confidence=1.0, top=[(domain, 1.0)], model_version="dispatcher")
        decision, district = router.route(Ticket.model_validate(ticket), prediction)
        return {"domain": domain, "subdomain": decision.subdomain, "lead_unit": decision.lead_unit, "lead_unit_name": unit_names[decision.lead_unit],
                "co_units": decision.co_units, "rule_id": decision.rule_id, "district": district}

    @app.get("/queue", response_class=HTMLResponse)
    async def queue_page(request: Request, user: User = Depends(page_dispatcher)):
        units = [{"id": u.id, "name": u.name} for u in router.units.values()]
        return render(request, "queue.html", user, units=units, domains=domains)

    @app.get("/api/queue")
    async def api_queue(user: User = Depends(dispatcher)):
        """Tickets waiting for a dispatcher, each marked when it is a near-copy of an earlier ticket (重复件)."""
        rows = await run_in_threadpool(store.queue, 200)
        copies = await run_in_threadpool(store.near_copies, [r["ticket_id"] for r in rows])
        now = clock()
        return {"tickets": [{**_queue_item(r, unit_names, now), "near_copy_of": copies.get(r["ticket_id"])} for r in rows]}

    @app.get("/api/units")
    async def api_units(user: User = Depends(api_user)):
        return {"units": [{"id": u.id, "name": u.name} for u in router.units.values()], "domains": domains}

    @app.get("/api/tickets/{ticket_id}/suggest")
    async def api_suggest(ticket_id: str, domain: str, user: User = Depends(dispatcher)):
        ticket = await run_in_threadpool(stored_for, ticket_id, user)
        return suggestion(ticket, domain)

    @app.get("/api/tickets/{ticket_id}/similar")
    async def api_similar(ticket_id: str, limit: int = 5, user: User = Depends(api_user)):
        def find():
            stored_for(ticket_id, user)
            found = store.similar(ticket_id, store.segmented_text(ticket_id).split(), max(1, min(limit, 20)))
            return [t for t in found if user.sees(t)]
        return {"tickets": [{"ticket_id": t["ticket_id"], "title": t["title"], "domain": t["domain"],
                             "lead_unit": t["lead_unit"], "lead_unit_name": unit_names.get(t["lead_unit"], t["lead_unit"]),
                             "received_at": t["received_at"]} for t in await run_in_threadpool(find)]}

    @app.get("/api/tickets/{ticket_id}/topic")
    async def api_ticket_topic(ticket_id: str, user: User = Depends(api_user)):
        """The ticket's opinion topic (null when it is in none), the units its other tickets went to, most
        first (the tickets of one issue, however worded, are best dispatched to one unit), how many of its
        tickets wait for a dispatcher (this one included), and, when the ticket is a near-copy of an earlier one
        (重复件), the ticket a merge (并单) would join (`merge_target`)."""
        def find():
            stored_for(ticket_id, user)
            topic = store.topic_of(ticket_id)
            if topic is None:
                return None, [], None, 0
            others = store.iter_tickets(TicketQuery(topic=topic["topic_id"], unit=user.unit),
                                        fields=("ticket_id", "status", "lead_unit"))
            went, waiting = Counter(), 0
            for t in others:
                waiting += t["status"] == "pending_review"
                if t["ticket_id"] != ticket_id and holder(t) != AWAITING_DISPATCH:
                    went[t["lead_unit"]] += 1
            return topic, went.most_common(), merge_target(ticket_id, topic, user), waiting
        topic, went, target, waiting = await run_in_threadpool(find)
        return {"topic": _with_label(topic), "waiting": waiting,
                "dispatched": [{"lead_unit": unit, "lead_unit_name": unit_names.get(unit, unit), "tickets": n}
                               for unit, n in went],
                "merge_into": target and brief(target)}

    @app.get("/api/tickets/{ticket_id}/events")
    async def api_ticket_events(ticket_id: str, user: User = Depends(api_user)):
        ticket = await run_in_threadpool(stored_for, ticket_id, user)
        return {"events": _visible_events(await run_in_threadpool(store.ticket_events, ticket_id), user, ticket)}

    def emit(kind: str, ticket: dict, actor: User, data: dict, event_id: str | None = None,
             at: datetime | None = None) -> dict:
        """Check the event against the ticket's state now (the worker checks again when it applies it), send it."""
        event = TicketEvent(event_id=event_id or uuid.uuid4().hex, ticket_id=ticket["ticket_id"], kind=kind,
                            at=at or clock(), actor=actor.username, data=data)
        try:
            lifecycle.apply(state_of(ticket), event)
        except InvalidEvent as exc:
            raise HTTPException(400, str(exc)) from None
        except TransitionError as exc:
            raise HTTPException(409, str(exc)) from None
        with_producer(lambda kafka: kafka.send_event(event))
        return {"event_id": event.event_id, "ticket_id": event.ticket_id, "kind": kind}

    @app.post("/api/tickets/{ticket_id}/dispatch", status_code=202)
    async def api_dispatch(ticket_id: str, request: Request, user: User = Depends(dispatcher)):
        """Send a waiting ticket to a unit: the suggestion as it is, or corrected (domain and/or unit)."""
        body = await _json_object(request)
        ticket = await run_in_threadpool(held_for, ticket_id, user)
        data = dispatch_data(ticket, body.get("domain"), body.get("lead_unit"), body.get("co_units"))
        return await run_in_threadpool(emit, "dispatched", ticket, user, data)

    def dispatch_data(ticket: dict, domain: str | None, lead: str | None, co_units) -> dict:
        """A dispatch's data: the domain (default the ticket's), the lead unit and co-units (default what the
        routing rules give for that domain); 400 for an unknown domain or unit."""
        domain = domain or ticket["domain"]
        if domain not in domains:
            raise HTTPException(400, f"unknown domain {domain!r}")
        suggested = suggestion(ticket, domain)
        lead = lead or suggested["lead_unit"]
        if co_units is None:
            co_units = suggested["co_units"]
        if not isinstance(co_units, list):
            raise HTTPException(400, "co_units must be a list of unit ids")
        for unit in [lead, *co_units]:
            if unit not in unit_names:
                raise HTTPException(400, f"unknown unit {unit!r}")
        return {"domain": domain, "subdomain": suggested["subdomain"], "lead_unit": lead,
                "co_units": [u for u in co_units if u != lead]}

    @app.post("/api/topics/{topic_id}/dispatch", status_code=202)
    async def api_dispatch_topic(topic_id: str, request: Request, user: User = Depends(dispatcher)):
        """Send every ticket of an opinion topic (one issue, however worded) still waiting for a dispatcher to
        one unit at once (批量派单), each with its own domain and the co-units the routing rules give it; a ticket
        that can no longer be dispatched (sent meanwhile) is listed with the reason."""
        body = await _json_object(request)
        lead = body.get("lead_unit")
        if lead not in unit_names:
            raise HTTPException(400, f"unknown unit {lead!r}")

        def send_all() -> tuple[list[dict], list[dict]]:
            sent, refused = [], []
            for ticket in list(store.iter_tickets(TicketQuery(topic=topic_id, status="pending_review", unit=user.unit))):
                try:
                    sent.append(emit("dispatched", ticket, user, dispatch_data(ticket, None, lead, None)))
                except HTTPException as exc:
                    if exc.status_code not in (400, 409):  # Kafka unavailable: the request fails, as one would
                        raise
                    refused.append({"ticket_id": ticket["ticket_id"], "reason": exc.detail})
            return sent, refused
        sent, refused = await run_in_threadpool(send_all)
        return {"topic_id": topic_id, "lead_unit": lead, "dispatched": sent, "refused": refused}

    @app.post("/api/tickets/{ticket_id}/return", status_code=202)
    async def api_return(ticket_id: str, request: Request, user: User = Depends(dispatcher)):
        """Record a unit's return (退单) with its reason; the ticket goes back to the queue."""
        body = await _json_object(request)
        ticket = await run_in_threadpool(held_for, ticket_id, user)
        data = {"reason": str(body.get("reason") or "").strip(), "unit": body.get("unit") or ticket["lead_unit"]}
        return await run_in_threadpool(emit, "returned", ticket, user, data)

    @app.post("/api/tickets/{ticket_id}/events", status_code=202)
    async def api_event(ticket_id: str, request: Request, user: User = Depends(api_user)):
        """Any lifecycle event, from a unit's own system or a page: {"kind", "data", "event_id"?, "at"?}.
        event_id makes a resend harmless; at (ISO 8601) is when it happened, default now."""
        body = await _json_object(request)
        kind = body.get("kind")
        if kind not in EVENT_KINDS:
            raise HTTPException(400, f"unknown event kind {kind!r} (expected one of {', '.join(EVENT_KINDS)})")
        permission = EVENT_PERMISSIONS[kind]
        if not getattr(user.role, permission):
            raise HTTPException(403, f"role {user.role.name} may not record {kind} (needs the {permission} permission)")
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise HTTPException(400, "data must be a JSON object")
        event_id = body.get("event_id")
        if event_id is not None and (not isinstance(event_id, str) or not 1 <= len(event_id) <= 200):
            raise HTTPException(400, "event_id must be a string of 1 to 200 characters")
        at = None
        if body.get("at") is not None:
            try:
                at = parse_timestamp(body["at"])
            except TimestampError as exc:
                raise HTTPException(400, f"at: {exc}") from None
            if at > clock() + timedelta(minutes=5):
                raise HTTPException(400, f"at: {at.isoformat()} is in the future")
        ticket = await run_in_threadpool(held_for, ticket_id, user)
        if kind == "urged":  # the unit urged on is the one holding the ticket now (hotline.alerts.urge_alert)
            data = {**data, "unit": holder(ticket)}
        if kind == "merged" and data.get("into"):
            into = await run_in_threadpool(store.get_ticket, str(data["into"]))
            if into is None:
                raise HTTPException(400, f"no ticket {data['into']} to merge into")
            if into["status"] == "merged":  # one ticket answers for the issue: no chains of merges
                raise HTTPException(409, f"ticket {into['ticket_id']} was itself merged into {into['merged_into']}: "
                                         f"merge into that one")
        return await run_in_threadpool(emit, kind, ticket, user, data, event_id, at)

    @app.post("/api/intake/{channel}", status_code=202)
    async def api_intake(channel: str, request: Request, user: User = Depends(api_user)):
        """Send one raw record (JSON object) or a list of them to a channel's intake topic."""
        if channel not in ("hotline", "web"):
            raise HTTPException(404, f"unknown channel {channel!r} (expected hotline or web)")
        if not user.role.intake:
            raise HTTPException(403, f"role {user.role.name} may not send tickets")
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"body is not JSON: {exc}") from None
        records = body if isinstance(body, list) else [body]
        if len(records) > MAX_INTAKE_BATCH:
            raise HTTPException(413, f"at most {MAX_INTAKE_BATCH} records per request")
        if not all(isinstance(r, dict) for r in records):
            raise HTTPException(400, "each record must be a JSON object")

        def send(kafka):
            return [kafka.send(channel, r, ref=f"http:{user.username}:{i}") for i, r in enumerate(records)]

        sent = await run_in_threadpool(with_producer, send)
        return {"accepted": len(sent), "records": [
            {"ticket_id": s.ticket_id, "rejection_id": s.rejection_id, "rejected_at_intake": s.rejected_at_intake}
            for s in sent]}

    return app


async def _json_object(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object")
    return body


def _queue_item(ticket: dict, unit_names: dict[str, str], now: datetime) -> dict:
    return {**_summary(ticket), "text": ticket["text"], "top": ticket["top"],
            "lead_unit_name": unit_names.get(ticket["lead_unit"], ticket["lead_unit"]),
            "co_unit_names": [unit_names.get(u, u) for u in ticket["co_units"]],
            "routing_explanation": ticket["routing_explanation"], "last_return_reason": ticket["last_return_reason"],
            "returned_by_names": [unit_names.get(u, u) for u in ticket["returned_by"]],
            "overdue": overdue(ticket, now)}


EXPORT_COLUMNS = [
    ("ticket_id", "工单编号"), ("received_at", "受理时间"), ("channel", "渠道"), ("title", "标题"), ("district", "区县"),
    ("ticket_type", "类型"), ("domain", "领域"), ("subdomain", "子类"), ("lead_unit", "承办单位"), ("co_units", "协办单位"),
    ("status", "状态"), ("accepted_at", "签收时间"), ("accepted_on_time", "按时签收"),
    ("late_acceptances", "曾签收超时单位"), ("reply_due", "答复期限"),
    ("overdue", "超期"), ("returns", "退单次数"), ("urged", "催办次数"), ("replied_at", "答复时间"), ("on_time", "按时"),
    ("satisfaction", "满意度"),
]
EXPORT_FIELDS = tuple(name for name, _ in EXPORT_COLUMNS if name != "overdue")


def _export_row(ticket: dict, now: datetime, unit_names: dict[str, str]) -> list:
    """A ticket as a row of the list's CSV (masked title; units and statuses by name)."""
    unit = unit_names.get(ticket["lead_unit"], ticket["lead_unit"])
    shown = {**ticket, "channel": "热线" if ticket["channel"] == "hotline" else "网络",
             "lead_unit": unit + ("（建议）" if ticket["status"] == "pending_review" else ""),
             **{units: "、".join(unit_names.get(u, u) for u in ticket[units]) for units in ("co_units", "late_acceptances")},
             "status": STATUS_NAMES.get(ticket["status"], ticket["status"]), "overdue": "是" if overdue(ticket, now) else "",
             **{flag: {True: "是", False: "否"}.get(ticket[flag], "") for flag in ("on_time", "accepted_on_time")}}
    return ["" if shown[name] is None else _as_text(shown[name]) for name, _ in EXPORT_COLUMNS]


def _as_text(value):
    """A cell Excel shows as written: a citizen's text starting like a formula (=, +, -, @) gets a leading '."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _summary(ticket: dict) -> dict:
    return {k: ticket[k] for k in (
        "seq", "ticket_id", "channel", "received_at", "title", "district", "ticket_type", "urgency",
        "domain", "confidence", "lead_unit", "co_units", "status", "returns", "flagged", "accept_due", "reply_due",
        "callback_due", "urged")}


def _visible_letter(letter: dict, user: User) -> dict:
    """A dead letter as this user may see it: the original payload holds unmasked personal data."""
    if user.role.see_personal_data:
        return letter
    shown = dict(letter)
    if letter["payload_encoding"] == "utf-8":
        shown["payload"] = pii.mask(letter["payload"])
    else:
        shown["payload"] = f"(binary payload, {letter['payload_size']} bytes, shown to roles that may see personal data)"
    return shown


def _with_label(topic: dict | None) -> dict | None:
    """A ticket's topic with the label the opinion monitor shows for it and the link to its tickets."""
    if topic is None:
        return None
    label = topic_label(topic["terms"], topic["representative_title"] or topic["topic_id"])
    return {**topic, "label": label, "tickets_href": topic_tickets_href(topic["topic_id"], label)}


def _visible_events(events: list[dict], user: User, ticket: dict) -> list[dict]:
    """A ticket's events as this user may see them: a reply or reason may quote a phone number or an ID."""
    if user.sees_personal_data_of(ticket):
        return events
    return [{**e, "data": {k: pii.mask(v) if isinstance(v, str) else v for k, v in e["data"].items()}}
            for e in events]


def _visible(ticket: dict, user: User) -> dict:
    """A ticket as this user may see it: personal data only for roles allowed to see it, and for a unit's user
    only in a ticket still with the unit (User.sees_personal_data_of)."""
    shown = dict(ticket)
    if not user.sees_personal_data_of(ticket):
        shown.pop("personal", None)
    return shown
