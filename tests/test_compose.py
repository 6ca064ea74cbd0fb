"""docker-compose.yml must stay valid: Debian's docker-compose checks it without a Docker engine."""

import shutil
import subprocess

import pytest
import yaml

from cli.settings import PROJECT_DIR


def test_compose_file_is_valid():
    if not shutil.which("docker-compose"):
        pytest.fail("docker-compose is not installed (make test installs Debian's docker-compose)")
    result = subprocess.run(["docker-compose", "-f", str(PROJECT_DIR / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, cwd=PROJECT_DIR, timeout=60)
    assert result.returncode == 0, result.stderr.decode()


def test_compose_runs_the_commands_the_cli_has():
    from click.testing import CliRunner

    from cli.main import main

    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text(encoding="utf-8"))
    for name in ("topics", "worker", "monitor", "web"):
        command = compose["services"][name]["command"]
        result = CliRunner().invoke(main, [command[0], "--help"])
        assert result.exit_code == 0, (name, result.output)
    assert {"kafka", "elasticsearch", "kibana", "prometheus"} <= set(compose["services"])
    scrape = yaml.safe_load((PROJECT_DIR / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["web:8345"]


def test_kibana_saved_objects_are_current_and_name_mapped_fields():
    """The shipped ndjson is what stores/es_kibana.py makes, and every field it charts is in the mappings."""
    import json

    from stores import es_kibana, es_schema

    shipped = (PROJECT_DIR / "deploy" / "kibana" / "hotline.ndjson").read_text(encoding="utf-8")
    assert shipped == es_kibana.ndjson(), "run: python -m stores.es_kibana > deploy/kibana/hotline.ndjson"
    objects = {o["id"]: o for o in map(json.loads, shipped.splitlines())}
    kinds = {pattern.removeprefix(f"{es_kibana.PREFIX}-").removesuffix("-*"): view
             for view, (pattern, _) in es_kibana.DATA_VIEWS.items()}
    properties = {view: es_schema.INDICES[kind][0] for kind, view in kinds.items()}
    for view, (_, time_field) in es_kibana.DATA_VIEWS.items():
        assert properties[view][time_field]["type"] == "date"
    charted = 0
    for obj in objects.values():
        for ref in obj["references"]:
            assert ref["id"] in objects, (obj["id"], ref)  # every reference resolves inside the file
        if obj["type"] == "visualization":
            view = obj["references"][0]["id"]
            for agg in json.loads(obj["attributes"]["visState"])["aggs"]:
                field = agg["params"].get("field")
                if field:
                    top, _, sub = field.partition(".")
                    mapped = properties[view][top]
                    assert (mapped.get("fields", {}).get(sub) if sub else mapped).get("index", True), field
                    charted += 1
    assert charted >= 10
    dashboards = [o for o in objects.values() if o["type"] == "dashboard"]
    assert {d["id"] for d in dashboards} == {"hotline-overview", "hotline-supervision", "hotline-opinion"}


def test_elasticsearch_templates_cover_every_ticket_field():
    from hotline.models import DispatchedTicket
    from stores import es_schema
    from stores.base import TICKET_FIELDS

    template = es_schema.template("hotline", "tickets")
    mapped = template["template"]["mappings"]["properties"]
    assert template["index_patterns"] == ["hotline-tickets-*"]
    assert template["template"]["settings"]["index.lifecycle.name"] == es_schema.LIFECYCLE_POLICY
    assert set(TICKET_FIELDS) <= set(mapped) and set(DispatchedTicket.model_fields) - {"segmented"} <= set(mapped)
    assert mapped["words"]["analyzer"] == "whitespace"
    assert all(mapped[f]["type"] == "keyword" for f in ("lead_unit", "domain", "district", "status"))
    assert all(mapped[f]["type"] == "date" for f in ("received_at", "reply_due", "closed_at"))
