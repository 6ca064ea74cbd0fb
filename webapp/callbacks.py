"""The callback team's worklist (回访): the replied tickets whose callback is due, earliest due first.

After a unit replies, the centre calls the citizen back and records the satisfaction (满意 / 基本满意 close the
ticket, 不满意 sends it back to the unit with the citizen's reason), or a call nobody answered (回访未接通;
after the policy's number of them the callback is given up, 无法回访). The rules are hotline.lifecycle's and
the deadline hotline.deadlines'; the results are recorded as ticket events through the events API.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from hotline import pii
from hotline.clock import Clock
from hotline.timestamps import stored_moment
from stores.base import Store, TicketQuery
from webapp.auth import User

WORKLIST = 200  # the tickets listed at once, earliest due first; the counts are over all of them
MERGED_FIELDS = ("ticket_id", "title", "text", "caller", "phone", "personal")  # what `contact` reads


def latest_reply(events: list[dict]) -> dict | None:
    """The unit's latest reply (答复) among a ticket's events: what the citizen is asked about."""
    replies = [e for e in events if e["kind"] == "replied"]
    return replies[-1] if replies else None


def contact(ticket: dict, user: User) -> dict:
    """Whom to call about a ticket: the caller, and the numbers (the form's, then those written in the message,
    as a web message often gives its number there only), with the title and text they wrote; masked for a role
    that may not see personal data."""
    if not user.role.see_personal_data:
        return {"title": ticket["title"], "text": ticket["text"], "caller": ticket["caller"] or "",
                "phones": [ticket["phone"]] if ticket["phone"] else []}
    original = ticket["personal"]
    title, text = original["title"] or ticket["title"], original["text"] or ticket["text"]
    return {"title": title, "text": text, "caller": original["caller"] or "",
            "phones": list(dict.fromkeys(filter(None, [original["phone"], *pii.phone_numbers(f"{title}\n{text}")])))}


def callback_item(ticket: dict, events: list[dict], merged: list[dict], unit_names: dict[str, str], now,
                  user: User) -> dict:
    """A ticket as the worklist shows it: whom to call (`contact`), and the callers of the tickets merged into it
    (并单: they are owed the same answer), what the unit replied and when, and when the callback is due."""
    reply = latest_reply(events)
    reply_text = (reply["data"].get("reply") or "") if reply else ""
    return {
        "ticket_id": ticket["ticket_id"], **contact(ticket, user),
        "merged": [{"ticket_id": m["ticket_id"], **{k: v for k, v in contact(m, user).items() if k in ("caller", "phones")}}
                   for m in merged],
        "received_at": ticket["received_at"], "channel": ticket["channel"], "district": ticket["district"],
        "lead_unit": ticket["lead_unit"], "lead_unit_name": unit_names.get(ticket["lead_unit"], ticket["lead_unit"]),
        "replied_at": ticket["replied_at"], "on_time": ticket["on_time"], "reopened": ticket["reopened"],
        "reply": reply_text if user.role.see_personal_data else pii.mask(reply_text),
        "callback_due": ticket["callback_due"], "callback_attempts": ticket["callback_attempts"],
        "overdue": stored_moment(ticket["callback_due"]) < now,
    }


def callback_routes(store: Store, unit_names: dict[str, str], attempts: int, clock: Clock, api_user, page_user,
                    render) -> APIRouter:
    """attempts: the calls nobody answers after which a callback is given up (DeadlinePolicy.callback)."""
    router = APIRouter()

    def _allowed(user: User) -> User:
        if not user.role.callback:
            raise HTTPException(403, f"role {user.role.name} may not record callbacks (needs the callback permission)")
        return user

    def caller_team(user: User = Depends(api_user)) -> User:
        return _allowed(user)

    def page_caller_team(user: User = Depends(page_user)) -> User:
        return _allowed(user)

    def worklist(user: User) -> dict:
        now = clock()
        query = TicketQuery(awaiting_callback=True, order="callback", unit=user.unit, limit=WORKLIST)
        rows, total = store.search(query)
        dues = store.iter_tickets(TicketQuery(awaiting_callback=True, unit=user.unit), fields=("callback_due",))
        overdue = sum(stored_moment(t["callback_due"]) < now for t in dues)
        ids = [t["ticket_id"] for t in rows]
        events = store.events_by_ticket(ids)
        merged: dict[str, list[dict]] = {ticket_id: [] for ticket_id in ids}
        if ids:  # the tickets merged into any of them, read at once
            for m in store.iter_tickets(TicketQuery(merged_into=tuple(ids), unit=user.unit),
                                        fields=(*MERGED_FIELDS, "merged_into")):
                merged[m["merged_into"]].append(m)
        return {"now": now.isoformat(), "total": total, "overdue": overdue, "attempts_allowed": attempts,
                "tickets": [callback_item(t, events.get(t["ticket_id"], []), merged[t["ticket_id"]], unit_names, now, user)
                            for t in rows]}

    @router.get("/callbacks", response_class=HTMLResponse)
    async def callbacks_page(request: Request, user: User = Depends(page_caller_team)):
        return render(request, "callbacks.html", user, attempts=attempts)

    @router.get("/api/callbacks")
    async def api_callbacks(user: User = Depends(caller_team)):
        """The tickets awaiting a callback, earliest due first (the first WORKLIST), how many await one and
        how many of those are past their callback deadline."""
        return await run_in_threadpool(worklist, user)

    return router
