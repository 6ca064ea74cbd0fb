"""Supervisor pages and API (督办): unit figures, overdue and due-soon tickets, alerts, exports.

Every figure comes from hotline.statistics over the stored tickets the filters select, the same code
`hotline report` runs, so a number on the page can be traced to the tickets behind it (drill-down links).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import timedelta
from typing import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from hotline.alerts import AlertPolicy
from hotline.archive import csv_rows, publish
from hotline.calendar import WorkCalendar
from hotline.clock import Clock
from hotline.lifecycle import AWAITING_DISPATCH, STARTS, STATUS_NAMES
from hotline.statistics import COLUMNS, FIELDS, overdue_and_due_soon, unit_statistics
from hotline.timestamps import SHANGHAI
from stores.base import Store, TicketQuery
from webapp.auth import User
from webapp.params import received_period

UNIT_COLUMNS = [("unit", "unit"), ("unit_name", "承办单位"), *COLUMNS]
LATE_COLUMNS = [("ticket_id", "工单"), ("unit", "unit"), ("unit_name", "承办单位"), ("title", "标题"), ("status", "status"),
                ("status_name", "状态"),
                ("reply_due", "答复期限"), ("late_working_days", "超期(工作日，负数为剩余)"), ("level", "类别"),
                ("urged", "催办次数")]


# The counts of a unit's row that link to the tickets they count, and the ticket list's flag selecting them
# (stores.base.TicketQuery; hotline.statistics names what each counts). 签收超时 and the returned rate count
# tickets wherever they are now: _accepted_late_href and _returned_href.
COUNTED = {"replied": "replied", "callbacks": "called_back",
           "callback_given_up": "callback_given_up", "awaiting_callback": "awaiting_callback", "reopened": "reopened",
           "urged": "urged", "open": "open", "overdue_open": "overdue"}


def _given(filters: dict) -> dict:
    return {name: value for name, value in filters.items() if value}


def _tickets_href(unit: str | None, filters: dict) -> str:
    """The ticket list a unit's row links to: the tickets the row counts (those the unit answers for now, or
    all for the total row (None), received in the period, of the domain and district chosen; with a flag of
    COUNTED, those a count counts)."""
    return "/tickets?" + urlencode({**({"held_by": unit} if unit else {}), **_given(filters)})


def _returned_href(unit: str | None, filters: dict) -> str:
    """What a row's returned rate counts: the tickets a unit returned (退单), wherever they are now; for the
    centre's row (待派单) the returned tickets it holds, and for the total row every returned ticket."""
    if unit is None or unit == AWAITING_DISPATCH:
        return _tickets_href(unit, {**filters, "returned": "1"})
    return "/tickets?" + urlencode({"returned_by": unit, **_given(filters)})


def _accepted_late_href(unit: str | None, filters: dict) -> str:
    """What a row's 签收超时 counts (hotline.statistics.late_to_accept): the tickets a unit is late to accept
    now or was before they left it, wherever they are now; for the total row those of any unit."""
    if unit is None:
        return _tickets_href(None, {**filters, "accepted_late": "1"})
    return "/tickets?" + urlencode({"accepted_late_by": unit, **_given(filters)})


def _count_hrefs(unit: str | None, filters: dict) -> dict:
    """`tickets_href`, a `<count>_href` for each count of COUNTED, `accepted_late_href` and `returned_href`."""
    return {"tickets_href": _tickets_href(unit, filters),
            **{f"{count}_href": _tickets_href(unit, {**filters, flag: "1"}) for count, flag in COUNTED.items()},
            "accepted_late_href": _accepted_late_href(unit, filters), "returned_href": _returned_href(unit, filters)}


def _selected(start: str | None, end: str | None, domain: str | None, district: str | None,
              unit: str | None = None) -> TicketQuery:
    """The tickets received from the day `start` to the day `end`, of the domain and district, if given; with
    `unit`, those it holds, has returned or was late to accept (what its figures count: its returned rate needs
    the returned, its 签收超时 those it lost since)."""
    return TicketQuery(received=received_period(start, end), domain=domain or None, district=district or None,
                       figures_of=unit)


