"""Invented traffic for the opinion-monitoring demo and tests: a steady background of ordinary messages
with a daily rhythm, and a burst of differently worded messages about one new issue.

Built from the templates of samples/generate.py; every call with the same seed gives the same records.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from samples.generate import TEMPLATES, message

# Share of a day's messages arriving in each hour (few at night, peaks mid-morning and afternoon).
HOURLY_SHARE = [1, 1, 1, 1, 1, 2, 3, 5, 8, 9, 9, 7, 5, 6, 8, 8, 7, 6, 5, 5, 4, 3, 2, 1]


def background(start: datetime, hours: int, per_day: int, seed: int = 1) -> list[tuple[str, dict]]:
    """(channel, raw record) pairs with times from `start` for `hours` hours, about `per_day` a day."""
    rng = random.Random(seed)
    domains = list(TEMPLATES)
    total_share = sum(HOURLY_SHARE)
    records = []
    for h in range(hours):
        hour = start + timedelta(hours=h)
        expected = per_day * HOURLY_SHARE[hour.hour] / total_share
        count = int(expected) + (rng.random() < expected - int(expected))
        for _ in range(count):
            title, text = message(rng.choice(domains), rng)
            when = hour + timedelta(seconds=rng.randint(0, 3599))
            channel = rng.choice(("hotline", "web"))
            record = {"id": f"BG{seed}-{len(records):06d}", "title": title, "text": text, "time": when.isoformat()}
            if channel == "web":
                record["likes"] = rng.randint(0, 20)
            else:
                record["type"] = rng.choice(("投诉", "咨询", "求助"))
            records.append((channel, record))
    records.sort(key=lambda r: r[1]["time"])
    return records


PLACES = ["A6区枫林三路下穿通道", "枫林三路的下穿隧道", "A6区枫林三路与岳麓大道交叉口的下穿通道", "枫林三路地下通道",
          "A6区枫林三路隧道", "岳麓大道旁边枫林三路那个下穿通道"]
PROBLEMS = ["一下雨就严重积水", "积水过膝，车辆熄火", "被水淹了，水深半米", "排水泵坏了，通道里全是水", "积水好几天没人抽",
            "雨后积水发臭", "大量积水，行人只能蹚水过去"]
IMPACTS = ["早高峰堵了一个多小时", "好几辆车泡水熄火", "学生上学只能绕路", "电动车骑进去全熄火了", "公交车都改道了",
           "老人小孩过不去", "出租车司机都不敢开进去"]
ASKS = ["请尽快派人抽水疏通", "希望相关部门赶紧修好排水设施", "请市政部门马上处理", "这么严重的安全隐患为什么没人管",
        "强烈要求彻底整改排水系统", "请交通和市政部门尽快解决"]


def burst(at: datetime, count: int = 50, minutes: float = 10, seed: int = 7) -> list[tuple[str, dict]]:
    """`count` messages about one new issue (a flooded underpass), worded differently, within `minutes`."""
    rng = random.Random(seed)
    records = []
    for i in range(count):
        place, problem, impact, ask = rng.choice(PLACES), rng.choice(PROBLEMS), rng.choice(IMPACTS), rng.choice(ASKS)
        title = rng.choice([f"{place}{problem}", f"{place}积水严重", f"关于{place}积水的投诉", f"{place}又淹了"])
        text = "，".join(rng.sample([f"{place}{problem}", impact, ask], 3)) + "。"
        when = at + timedelta(seconds=rng.uniform(0, minutes * 60))
        channel = rng.choice(("hotline", "web"))
        record = {"id": f"BURST{seed}-{i:03d}", "title": title, "text": text, "time": when.isoformat(),
                  "district": "A6区" if rng.random() < 0.7 else ""}
        if channel == "web":
            record["likes"] = rng.randint(0, 50)
        else:  # the call-taker's type (not drawn from rng, so the messages stay those of earlier versions)
            record["type"] = "求助" if i % 3 == 0 else "投诉"
        records.append((channel, record))
    records.sort(key=lambda r: r[1]["time"])
    return records

