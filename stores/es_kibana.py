"""Kibana saved objects for the Elasticsearch store: data views over its indices, visualizations and three
dashboards (intake overview, supervision, opinion). Every field named here is in stores/es_schema.py
(tests/test_compose.py checks it).

`python -m stores.es_kibana > deploy/kibana/hotline.ndjson` writes the file that docker-compose's
`kibana-setup` service imports through Kibana's saved objects API.
"""

from __future__ import annotations

import json
import sys

from hotline.lifecycle import OPEN_STATUSES

PREFIX = "hotline"

# data view id -> (index pattern, time field)
DATA_VIEWS = {
    "hotline-tickets": (f"{PREFIX}-tickets-*", "received_at"),
    "hotline-alerts": (f"{PREFIX}-alerts", "raised_at"),
    "hotline-opinion-alerts": (f"{PREFIX}-opinion-alerts", "raised_at"),
    "hotline-rejections": (f"{PREFIX}-rejections-*", "rejected_at"),
}
OPEN = " or ".join(OPEN_STATUSES)


def _terms(agg_id: str, field: str, schema: str, size: int = 20, label: str = "") -> dict:
    return {"id": agg_id, "enabled": True, "type": "terms", "schema": schema,
            "params": {"field": field, "size": size, "order": "desc", "orderBy": "1", "customLabel": label}}


COUNT = {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}

# id -> (title, data view, KQL query, vis type, aggregations)
VISUALIZATIONS = {
    "hotline-volume-by-channel": ("工单量（按渠道）Tickets per hour by channel", "hotline-tickets", "", "histogram", [
        COUNT,
        {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment",
         "params": {"field": "received_at", "interval": "h", "min_doc_count": 1}},
        _terms("3", "channel", "group", 5, "渠道"),
    ]),
    "hotline-domains": ("领域分布 Tickets by domain", "hotline-tickets", "", "pie", [COUNT, _terms("2", "domain", "segment", 20, "领域")]),
    "hotline-districts": ("区县 Tickets by district", "hotline-tickets", "", "table", [COUNT, _terms("2", "district", "bucket", 30, "区县")]),
    "hotline-status": ("办理状态 Tickets by status", "hotline-tickets", "", "pie", [COUNT, _terms("2", "status", "segment", 10, "状态")]),
    "hotline-overdue-by-unit": ("超期未办结（按承办单位）Overdue open tickets by unit", "hotline-tickets",
                                f"status:({OPEN}) and reply_due < now", "table",
                                [COUNT, _terms("2", "lead_unit", "bucket", 50, "承办单位")]),
    "hotline-satisfaction-by-unit": ("回访满意度（按承办单位）Callback results by unit", "hotline-tickets", "satisfaction:*", "table",
                                     [COUNT, _terms("2", "lead_unit", "bucket", 50, "承办单位"),
                                      _terms("3", "satisfaction", "bucket", 5, "满意度")]),
    "hotline-alerts-by-unit": ("预警与督办（按单位、种类、级别）Alerts by unit, kind and level", "hotline-alerts",
                               "not acknowledged_at:*", "table",
                               [COUNT, _terms("2", "unit", "bucket", 50, "单位"), _terms("3", "kind", "bucket", 5, "种类"),
                                _terms("4", "level", "bucket", 5, "级别")]),
    "hotline-topics": ("热点话题 Tickets per topic", "hotline-tickets", "topic_id:*", "table",
                       [COUNT, _terms("2", "topic_id", "bucket", 30, "话题")]),
    "hotline-opinion-alerts": ("舆情突增预警 Surge alerts", "hotline-opinion-alerts", "", "table",
                               [COUNT, _terms("2", "key", "bucket", 30, "维度"), _terms("3", "label", "bucket", 1, "话题词")]),
    "hotline-dead-letters": ("退信原因 Dead letters by reason", "hotline-rejections", "", "table",
                             [COUNT, _terms("2", "reason.raw", "bucket", 30, "原因")]),
}

# id -> (title, visualization ids)
DASHBOARDS = {
    "hotline-overview": ("12345 工单总览 Intake overview",
                         ["hotline-volume-by-channel", "hotline-domains", "hotline-status", "hotline-districts", "hotline-dead-letters"]),
    "hotline-supervision": ("督办考核 Supervision",
                            ["hotline-overdue-by-unit", "hotline-alerts-by-unit", "hotline-satisfaction-by-unit"]),
    "hotline-opinion": ("舆情监测 Opinion monitoring",
                        ["hotline-topics", "hotline-opinion-alerts", "hotline-volume-by-channel"]),
}


def _search_source(query: str) -> str:
    return json.dumps({"query": {"query": query, "language": "kuery"}, "filter": [],
                       "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}, ensure_ascii=False)


def saved_objects() -> list[dict]:
    objects = [{"type": "index-pattern", "id": view_id, "attributes": {"title": pattern, "timeFieldName": time_field},
                "references": []} for view_id, (pattern, time_field) in DATA_VIEWS.items()]
    for vis_id, (title, view, query, vis_type, aggs) in VISUALIZATIONS.items():
        params = {"perPage": 20} if vis_type == "table" else {"addLegend": True, "addTooltip": True}
        objects.append({"type": "visualization", "id": vis_id, "attributes": {
            "title": title, "description": "", "uiStateJSON": "{}", "version": 1,
            "visState": json.dumps({"title": title, "type": vis_type, "params": params, "aggs": aggs}, ensure_ascii=False),
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(query)}},
            "references": [{"type": "index-pattern", "id": view, "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}]})
    for dash_id, (title, panels) in DASHBOARDS.items():
        grid = [{"panelIndex": str(i), "gridData": {"x": (i % 2) * 24, "y": (i // 2) * 15, "w": 24, "h": 15, "i": str(i)},
                 "embeddableConfig": {}, "panelRefName": f"panel_{i}", "type": "visualization"} for i in range(len(panels))]
        objects.append({"type": "dashboard", "id": dash_id, "attributes": {
            "title": title, "description": "", "timeRestore": True, "timeFrom": "now-7d", "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 30000},
            "panelsJSON": json.dumps(grid), "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})}},
            "references": [{"type": "visualization", "id": vis, "name": f"panel_{i}"} for i, vis in enumerate(panels)]})
    return objects


def ndjson() -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in saved_objects())


if __name__ == "__main__":
    sys.stdout.write(ndjson())
