"""Elasticsearch index templates, mappings and the monthly lifecycle policy of the Elasticsearch store.

Monthly indices (`<prefix>-tickets-2026.11`, by the month a ticket was received; ticket events and dead letters
likewise) are read through their patterns. The segmented text (`words`, jieba tokens joined by spaces) is
analysed by whitespace, so a search word is one jieba token as in the SQLite store; title and text use the
standard analyzer (one token per Chinese character) for free searching in Kibana. Units, domains, districts
and statuses are keywords for filters and aggregations. Personal data is kept but never indexed.
"""

from __future__ import annotations

LIFECYCLE_POLICY = "hotline-monthly"

# Monthly indices stay writable (a ticket gets events for weeks after it arrives); after three months one
# segment per shard, after a year the cheaper nodes. Archives are never deleted by the policy.
POLICY = {
    "phases": {
        "hot": {"min_age": "0ms", "actions": {"set_priority": {"priority": 100}}},
        "warm": {"min_age": "90d", "actions": {"forcemerge": {"max_num_segments": 1}, "set_priority": {"priority": 50}}},
        "cold": {"min_age": "365d", "actions": {"set_priority": {"priority": 0}}},
    }
}

KEYWORD = {"type": "keyword"}
DATE = {"type": "date"}
NOT_INDEXED = {"type": "object", "enabled": False}

TICKET_PROPERTIES = {
    "seq": {"type": "long"},
    "ticket_id": KEYWORD, "channel": KEYWORD, "source_id": KEYWORD,
    "received_at": DATE, "received_at_source": {"type": "keyword", "index": False}, "ingested_at": DATE,
    "stored_at": DATE, "updated_at": DATE,
    "title": {"type": "text", "analyzer": "standard"},
    "text": {"type": "text", "analyzer": "standard"},
    "words": {"type": "text", "analyzer": "whitespace", "similarity": "BM25"},
    "caller": {"type": "keyword", "index": False}, "phone": {"type": "keyword", "index": False},
    "personal": NOT_INDEXED,
    "district": KEYWORD, "ticket_type": KEYWORD, "ticket_type_source": KEYWORD, "urgency": KEYWORD,
    "likes": {"type": "integer"}, "content_hash": KEYWORD,
    "domain": KEYWORD, "subdomain": KEYWORD, "confidence": {"type": "float"}, "top": NOT_INDEXED,
    "model_version": KEYWORD, "type_confidence": {"type": "float"},
    "lead_unit": KEYWORD, "co_units": KEYWORD, "rule_id": KEYWORD,
    "routing_explanation": {"type": "text", "index": False},
    "status": KEYWORD, "returns": {"type": "integer"}, "returned_by": KEYWORD, "late_acceptances": KEYWORD,
    "watch_at": DATE,  # the deadline watch's next look at the ticket (missing: now)
    "last_return_reason": {"type": "text", "index": False},
    "flagged": KEYWORD, "corrected": {"type": "boolean"},
    "accept_due": DATE, "reply_due": DATE, "deadline_policy": KEYWORD, "deadline_warnings": {"type": "text", "index": False},
    "accepted_at": DATE, "replied_at": DATE, "reply_seconds": {"type": "float"}, "reply_working_days": {"type": "float"},
    "on_time": {"type": "boolean"}, "accepted_on_time": {"type": "boolean"}, "paused_since": DATE,
    "paused_hours": {"type": "float"},
    "extension_pending": {"type": "integer"}, "extensions": {"type": "integer"},
    "closed_at": DATE, "satisfaction": KEYWORD, "reopened": {"type": "integer"}, "merged_into": KEYWORD,
    "callback_due": DATE, "callback_attempts": {"type": "integer"}, "urged": {"type": "integer"},
    "topic_id": KEYWORD,            # set by the opinion monitor: dashboards aggregate topics over tickets
    "event_ids": KEYWORD,           # the lifecycle events applied to this ticket (each applied once)
}

