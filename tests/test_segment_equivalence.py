"""The fast segmenter (jieba-rs) gives exactly jieba's tokens, user dictionary included."""

import csv

import pytest

from classifiers.segment import Segmenter
from cli.settings import PROJECT_DIR

USERDICT = PROJECT_DIR / "config" / "userdict.txt"
CORPORA = [
    ("classification/train_raw.csv", ("title", "text")),
    ("tipdm2020c/messages_replies.csv", ("留言主题", "留言详情")),
    ("tipdm2020c/messages_likes.csv", ("留言主题", "留言详情")),
    ("tipdm2020c/messages_unlabelled.csv", ("留言主题", "留言详情")),
    ("fuzhou/complaints.csv", ("title", "content")),
]


def check(texts):
    fast, reference = Segmenter(USERDICT, "rjieba"), Segmenter(USERDICT, "jieba")
    differing = [t for t in texts if fast.raw_tokens(t) != reference.raw_tokens(t)]
    return differing


def test_known_differences_are_mended():
    texts = ["见 baidu.com 与 2015-2040 规划，publish_id 字段", "楼上空调咚咚咚作响", "A3区业委会和物业公司拖欠工资"]
    assert check(texts) == []
    assert "A3区" in Segmenter(USERDICT).tokens(texts[2])


def test_samples_segment_identically():
    with open(PROJECT_DIR / "samples" / "training.csv", encoding="utf-8") as handle:
        texts = [f"{r['title']}\n{r['text']}" for r in csv.DictReader(handle)]
    assert check(texts) == []


@pytest.mark.shared_data
@pytest.mark.parametrize("name, columns", CORPORA)
def test_every_shared_text_segments_identically(shared_data, name, columns):
    with open(shared_data / name, encoding="utf-8") as handle:
        texts = ["\n".join(row[c] or "" for c in columns) for row in csv.DictReader(handle)]
    assert texts
    differing = check(texts)
    assert differing == [], f"{len(differing)} of {len(texts)} differ, e.g. {differing[0][:80]!r}"
