import csv
import json
import pickle
import random
import subprocess

import pytest

from classifiers import model_file
from classifiers.segment import Segmenter
from cli.settings import PROJECT_DIR
from tests.conftest import hotline_command

USERDICT = PROJECT_DIR / "config" / "userdict.txt"


def test_user_dictionary_words_stay_whole():
    tokens = Segmenter(USERDICT).tokens("A3区业委会和物业公司拖欠工资，手机138****5678")
    assert {"A3区", "业委会", "物业公司", "拖欠工资"} <= set(tokens)
    assert "****" not in tokens


def test_sample_model_predicts_calibrated_top3_and_round_trips(sample_model, tmp_path):
    model = model_file.load(sample_model, Segmenter(USERDICT))
    card = model.card
    assert len(card["classes"]) == 7 and card["data"]["rows"] == 840
    assert card["versions"]["jieba"] and card["versions"]["scikit-learn"] and len(card["data"]["sha256"]) == 64
    assert card["metrics"]["macro_f1"] > 0.8
    predictions = model.predict(["A1区某小区物业乱收费，电梯坏了没人修", "工地夜间施工噪音扰民"])
    assert [p.label for p in predictions] == ["城乡建设", "环境保护"]
    for p in predictions:
        assert len(p.top) == 3 and p.top[0][1] >= p.top[1][1] >= p.top[2][1]
        assert 0 < p.confidence <= 1 and p.model_version == card["version"]
    copy = tmp_path / "copy.joblib"
    model.save(copy)
    assert model_file.load(copy, Segmenter(USERDICT)).predict(["工地夜间施工噪音扰民"])[0].label == "环境保护"


def test_loading_something_else_fails_clearly(tmp_path):
    import joblib

    bogus = tmp_path / "bogus.joblib"
    joblib.dump({"hello": 1}, bogus)
    with pytest.raises(ValueError, match="not a hotline model file"):
        model_file.load(bogus, Segmenter(USERDICT))