EVENT_PROPERTIES = {
    "seq": {"type": "long"}, "event_id": KEYWORD, "ticket_id": KEYWORD, "kind": KEYWORD, "at": DATE,
    "actor": KEYWORD, "data": NOT_INDEXED,
}
REJECTION_PROPERTIES = {
    "seq": {"type": "long"}, "rejection_id": KEYWORD, "channel": KEYWORD, "source_ref": KEYWORD, "stage": KEYWORD,
    "reason": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}},
    "payload": {"type": "text", "index": False}, "payload_encoding": KEYWORD, "payload_size": {"type": "integer"},
    "payload_truncated": {"type": "boolean"}, "rejected_at": DATE,
    "resent_as": KEYWORD, "resent_by": KEYWORD, "resent_at": DATE,
}
CORRECTION_PROPERTIES = {
    "seq": {"type": "long"}, "event_id": KEYWORD, "ticket_id": KEYWORD, "title": {"type": "text"}, "text": {"type": "text"},
    "domain": KEYWORD, "predicted_domain": KEYWORD, "lead_unit": KEYWORD, "predicted_unit": KEYWORD,
    "actor": KEYWORD, "at": DATE,
}
ALERT_PROPERTIES = {
    "seq": {"type": "long"}, "alert_id": KEYWORD, "ticket_id": KEYWORD, "kind": KEYWORD, "level": {"type": "integer"},
    "to_whom": KEYWORD, "unit": KEYWORD, "reply_due": DATE, "due_at": DATE, "raised_at": DATE,
    "message": {"type": "text"}, "acknowledged_by": KEYWORD, "acknowledged_at": DATE, "published": {"type": "boolean"},
}
TOPIC_PROPERTIES = {
    "topic_id": KEYWORD, "terms": NOT_INDEXED, "label": KEYWORD, "size": {"type": "integer"},
    "first_seen": DATE, "last_seen": DATE, "representative": KEYWORD, "representative_similarity": {"type": "float"},
    "updated_seq": {"type": "long"},
}
MEMBER_PROPERTIES = {
    "ticket_id": KEYWORD, "topic_id": KEYWORD, "similarity": {"type": "float"}, "duplicate_of": KEYWORD,
    "negative": {"type": "integer"},
}
COUNT_PROPERTIES = {"key": KEYWORD, "hour": DATE, "count": {"type": "integer"}}
OPINION_ALERT_PROPERTIES = {
    "seq": {"type": "long"}, "alert_id": KEYWORD, "kind": KEYWORD, "key": KEYWORD, "observed": {"type": "integer"},
    "expected": {"type": "float"}, "p_value": {"type": "double"}, "window_start": DATE, "window_end": DATE,
    "examples": KEYWORD, "label": KEYWORD, "raised_at": DATE, "acknowledged_by": KEYWORD, "acknowledged_at": DATE,
    "assigned_to": KEYWORD, "published": {"type": "boolean"},
}

# name -> (properties, monthly): monthly indices get the lifecycle policy
INDICES = {
    "tickets": (TICKET_PROPERTIES, True),
    "events": (EVENT_PROPERTIES, True),
    "rejections": (REJECTION_PROPERTIES, True),
    "corrections": (CORRECTION_PROPERTIES, False),
    "alerts": (ALERT_PROPERTIES, False),
    "topics": (TOPIC_PROPERTIES, False),
    "topic-members": (MEMBER_PROPERTIES, False),
    "arrival-counts": (COUNT_PROPERTIES, False),
    "opinion-alerts": (OPINION_ALERT_PROPERTIES, False),
}


def template(prefix: str, name: str) -> dict:
    """The index template for one kind of document: keyword arguments for `indices.put_index_template`."""
    properties, monthly = INDICES[name]
    settings = {"number_of_shards": 1, "refresh_interval": "1s"}
    if monthly:
        settings["index.lifecycle.name"] = LIFECYCLE_POLICY
    return {
        "name": f"{prefix}-{name}",
        "index_patterns": [f"{prefix}-{name}-*" if monthly else f"{prefix}-{name}"],
        "priority": 200,
        "template": {"settings": settings, "mappings": {"dynamic": "strict", "properties": properties}},
    }
