"""The deadline policy: from a ticket's type and urgency to the times it must be accepted and replied by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hotline.calendar import WorkCalendar
from hotline.models import TICKET_TYPES


class DeadlinePolicyError(ValueError):
    pass


@dataclass(frozen=True)
class TimeLimits:
    accept_hours: float
    reply_days: int | None = None
    reply_hours: float | None = None

    def describe(self) -> str:
        reply = f"{self.reply_days} working days" if self.reply_days else f"{self.reply_hours:g} working hours"
        return f"accept within {self.accept_hours:g} working hours, reply within {reply}"


@dataclass(frozen=True)
class CallbackLimits:
    """The callback (回访) after a reply: due within `working_days` working days of it; after `attempts` calls
    nobody answers, the callback is given up (无法回访)."""

    working_days: int = 3
    attempts: int = 3


@dataclass(frozen=True)
class TicketDeadlines:
    accept_due: datetime
    reply_due: datetime
    policy: str  # version and the rule applied, e.g. "2026-11: 投诉 (accept within 4 …)"
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeadlinePolicy:
    version: str
    default_type: str
    types: dict[str, TimeLimits]
    urgent: TimeLimits
    callback: CallbackLimits = CallbackLimits()

    @classmethod
    def from_config(cls, data: dict) -> "DeadlinePolicy":
        def limits(where: str, spec) -> TimeLimits:
            if not isinstance(spec, dict):
                raise DeadlinePolicyError(f"{where}: expected a mapping")
            try:
                found = TimeLimits(float(spec["accept_hours"]),
                               int(spec["reply_days"]) if "reply_days" in spec else None,
                               float(spec["reply_hours"]) if "reply_hours" in spec else None)
            except KeyError as exc:
                raise DeadlinePolicyError(f"{where}: missing {exc.args[0]}") from None
            except (TypeError, ValueError) as exc:
                raise DeadlinePolicyError(f"{where}: {exc}") from None
            if (found.reply_days is None) == (found.reply_hours is None):
                raise DeadlinePolicyError(f"{where}: give exactly one of reply_days and reply_hours")
            if found.accept_hours <= 0 or (found.reply_days or found.reply_hours or 0) <= 0:
                raise DeadlinePolicyError(f"{where}: times must be positive")
            return found

        def callback_limits(spec) -> CallbackLimits:
            if not isinstance(spec, dict):
                raise DeadlinePolicyError("callback: expected a mapping")
            unknown = set(spec) - {"working_days", "attempts"}
            if unknown:
                raise DeadlinePolicyError(f"callback: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                                          "(expected working_days, attempts)")
            found = CallbackLimits(**spec)
            for name in ("working_days", "attempts"):
                value = getattr(found, name)
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise DeadlinePolicyError(f"callback.{name}: expected a whole number of at least 1, got {value!r}")
            return found

        try:
            types = {str(name): limits(f"types.{name}", spec) for name, spec in data["types"].items()}
            policy = cls(version=str(data["version"]), default_type=str(data["default_type"]), types=types,
                         urgent=limits("urgent", data["urgent"]), callback=callback_limits(data.get("callback", {})))
        except KeyError as exc:
            raise DeadlinePolicyError(f"missing key {exc.args[0]!r}") from None
        missing = [t for t in TICKET_TYPES if t not in types]
        if missing:
            raise DeadlinePolicyError(f"types: no limits for {', '.join(missing)}")
        if policy.default_type not in types:
            raise DeadlinePolicyError(f"default_type {policy.default_type!r} is not one of the types")
        return policy

    def deadlines(self, received: datetime, ticket_type: str | None, urgency: str,
                  calendar: WorkCalendar) -> TicketDeadlines:
        kind = ticket_type or self.default_type
        limits = self.urgent if urgency == "urgent" else self.types[kind]
        label = "urgent" if urgency == "urgent" else kind + ("" if ticket_type else " (default type)")
        accept = calendar.add_working_hours(received, limits.accept_hours)
        reply = (calendar.add_working_days(received, limits.reply_days) if limits.reply_days
                 else calendar.add_working_hours(received, limits.reply_hours))
        warnings = tuple(dict.fromkeys(accept.warnings + reply.warnings))
        return TicketDeadlines(accept.at, reply.at, f"{self.version}: {label}, {limits.describe()}", warnings)

    def callback_due(self, replied: datetime, calendar: WorkCalendar) -> datetime:
        """When the callback (回访) to the citizen is due after a reply at `replied`."""
        return calendar.add_working_days(replied, self.callback.working_days).at
