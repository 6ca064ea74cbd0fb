"""Routing: domain, second-level topic (二级分类), district and keywords to a lead unit (牵头单位) and
co-units (协办), with the reason.

A ticket's second-level topic ("subdomain") is the first topic of its domain, in file order, one of whose
keywords the title or text contains. Rules are tried in order; the first whose conditions all hold decides. The router is built from
plain data (the parsed routing file) so the domain core never reads files itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hotline.models import Prediction, RoutingDecision, Ticket

DISTRICT_PLACEHOLDER = "district"


class RoutingConfigError(ValueError):
    """The routing configuration is inconsistent. `where` is the path to the entry at fault in the
    parsed file, e.g. ("rules", 3), so a loader can name the line."""

    def __init__(self, message: str, where: tuple = ()):
        super().__init__(message)
        self.where = where


@dataclass(frozen=True)
class Unit:
    id: str
    name: str


@dataclass(frozen=True)
class District:
    name: str
    government: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    lead: str
    co: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    subdomains: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()

    def matches(self, domain: str, subdomain: str | None, district: str | None, content: str) -> tuple[bool, str]:
        reasons = []
        if self.domains:
            if domain not in self.domains:
                return False, ""
            reasons.append(f"domain {domain}")
        if self.subdomains:
            if subdomain not in self.subdomains:
                return False, ""
            reasons.append(f"subdomain {subdomain}")
        if self.districts:
            if district not in self.districts:
                return False, ""
            reasons.append(f"district {district}")
        if self.keywords:
            hit = next((k for k in self.keywords if k in content), None)
            if hit is None:
                return False, ""
            reasons.append(f"keyword {hit}")
        return True, ", ".join(reasons) or "catch-all"


@dataclass
class Router:
    units: dict[str, Unit]
    districts: list[District]
    rules: list[Rule]
    fallback: str
    subdomains: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # domain -> topic -> keywords
    review_threshold: float = 0.5
    max_returns: int = 2
    _district_pattern: re.Pattern | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._check()
        names = {}
        for d in self.districts:
            for alias in (d.name, *d.aliases):
                names[alias] = d.name
        self._district_names = names
        ordered = sorted(names, key=len, reverse=True)
        self._district_pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def _check(self) -> None:
        if not 0.0 <= self.review_threshold <= 1.0:
            raise RoutingConfigError(f"review_threshold must be between 0 and 1, got {self.review_threshold}",
                                     ("review_threshold",))
        if self.max_returns < 0:
            raise RoutingConfigError(f"max_returns must not be negative, got {self.max_returns}", ("max_returns",))
        if self.fallback not in self.units:
            raise RoutingConfigError(f"fallback unit {self.fallback!r} is not a defined unit", ("fallback",))
        for i, d in enumerate(self.districts):
            if d.government not in self.units:
                raise RoutingConfigError(f"district {d.name}: government unit {d.government!r} is not defined",
                                         ("districts", i))
        seen = set()
        known_districts = {d.name for d in self.districts}
        for i, rule in enumerate(self.rules):
            where = ("rules", i)
            if rule.id in seen:
                raise RoutingConfigError(f"rule {rule.id!r} is defined twice", where)
            seen.add(rule.id)
            for unit in (rule.lead, *rule.co):
                if unit != DISTRICT_PLACEHOLDER and unit not in self.units:
                    raise RoutingConfigError(f"rule {rule.id!r}: unit {unit!r} is not defined", where)
            if rule.lead == DISTRICT_PLACEHOLDER:
                raise RoutingConfigError(f"rule {rule.id!r}: the lead must be a unit, not '{DISTRICT_PLACEHOLDER}'", where)
            for name in rule.districts:
                if name not in known_districts:
                    raise RoutingConfigError(f"rule {rule.id!r}: district {name!r} is not defined", where)
            for name in rule.subdomains:
                owners = [d for d, topics in self.subdomains.items() if name in topics]
                if not owners or (rule.domains and not set(owners) & set(rule.domains)):
                    within = f" of domain {'/'.join(rule.domains)}" if rule.domains else ""
                    raise RoutingConfigError(f"rule {rule.id!r}: subdomain {name!r}{within} is not defined", where)

    @classmethod
    def from_config(cls, data: dict) -> "Router":
        """Build from the parsed routing file (see config/routing.yaml for the format)."""
        for key in ("units", "rules", "fallback"):
            if key not in data:
                raise RoutingConfigError(f"missing key {key!r}")
        units, districts, rules = {}, [], []
        for i, u in enumerate(_entries(data, "units")):
            with _entry("units", i):
                if u["id"] in units:
                    raise RoutingConfigError(f"unit {u['id']!r} is defined twice", ("units", i))
                units[u["id"]] = Unit(id=str(u["id"]), name=str(u["name"]))
        for i, d in enumerate(_entries(data, "districts")):
            with _entry("districts", i):
                districts.append(District(name=d["name"], government=d["government"], aliases=tuple(d.get("aliases", ()))))
        subdomains = _subdomains(data.get("subdomains"))
        for i, r in enumerate(_entries(data, "rules")):
            with _entry("rules", i):
                unknown = set(r) - RULE_KEYS
                if unknown:
                    raise RoutingConfigError(f"rule {r.get('id')!r}: unknown key(s) {', '.join(sorted(unknown))}", ("rules", i))
                rules.append(Rule(
                    id=str(r["id"]), lead=r["lead"], co=tuple(r.get("co", ())),
                    domains=tuple(_as_list(r.get("domain"))), subdomains=tuple(_as_list(r.get("subdomain"))),
                    keywords=tuple(r.get("keywords", ())),
                    districts=tuple(_as_list(r.get("district"))),
                ))
        try:
            threshold = float(data.get("review_threshold", 0.5))
            max_returns = int(data.get("max_returns", 2))
        except (TypeError, ValueError) as exc:
            raise RoutingConfigError(f"review_threshold and max_returns must be numbers ({exc})") from None
        return cls(units=units, districts=districts, rules=rules, fallback=data["fallback"],
                   subdomains=subdomains, review_threshold=threshold, max_returns=max_returns)

    def unit_name(self, unit_id: str) -> str:
        unit = self.units.get(unit_id)
        return unit.name if unit else unit_id

    def find_district(self, ticket: Ticket) -> str | None:
        """The ticket's district: the form field if it names one, else the first one the text mentions."""
        if ticket.district:
            name = self._district_names.get(ticket.district)
            if name:
                return name
        if self._district_pattern is None:
            return None
        for content in (ticket.title, ticket.text):
            match = self._district_pattern.search(content)
            if match:
                return self._district_names[match.group(0)]
        return None

    def find_subdomain(self, domain: str, content: str) -> tuple[str, str] | None:
        """The domain's first second-level topic with a keyword in `content`, and that keyword."""
        for topic, keywords in self.subdomains.get(domain, {}).items():
            hit = next((k for k in keywords if k in content), None)
            if hit is not None:
                return topic, hit
        return None

    def route(self, ticket: Ticket, prediction: Prediction) -> tuple[RoutingDecision, str | None]:
        """Decide lead and co-units; returns the decision and the district used."""
        district = self.find_district(ticket)
        content = f"{ticket.title}\n{ticket.text}"
        found = self.find_subdomain(prediction.label, content)
        subdomain = found[0] if found else None
        government = next((d.government for d in self.districts if d.name == district), None)
        for rule in self.rules:
            ok, why = rule.matches(prediction.label, subdomain, district, content)
            if not ok:
                continue
            co = []
            for unit in rule.co:
                resolved = government if unit == DISTRICT_PLACEHOLDER else unit
                if resolved and resolved != rule.lead and resolved not in co:
                    co.append(resolved)
            return self._decision(rule.id, rule.lead, co, why, prediction, district, found), district
        return self._decision("fallback", self.fallback, [], "no rule matched", prediction, district, found), district

    def _decision(self, rule_id, lead, co, why, prediction: Prediction, district, subdomain) -> RoutingDecision:
        needs_review = prediction.confidence < self.review_threshold or rule_id == "fallback"
        parts = [
            f"rule {rule_id} ({why})",
            f"domain {prediction.label} at confidence {prediction.confidence:.2f}",
        ]
        if subdomain:
            parts.append(f"subdomain {subdomain[0]} (keyword {subdomain[1]})")
        parts.append(f"lead {self.unit_name(lead)}")
        if co:
            parts.append("co-units " + "、".join(self.unit_name(u) for u in co))
        if district:
            parts.append(f"district {district}")
        if needs_review:
            parts.append(
                "held for a dispatcher: "
                + ("no rule matched" if rule_id == "fallback" else f"confidence below {self.review_threshold:.2f}")
            )
        return RoutingDecision(
            lead_unit=lead, co_units=co, rule_id=rule_id, explanation="; ".join(parts), needs_review=needs_review,
            subdomain=subdomain[0] if subdomain else None,
        )


