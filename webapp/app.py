"""FastAPI app: log-in, ticket list and detail pages, dead letters, JSON API, live updates (SSE)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from classifiers.segment import Segmenter
from stores.base import FILTERS, Store, TicketQuery
from webapp.auth import User, Users

HERE = Path(__file__).resolve().parent
MAX_INTAKE_BATCH = 1000


class LoginRequired(Exception):
    pass


def create_app(store: Store, users: Users, unit_names: dict[str, str], segmenter: Segmenter, secret: str,
               intake_producer=None, poll_seconds: float = 1.0) -> FastAPI:
    """The web app over a store. intake_producer: a callable returning an IntakeProducer, or None (no HTTP intake)."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["unit_name"] = lambda unit_id: unit_names.get(unit_id, unit_id)
    producer_lock = threading.Lock()
    producer_holder: dict = {}

    app = FastAPI(title="hotline-pipeline", version="0.1.0")
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
            raise HTTPException(401, "log in first (session or HTTP Basic)", headers={"WWW-Authenticate": "Basic"})
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
        facets = await run_in_threadpool(store.facets)
        return render(request, "tickets.html", user, facets=facets, filters=FILTERS)

    @app.get("/tickets/{ticket_id}", response_class=HTMLResponse)
    async def ticket_page(request: Request, ticket_id: str, user: User = Depends(page_user)):
        ticket = await run_in_threadpool(store.get_ticket, ticket_id)
        if ticket is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return render(request, "ticket.html", user, ticket=_visible(ticket, user))

    @app.get("/rejected", response_class=HTMLResponse)
    async def rejected_page(request: Request, user: User = Depends(page_user)):
        letters = await run_in_threadpool(lambda: list(store.iter_rejections()))
        letters.reverse()
        return render(request, "rejected.html", user, letters=letters[:500], total=len(letters))

    # -- JSON API -----------------------------------------------------------------------------
    @app.get("/api/health")
    async def health():
        return {"status": "ok", "tickets": await run_in_threadpool(store.count_tickets)}

    @app.get("/api/tickets")
    async def api_tickets(
        request: Request, q: str = "", channel: str | None = None, domain: str | None = None,
        lead_unit: str | None = None, status: str | None = None, district: str | None = None,
        ticket_type: str | None = None, after_seq: int | None = None, limit: int = 50, offset: int = 0,
        user: User = Depends(api_user),
    ):
        query = TicketQuery(
            words=segmenter.tokens(q) if q.strip() else [], channel=channel or None, domain=domain or None,
            lead_unit=lead_unit or None, status=status or None, district=district or None,
            ticket_type=ticket_type or None, after_seq=after_seq, limit=max(1, min(limit, 500)), offset=max(0, offset),
        )
        rows, total = await run_in_threadpool(store.search, query)
        return {"total": total, "latest_seq": await run_in_threadpool(store.latest_seq),
                "tickets": [{**_summary(r), "lead_unit_name": unit_names.get(r["lead_unit"], r["lead_unit"])} for r in rows]}

    @app.get("/api/tickets/{ticket_id}")
    async def api_ticket(ticket_id: str, user: User = Depends(api_user)):
        ticket = await run_in_threadpool(store.get_ticket, ticket_id)
        if ticket is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return _visible(ticket, user)

    @app.get("/api/facets")
    async def api_facets(user: User = Depends(api_user)):
        return await run_in_threadpool(store.facets)

    @app.get("/api/rejections")
    async def api_rejections(user: User = Depends(api_user)):
        return {"rejections": await run_in_threadpool(lambda: list(store.iter_rejections()))}

    @app.get("/api/stream")
    async def api_stream(request: Request, user: User = Depends(api_user)):
        """Server-sent events: `tickets` with the latest sequence number whenever new tickets are stored."""
        async def events():
            last = await run_in_threadpool(store.latest_seq)
            yield f"event: hello\ndata: {json.dumps({'latest_seq': last})}\n\n"
            idle = 0.0
            while not await request.is_disconnected():
                await asyncio.sleep(poll_seconds)
                latest = await run_in_threadpool(store.latest_seq)
                if latest != last:
                    yield f"event: tickets\ndata: {json.dumps({'latest_seq': latest, 'previous_seq': last})}\n\n"
                    last, idle = latest, 0.0
                else:
                    idle += poll_seconds
                    if idle >= 15:
                        yield ": keep-alive\n\n"
                        idle = 0.0
        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.post("/api/intake/{channel}", status_code=202)
    async def api_intake(channel: str, request: Request, user: User = Depends(api_user)):
        """Send one raw record (JSON object) or a list of them to a channel's intake topic."""
        if channel not in ("hotline", "web"):
            raise HTTPException(404, f"unknown channel {channel!r} (expected hotline or web)")
        if not user.role.intake:
            raise HTTPException(403, f"role {user.role.name} may not send tickets")
        if intake_producer is None:
            raise HTTPException(503, "no Kafka address configured for the intake")
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"body is not JSON: {exc}") from None
        records = body if isinstance(body, list) else [body]
        if len(records) > MAX_INTAKE_BATCH:
            raise HTTPException(413, f"at most {MAX_INTAKE_BATCH} records per request")
        if not all(isinstance(r, dict) for r in records):
            raise HTTPException(400, "each record must be a JSON object")

        def send():
            with producer_lock:
                if "producer" not in producer_holder:
                    producer_holder["producer"] = intake_producer()
                producer = producer_holder["producer"]
                results = [producer.send(channel, r, ref=f"http:{user.username}:{i}") for i, r in enumerate(records)]
                producer.flush()
                return results

        sent = await run_in_threadpool(send)
        return {"accepted": len(sent), "records": [
            {"ticket_id": s.ticket_id, "rejection_id": s.rejection_id, "rejected_at_intake": s.rejected_at_intake}
            for s in sent]}

    @app.on_event("shutdown")
    def _close():
        producer = producer_holder.pop("producer", None)
        if producer:
            producer.close()
        store.close()

    return app


def _summary(ticket: dict) -> dict:
    return {k: ticket[k] for k in (
        "seq", "ticket_id", "channel", "received_at", "title", "district", "ticket_type", "urgency",
        "domain", "confidence", "lead_unit", "co_units", "status")}


def _visible(ticket: dict, user: User) -> dict:
    """A ticket as this user may see it: personal data only for roles allowed to see it."""
    shown = dict(ticket)
    if not user.role.see_personal_data:
        shown.pop("personal", None)
    return shown
