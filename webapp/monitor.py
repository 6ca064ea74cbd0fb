"""The monitors' dashboard and API (舆情监测): volume by domain and channel, hot topics with heat and trend,
districts, surge alerts with acknowledge/assign, drill-down to the messages. Every figure is counted from
stored tickets and topics; each chart's numbers come with the ticket ids or keys behind them."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from hotline.clock import Clock
from hotline.topics import WINDOWS, hot_topics
from stores.base import Store
from webapp.auth import User, centre_only
from webapp.params import alert_tickets_href, topic_tickets_href

VOLUME_HOURS = {"hour": 6, "day": 24, "week": 24 * 7}


def monitor_routes(store: Store, clock: Clock, api_user, page_user, render, unit_names: list[str]) -> APIRouter:
    """The dashboard counts every ticket of the city, so it is the centre's: a unit's user, who sees only the
    tickets dispatched to the unit, is refused. Acknowledging and assigning alerts needs the monitor permission."""
    router = APIRouter()

    def centre_api_user(user: User = Depends(api_user)) -> User:
        centre_only(user, "the opinion monitor, over every ticket of the city, is")
        return user

    def centre_page_user(user: User = Depends(page_user)) -> User:
        centre_only(user, "the opinion monitor, over every ticket of the city, is")
        return user

    def alert_handler(user: User = Depends(centre_api_user)) -> User:
        if not user.role.monitor:
            raise HTTPException(403, f"role {user.role.name} may not acknowledge or assign surge alerts "
                                     "(needs the monitor permission)")
        return user

    def window_of(name: str) -> timedelta:
        if name not in WINDOWS:
            raise HTTPException(400, f"window must be one of {', '.join(WINDOWS)}")
        return WINDOWS[name]

    @router.get("/monitor", response_class=HTMLResponse)
    async def monitor_page(request: Request, user: User = Depends(centre_page_user)):
        return render(request, "monitor.html", user, can_handle_alerts=user.role.monitor, unit_names=unit_names)

    @router.get("/api/monitor/volume")
    async def api_volume(window: str = "day", user: User = Depends(centre_api_user)):
        """Tickets per hour by domain and by channel, and per district, over the window (hour: last 6 hours)."""
        window_of(window)
        now = clock()
        start = (now - timedelta(hours=VOLUME_HOURS[window] - 1)).replace(minute=0, second=0, microsecond=0)
        rows = await run_in_threadpool(store.volume, start)
        hours = [(start + timedelta(hours=i)).isoformat()[:13] for i in range(VOLUME_HOURS[window])]
        index = {h: i for i, h in enumerate(hours)}
        by_domain: dict[str, list[int]] = defaultdict(lambda: [0] * len(hours))
        by_channel: dict[str, list[int]] = defaultdict(lambda: [0] * len(hours))
        by_district: dict[str, int] = defaultdict(int)
        for row in rows:
            i = index.get(row["hour"])
            if i is None:
                continue
            by_domain[row["domain"]][i] += row["count"]
            by_channel[row["channel"]][i] += row["count"]
            by_district[row["district"] or "未知"] += row["count"]
        # where each hour starts and the last ends: a chart's point or bar lists its tickets with these as
        # /api/tickets?start=…&end=… (the end not included)
        edges = [(start + timedelta(hours=i)).isoformat() for i in range(len(hours) + 1)]
        return {"now": now.isoformat(), "hours": hours, "edges": edges, "by_domain": by_domain, "by_channel": by_channel,
                "by_district": dict(sorted(by_district.items(), key=lambda kv: -kv[1])),
                "total": sum(sum(v) for v in by_channel.values())}

    @router.get("/api/monitor/topics")
    async def api_topics(window: str = "day", limit: int = 20, user: User = Depends(centre_api_user)):
        span = window_of(window)
        now = clock()
        rows = await run_in_threadpool(store.hot_topics, now - span)
        topics = hot_topics(rows, now, span, max(1, min(limit, 100)))
        return {"now": now.isoformat(), "window": window,
                "topics": [{**t, "tickets_href": topic_tickets_href(t["topic_id"], t["label"])} for t in topics]}

    @router.get("/api/monitor/alerts")
    async def api_surges(open: bool = True, user: User = Depends(centre_api_user)):
        """Surge alerts, newest first, each with the link to the tickets it counted (its `examples`)."""
        alerts = await run_in_threadpool(store.opinion_alerts, open, 200)
        return {"alerts": [{**a, "tickets_href": alert_tickets_href(a["alert_id"], a["label"] or a["key"])}
                           for a in alerts]}

    @router.post("/api/monitor/alerts/{alert_id}/acknowledge")
    async def api_surge_acknowledge(alert_id: str, user: User = Depends(alert_handler)):
        if not await run_in_threadpool(store.update_opinion_alert, alert_id, user.username, clock()):
            raise HTTPException(404, f"no alert {alert_id}")
        return {"alert_id": alert_id, "acknowledged_by": user.username}

    @router.post("/api/monitor/alerts/{alert_id}/assign")
    async def api_surge_assign(alert_id: str, request: Request, user: User = Depends(alert_handler)):
        body = await request.json()
        to = str(body.get("to") or "").strip() if isinstance(body, dict) else ""
        if not to:
            raise HTTPException(400, "say whom to assign the alert to: {\"to\": \"...\"}")
        if not await run_in_threadpool(store.update_opinion_alert, alert_id, user.username, clock(), to):
            raise HTTPException(404, f"no alert {alert_id}")
        return {"alert_id": alert_id, "assigned_to": to}

    return router