RULE_KEYS = {"id", "lead", "co", "domain", "subdomain", "keywords", "district"}


def _subdomains(data) -> dict[str, dict[str, tuple[str, ...]]]:
    """`subdomains: {domain: {topic: [keyword, ...]}}` from the routing file."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RoutingConfigError("subdomains must map each domain to its topics", ("subdomains",))
    result = {}
    for domain, topics in data.items():
        if not isinstance(topics, dict) or not topics:
            raise RoutingConfigError(f"subdomains of {domain}: expected topics, each with a list of keywords",
                                     ("subdomains", domain))
        result[str(domain)] = {}
        for topic, keywords in topics.items():
            if not isinstance(keywords, list) or not keywords or not all(isinstance(k, str) and k for k in keywords):
                raise RoutingConfigError(f"subdomain {topic} of {domain}: keywords must be a non-empty list of words",
                                         ("subdomains", domain, topic))
            result[str(domain)][str(topic)] = tuple(keywords)
    return result


def _entries(data: dict, key: str) -> list[dict]:
    entries = data.get(key) or []
    if not isinstance(entries, list):
        raise RoutingConfigError(f"{key} must be a list", (key,))
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise RoutingConfigError(f"{key} entry {i + 1} must be a mapping", (key, i))
    return entries


class _entry:
    """Turns a missing key or a wrong type in one entry into a RoutingConfigError naming the entry."""

    def __init__(self, key: str, index: int):
        self.where = (key, index)

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, _tb):
        if kind is KeyError:
            raise RoutingConfigError(f"{self.where[0]} entry {self.where[1] + 1}: missing key {exc.args[0]!r}", self.where) from None
        if kind in (TypeError, AttributeError):
            raise RoutingConfigError(f"{self.where[0]} entry {self.where[1] + 1}: malformed ({exc})", self.where) from None
        return False


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