def _open_now(domain: str | None, district: str | None, unit: str | None = None) -> TicketQuery:
    """The open tickets of the domain and district, whenever received: the overdue and due-soon list is what
    is late now (a ticket received before the period and still open is late all the same); with `unit`, those
    its figures count (the list keeps the ones it holds)."""
    return TicketQuery(open=True, domain=domain or None, district=district or None, figures_of=unit)


# The page's period until the supervisor chooses another: the last 30 days, today included. The figures read
# every ticket of the period, so an unbounded default would grow slower with every month the store keeps.
DEFAULT_DAYS = 30


def supervision_routes(store: Store, unit_names: dict[str, str], calendar: WorkCalendar, policy: AlertPolicy,
                       clock: Clock, api_user, page_user, render, publication_mask: Callable[[str], str]) -> APIRouter:
    router = APIRouter()

    def _allowed(user: User, centre_only: bool) -> User:
        """Supervisors and dispatchers see every unit; a unit's user its own figures (not the archive)."""
        if not (user.role.supervise or user.role.dispatch or (user.unit is not None and not centre_only)):
            raise HTTPException(403, f"role {user.role.name} may not see supervision figures")
        return user

    def supervisor(user: User = Depends(api_user)) -> User:
        return _allowed(user, centre_only=False)

    def centre_supervisor(user: User = Depends(api_user)) -> User:
        return _allowed(user, centre_only=True)

    def page_supervisor(user: User = Depends(page_user)) -> User:
        return _allowed(user, centre_only=False)

    def figures(start: str | None, end: str | None, domain: str | None, district: str | None, user: User) -> dict:
        """Every unit's figures and late tickets; for a unit's user, its own only (no row for all units)."""
        now = clock()
        tickets = list(store.iter_tickets(_selected(start, end, domain, district, user.unit), fields=FIELDS))
        units, total = unit_statistics(tickets, now)
        late = overdue_and_due_soon(store.iter_tickets(_open_now(domain, district, user.unit), fields=FIELDS), now,
                                    calendar, policy.due_soon_working_hours)
        if user.unit is not None:
            units, late = [u for u in units if u.unit == user.unit], [item for item in late if item.unit == user.unit]
        name = lambda unit: "全部单位" if unit == "all" else unit_names.get(unit, unit)  # noqa: E731
        filters = {"start": start, "end": end, "domain": domain, "district": district}
        return {
            "now": now.isoformat(),
            "filters": filters,
            "calendar_notice": calendar.gap_notice(now.date()),
            "units": [{**u.as_dict(), "unit_name": name(u.unit), **_count_hrefs(u.unit, filters)} for u in units],
            "total": None if user.unit is not None else {**total.as_dict(), "unit_name": name("all"),
                                                         **_count_hrefs(None, filters)},
            "late": [{**item.__dict__, "reply_due": item.reply_due.isoformat(), "unit_name": name(item.unit),
                      "status_name": STATUS_NAMES.get(item.status, item.status),
                      "urgeable": item.status in STARTS["urged"][0]}  # with a unit: one may urge it on (催办)
                     for item in late],
        }

    @router.get("/supervision", response_class=HTMLResponse)
    async def supervision_page(request: Request, user: User = Depends(page_supervisor)):
        facets = await run_in_threadpool(store.facets, TicketQuery(unit=user.unit))
        since = (clock().astimezone(SHANGHAI).date() - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        return render(request, "supervision.html", user, default_start=since, default_days=DEFAULT_DAYS,
                      domains=sorted(facets.get("domain", {})),
                      districts=sorted(facets.get("district", {})), centre=user.unit is None,
                      acknowledge=user.role.supervise or user.role.dispatch, recipients=policy.recipients(),
                      urge=user.role.supervise)

    @router.get("/api/supervision")
    async def api_supervision(start: str | None = None, end: str | None = None, domain: str | None = None,
                              district: str | None = None, user: User = Depends(supervisor)):
        """Unit figures for the tickets received in the period [start, end] (days; either may be left open), and
        the overdue and due-soon tickets among all open ones; both of the domain and district, if given."""
        return await run_in_threadpool(figures, start, end, domain, district, user)

    @router.get("/api/supervision/export")
    async def api_supervision_export(format: str = "csv", start: str | None = None, end: str | None = None,
                                     domain: str | None = None, district: str | None = None,
                                     user: User = Depends(supervisor)):
        if format not in ("csv", "xlsx"):
            raise HTTPException(400, "format must be csv or xlsx")
        data = await run_in_threadpool(figures, start, end, domain, district, user)
        units = [*data["units"], *([data["total"]] if data["total"] else [])]
        stamp = clock().strftime("%Y%m%d-%H%M")
        if format == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow([label for _, label in UNIT_COLUMNS])
            for row in units:
                writer.writerow(["" if row[key] is None else row[key] for key, _ in UNIT_COLUMNS])
            return Response(("\ufeff" + buffer.getvalue()).encode("utf-8"), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="supervision-{stamp}.csv"'})
        return Response(_xlsx(units, data["late"]),
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="supervision-{stamp}.xlsx"'})

    @router.get("/api/supervision/archive")
    async def api_supervision_archive(start: str | None = None, end: str | None = None, domain: str | None = None,
                                      district: str | None = None, user: User = Depends(centre_supervisor)):
        """归档公开: the answered tickets received in the period as the centre publishes them, as CSV (see
        hotline.archive); the X-Archive-Counts header counts the published and the withheld by reason."""
        def build() -> tuple[str, Counter]:
            counts: Counter = Counter()
            tickets = store.iter_tickets(_selected(start, end, domain, district))
            buffer = io.StringIO()
            csv.writer(buffer).writerows(csv_rows(publish(tickets, store.events_by_ticket,
                                                          lambda unit: unit_names.get(unit, unit), counts,
                                                          publication_mask)))
            return buffer.getvalue(), counts

        text, counts = await run_in_threadpool(build)
        stamp = clock().strftime("%Y%m%d-%H%M")
        return Response(("\ufeff" + text).encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="archive-{stamp}.csv"',
            "X-Archive-Counts": "; ".join(f"{kind}={n}" for kind, n in sorted(counts.items())),
        })

    @router.get("/api/alerts")
    async def api_alerts(open: bool = False, ticket_id: str | None = None, to: str | None = None, limit: int = 200,
                         user: User = Depends(api_user)):
        """Deadline alerts, newest first (open: those open now; to: those to that recipient), at most `limit`, and
        whether there are `more`; a unit's user gets those about its own unit."""
        limit = max(1, min(limit, 1000))
        rows = await run_in_threadpool(store.alerts, ticket_id, clock() if open else None, limit + 1, user.unit,
                                       to or None)
        return {"alerts": [{**r, "unit_name": unit_names.get(r["unit"], r["unit"])} for r in rows[:limit]],
                "more": len(rows) > limit}

    @router.post("/api/alerts/{alert_id}/acknowledge")
    async def api_acknowledge(alert_id: str, user: User = Depends(centre_supervisor)):
        done = await run_in_threadpool(store.acknowledge_alert, alert_id, user.username, clock())
        if not done:
            raise HTTPException(409, f"alert {alert_id} does not exist or is already acknowledged")
        return {"alert_id": alert_id, "acknowledged_by": user.username}

    return router


def _xlsx(units: list[dict], late: list[dict]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "units"
    sheet.append([label for _, label in UNIT_COLUMNS])
    for row in units:
        sheet.append([row[key] for key, _ in UNIT_COLUMNS])
    overdue = book.create_sheet("overdue and due soon")
    overdue.append([label for _, label in LATE_COLUMNS])
    for row in late:
        overdue.append([row[key] for key, _ in LATE_COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
