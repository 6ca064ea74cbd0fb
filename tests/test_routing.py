from datetime import datetime

import pytest
import yaml

from cli.settings import PROJECT_DIR
from hotline.models import Prediction
from hotline.records import to_ticket
from hotline.routing import Router, RoutingConfigError
from hotline.timestamps import SHANGHAI

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def router() -> Router:
    with open(PROJECT_DIR / "config" / "routing.yaml", encoding="utf-8") as handle:
        return Router.from_config(yaml.safe_load(handle))


def route(router, domain, text, confidence=0.9, district=None):
    ticket = to_ticket("hotline", {"id": "1", "title": "", "text": text, "district": district}, NOW)
    prediction = Prediction(label=domain, confidence=confidence, top=[(domain, confidence)], model_version="t")
    return router.route(ticket, prediction)


def test_keyword_rule_picks_the_lead_unit_and_the_district_government(router):
    decision, district = route(router, "城乡建设", "A3区某小区物业不作为，电梯坏了")
    assert district == "A3区"
    assert decision.rule_id == "urban-property"
    assert decision.lead_unit == "housing"
    assert decision.co_units == ["a3-gov"]
    assert decision.subdomain == "物业管理"
    assert "subdomain 物业管理 (keyword 物业)" in decision.explanation and "A3区人民政府" in decision.explanation
    assert not decision.needs_review


def test_a_rule_on_the_second_level_topic(router):
    decision, _ = route(router, "交通运输", "路口红绿灯坏了三天")
    assert (decision.subdomain, decision.rule_id, decision.lead_unit) == ("交通秩序", "transport-traffic", "traffic-police")
    # the topic belongs to its domain: the same words under another domain find no topic of that domain
    decision, _ = route(router, "教育文体", "学校门口红绿灯坏了")
    assert decision.subdomain is None and decision.rule_id == "education-default"
    # a topic found without a rule on it still travels with the ticket
    decision, _ = route(router, "交通运输", "公交站台太远")
    assert (decision.subdomain, decision.rule_id) == ("公共交通", "transport-default")


def test_the_form_district_wins_over_the_text(router):
    _, district = route(router, "环境保护", "A3区的工厂排污", district="A5区")
    assert district == "A5区"


def test_domain_default_when_no_keyword_matches(router):
    decision, _ = route(router, "交通运输", "公交车太少")
    assert decision.rule_id == "transport-default" and decision.lead_unit == "transport"
    assert decision.co_units == []  # no district known


def test_low_confidence_waits_for_a_dispatcher(router):
    decision, _ = route(router, "教育文体", "学校收费", confidence=0.2)
    assert decision.needs_review
    assert "held for a dispatcher" in decision.explanation


def test_unknown_domain_falls_back_to_the_centre(router):
    decision, _ = route(router, "不存在的领域", "随便说说")
    assert decision.rule_id == "fallback" and decision.lead_unit == "centre" and decision.needs_review


def test_every_domain_of_the_board_has_a_rule(router):
    domains = {"城乡建设", "劳动和社会保障", "教育文体", "商贸旅游", "卫生计生", "环境保护", "交通运输"}
    for domain in domains:
        decision, _ = route(router, domain, "无关键词的内容")
        assert decision.rule_id != "fallback", domain


@pytest.mark.parametrize("change, message", [
    (lambda c: c["rules"].append({"id": "x", "domain": "a", "lead": "nobody"}), "unit 'nobody' is not defined"),
    (lambda c: c["rules"].append(dict(c["rules"][0])), "defined twice"),
    (lambda c: c.update(fallback="nobody"), "fallback unit"),
    (lambda c: c["districts"].append({"name": "Z区", "government": "zz"}), "government unit 'zz'"),
    (lambda c: c.update(review_threshold=2), "review_threshold"),
    (lambda c: c.pop("rules"), "missing key 'rules'"),
    (lambda c: c["rules"].insert(0, {"id": "x", "domain": "环境保护", "subdomain": "物业管理", "lead": "housing"}),
     "subdomain '物业管理' of domain 环境保护 is not defined"),
    (lambda c: c["rules"].insert(0, {"id": "x", "subdomain": "无此类", "lead": "housing"}), "subdomain '无此类' is not defined"),
    (lambda c: c["subdomains"].update({"环境保护": {"噪音": "噪音"}}), "keywords must be a non-empty list"),
])
def test_configuration_errors_are_named(change, message):
    with open(PROJECT_DIR / "config" / "routing.yaml", encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    change(config)
    with pytest.raises(RoutingConfigError, match=message):
        Router.from_config(config)


def test_a_configuration_error_names_file_and_line_at_start_up(tmp_path):
    import shutil

    from cli.services import build_router
    from cli.settings import ConfigError, load_settings

    config = tmp_path / "config"
    shutil.copytree(PROJECT_DIR / "config", config)
    routing = config / "routing.yaml"
    lines = routing.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines) if "id: transport-default" in line)
    lines[number] = lines[number].replace("lead: transport", "lead: transprot")
    routing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = load_settings({"HOTLINE_HOME": str(tmp_path / "home"), "HOTLINE_CONFIG_DIR": str(config)})
    with pytest.raises(ConfigError) as caught:
        build_router(settings)
    assert str(caught.value).startswith(f"{routing}:{number + 1}: ")
    assert "unit 'transprot' is not defined" in str(caught.value)

    routing.write_text(routing.read_text(encoding="utf-8").replace("lead: transprot", "lead: transport, colour: red"), "utf-8")
    with pytest.raises(ConfigError, match=rf":{number + 1}: .*unknown key\(s\) colour"):
        build_router(settings)


def test_hotline_up_refuses_to_start_on_a_bad_routing_file(tmp_path):
    import os
    import shutil
    import subprocess

    from tests.conftest import hotline_command

    config = tmp_path / "config"
    shutil.copytree(PROJECT_DIR / "config", config)
    routing = config / "routing.yaml"
    routing.write_text(routing.read_text(encoding="utf-8").replace("fallback: centre", "fallback: nowhere"), "utf-8")
    result = subprocess.run(hotline_command("up"), cwd=PROJECT_DIR, capture_output=True, timeout=120,
                            env={**os.environ, "HOTLINE_HOME": str(tmp_path / "home"),
                                 "HOTLINE_CONFIG_DIR": str(config)})
    assert result.returncode != 0
    assert f"{routing}:" in result.stderr.decode() and "fallback unit 'nowhere'" in result.stderr.decode()


def test_a_bad_subdomain_names_its_line(tmp_path):
    import shutil

    from cli.services import build_router
    from cli.settings import ConfigError, load_settings

    config = tmp_path / "config"
    shutil.copytree(PROJECT_DIR / "config", config)
    routing = config / "routing.yaml"
    lines = routing.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines) if line.strip().startswith("噪音扰民:"))
    lines[number] = "    噪音扰民: []"
    routing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = load_settings({"HOTLINE_HOME": str(tmp_path / "home"), "HOTLINE_CONFIG_DIR": str(config)})
    with pytest.raises(ConfigError, match=rf"^{routing}:{number + 1}: subdomain 噪音扰民 of 环境保护"):
        build_router(settings)