def test_classify_command_writes_jsonl(sample_model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "x1", "title": "孩子入学", "text": "学校说学位已满"}, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    result = subprocess.run(hotline_command("classify", "--model", str(sample_model), str(source)),
                            capture_output=True, cwd=PROJECT_DIR, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    line = json.loads(result.stdout)
    assert line["id"] == "x1" and line["domain"] == "教育文体" and len(line["top"]) == 3


@pytest.mark.shared_data
def test_train_and_evaluate_on_the_board_messages(shared_data, tmp_path):
    """`hotline train` on part of train_raw.csv, `hotline evaluate --json` on the unseen rest."""
    with open(shared_data / "classification" / "train_raw.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    random.Random(7).shuffle(rows)
    cut = int(len(rows) * 0.8)
    for name, part in (("train.csv", rows[:cut]), ("test.csv", rows[cut:])):
        with open(tmp_path / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(part)
    model = tmp_path / "model.joblib"
    cols = ["--title-col", "title", "--text-col", "text", "--label-col", "label"]
    trained = subprocess.run(hotline_command("train", "--data", str(tmp_path / "train.csv"), *cols,
                                             "--out", str(model), "--cv", "3"),
                             capture_output=True, cwd=PROJECT_DIR, timeout=600)
    assert trained.returncode == 0, trained.stderr.decode()
    card = json.loads(trained.stdout)
    assert card["data"]["rows"] == cut and card["metrics"]["macro_f1"] > 0.8
    evaluated = subprocess.run(hotline_command("evaluate", "--model", str(model), "--data", str(tmp_path / "test.csv"),
                                               *cols, "--json"),
                               capture_output=True, cwd=PROJECT_DIR, timeout=600)
    assert evaluated.returncode == 0, evaluated.stderr.decode()
    figures = json.loads(evaluated.stdout)
    assert figures["n"] == len(rows) - cut
    assert figures["macro_f1"] > 0.8 and figures["accuracy"] > 0.8
    assert set(figures["per_class"]) == set(card["classes"])


def test_a_replaced_model_file_is_picked_up_without_restart(sample_model, tmp_path):
    import shutil

    from cli import services

    segmenter = Segmenter(USERDICT)
    path = tmp_path / "current.joblib"
    shutil.copy(sample_model, path)
    watched = model_file.ModelFile(path, segmenter, check_every=0)
    first = watched.current().version
    texts, labels = services.read_labelled_csv(PROJECT_DIR / "samples" / "training.csv", "title", "text", "label")
    model_file.train(texts[:300], labels[:300], segmenter, source="part", cv_folds=0).save(path)
    assert watched.current().version != first
    path.write_bytes(b"not a model")  # a broken file is refused and the running model kept
    assert watched.current().version != first


def test_reliability_measures_the_gap_between_confidence_and_accuracy():
    from classifiers.metrics import reliability

    honest = reliability([0.9] * 10, [True] * 9 + [False])
    assert honest["expected_calibration_error"] == 0.0 and honest["bins"][0]["n"] == 10
    overconfident = reliability([0.95] * 10, [True] * 5 + [False] * 5)
    assert overconfident["expected_calibration_error"] == pytest.approx(0.45)


def test_the_model_card_reports_calibration(sample_model):
    card = model_file.load(sample_model, Segmenter(USERDICT)).card
    assert 0 <= card["metrics"]["reliability"]["expected_calibration_error"] < 0.2
    assert sum(b["n"] for b in card["metrics"]["reliability"]["bins"]) == card["data"]["rows"]


def _sample_documents() -> list[str]:
    segmenter = Segmenter(PROJECT_DIR / "config" / "userdict.txt")
    with open(PROJECT_DIR / "samples" / "training.csv", encoding="utf-8") as handle:
        documents = [segmenter.segment(f"{r['title']} {r['text']}") for r in csv.DictReader(handle)]
    # mixed case, accents, empty, a one-character token, a token repeated (the title is weighted so)
    return documents + ["Déjà VU A3区 x", "", "一", "路灯 路灯 路灯 不亮"]


def _assert_same(fast, reference, documents):
    expected = reference.transform(documents)
    for _ in range(2):  # cold cache, then warm
        assert abs(fast.transform(documents) - expected).max() < 1e-12
    # a batch's documents do not run into each other: one at a time gives the same rows
    for i in (0, len(documents) - 3, len(documents) - 1):
        assert abs(fast.transform(documents[i:i + 1]) - expected[i]).max() < 1e-12
    assert fast.counts([]).shape == (0, expected.shape[1])
    assert fast.transform(["", ""]).nnz == 0
    copy = pickle.loads(pickle.dumps(fast))  # a model file keeps the vocabulary, not the lookup tables
    assert abs(copy.transform(documents) - expected).max() < 1e-12


@pytest.mark.parametrize("ngram_range,min_df", [((1, 3), 2), ((2, 4), 1)])
def test_fast_char_ngrams_equal_scikit_learns(ngram_range, min_df):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from classifiers.vectorizers import CharNgramTfidf

    documents = _sample_documents()
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, sublinear_tf=True, min_df=min_df)
    reference.fit(documents[:600])
    fast = CharNgramTfidf(ngram_range=ngram_range, min_df=min_df).fit(documents[:600])
    assert fast.vocabulary_ == reference.vocabulary_
    _assert_same(fast, reference, documents)


@pytest.mark.parametrize("ngram_range,min_df", [((1, 2), 1), ((1, 1), 1), ((2, 2), 1), ((1, 2), 2)])
def test_fast_word_ngrams_equal_scikit_learns(ngram_range, min_df):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from classifiers.vectorizers import WordNgramTfidf

    documents = _sample_documents()
    reference = TfidfVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False, ngram_range=ngram_range,
                                sublinear_tf=True, min_df=min_df).fit(documents[:600])
    fast = WordNgramTfidf(ngram_range=ngram_range, min_df=min_df).fit(documents[:600])
    assert fast.vocabulary_ == reference.vocabulary_
    _assert_same(fast, reference, documents)


def test_near_duplicates_by_token_overlap():
    from classifiers.overlap import near_duplicates

    references = ["小区 物业 电梯 坏 了 一个月", "学校 收费 不合理"]
    found = near_duplicates(["小区 物业 电梯 坏 了", "公交 线路 太少 等车 太久", "学校 乱 收费 不合理 问题"], references)
    assert found.tolist() == [True, False, True]
    assert near_duplicates([], references).tolist() == []


def test_extra_data_never_leaks_copies_of_test_messages_into_the_metrics():
    """Extra data made of copies of the training rows would make naive cross-validation near perfect;
    with each fold's near-copies dropped the card reports what the data alone gives."""
    segmenter = Segmenter(PROJECT_DIR / "config" / "userdict.txt")
    with open(PROJECT_DIR / "samples" / "training.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:400]
    texts = [f"{r['title']}\n{r['text']}" for r in rows]
    labels = [r["label"] for r in rows]
    alone = model_file.train(texts, labels, segmenter, "sample", cv_folds=3)
    copies = [text.replace("\n", " ") for text in texts]  # the tokenised export holds the same messages
    both = model_file.train(texts, labels, segmenter, "sample", cv_folds=3, extra=(copies, labels), extra_source="copies")
    assert both.card["data"]["extra"]["rows"] == 400
    assert "dropped per fold" in both.card["metrics"]["method"]
    assert abs(both.card["metrics"]["macro_f1"] - alone.card["metrics"]["macro_f1"]) < 0.015  # leaking: +0.028
    with pytest.raises(ValueError, match="labels the training data lacks"):
        model_file.train(texts, labels, segmenter, "sample", cv_folds=0, extra=(copies[:1], ["不存在"]))
