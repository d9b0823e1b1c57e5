"""The model directory: the one model-name reader (ingest.modelnames), what an article reports
(ingest.modelfacts), the directory's tables filled from real stored articles of ../shared/data
(incremental, crash-safe, rebuilt), its reader API, and `newsbot models`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import REPO

import ingest.model_index as model_index
from ingest.config import Settings
from ingest.model_index import update_model_directory
from ingest.modelfacts import RELEASE, RUMOUR, report
from ingest.modelnames import find_models, read_model
from ingest.models import Feed, FeedState, FetchResult
from ingest.parse import parse_feed
from ingest.store.articles import Articles
from ingest.store.db import Database
from ingest.store.model_directory import ModelDirectory, ModelDirectoryStore

# ------------------------------------------------------------------ the reader (pure)

READS = [
    ("DeepSeek-V3.1", "deepseek", "v3.1", "", "DeepSeek"),
    ("deepseek v3.1", "deepseek", "v3.1", "", "DeepSeek"),
    ("Qwen2.5-72B", "qwen", "2.5", "72B", "Alibaba"),
    ("GPT-4o mini", "gpt", "4o mini", "", "OpenAI"),
    ("Gemini 2.5 Pro", "gemini", "2.5 pro", "", "Google"),
    ("Llama 3.1 405B", "llama", "3.1", "405B", "Meta"),
    ("Claude Opus 4.1", "claude", "4.1 opus", "", "Anthropic"),
    ("Claude 3.5 Sonnet", "claude", "3.5 sonnet", "", "Anthropic"),
    ("Mistral Small 3.1", "mistral", "3.1 small", "", "Mistral AI"),
    ("Qwen3-235B-A22B-Instruct", "qwen", "3", "235B-A22B", "Alibaba"),
    ("Kimi K2", "kimi", "k2", "", "Moonshot AI"),
    ("o4-mini", "o", "4 mini", "", "OpenAI"),
    ("Gemini 2.0 Flash", "gemini", "2 flash", "", "Google"),  # "2.0" is "2"
]


@pytest.mark.parametrize(("text", "family", "key", "size", "maker"), READS)
def test_reads_model_names(text: str, family: str, key: str, size: str, maker: str) -> None:
    m = read_model(text)
    assert m is not None, text
    assert (m.family, m.key, m.size, m.maker) == (family, key, size, maker)


@pytest.mark.parametrize(
    "text",
    [
        "Small 12",
        "Series 2",
        "We raised a Series 2 round",
        "cde-small-v1 is a small embedding model",
        "released under the Apache 2.0 license, a new model",
        "Claude 3 times faster",  # a number with a unit: no version
        "Windows 11 model",
    ],
)
def test_reads_no_versioned_model_where_there_is_none(text: str) -> None:
    assert [m for m in find_models(text) if m.version or m.size] == []


def test_a_question_in_lowercase_names_the_family() -> None:
    [m] = find_models("what's the newest qwen model?")
    assert (m.family, m.version, m.maker) == ("qwen", "", "Alibaba")


def test_an_unknown_name_needs_a_version_and_a_sentence_that_calls_it_a_model() -> None:
    [m] = find_models("Ornith AI announced Ornith-1.5, an open-source model family.")
    assert (m.family, m.version, m.maker) == ("ornith", "1.5", "")
    assert find_models("Ornith-1.5 arrived on Tuesday.") == []


def test_the_catalogue_adds_families_the_core_list_lacks() -> None:
    text = "Meta's Muse Spark 1.2 had a strong benchmark day."
    assert [(m.family, m.key) for m in find_models(text)] == [("muse", "1.2 spark")]
    assert find_models(text, use_catalogue=False, read_unknown=False) == []


# ------------------------------------------------------------------ what an article reports


def test_a_rumour_is_not_a_release_and_facts_keep_to_their_model() -> None:
    text = (
        "Alibaba may not release Qwen 4 this year, reportedly. Meanwhile Alibaba released "
        "Qwen3-Coder. Qwen 3.5 costs $0.40 per million input tokens and $2.40/M output tokens. "
        "Grok 4.6 is cheaper than GPT-5.6 Sol at $2/M input."
    )
    got = {(r.family, r.version): r for r in report("AINews", text)}
    assert got[("qwen", "4")].status == RUMOUR
    assert got[("qwen", "3 coder")].status == RELEASE
    prices = {(f.field, f.value) for f in got[("qwen", "3.5")].facts}
    assert prices == {("price_input", "$0.40"), ("price_output", "$2.40")}
    assert not got[("grok", "4.6")].facts  # two models in one sentence: the price is no one's


def test_a_launch_post_gives_its_facts_to_the_model_of_its_title() -> None:
    text = (
        "It has a 128K context window and ships as open weights under the Llama 3.1 Community "
        "license. It scores 88.6% on MMLU."
    )
    [r] = report("Introducing Llama 3.1 405B", text)
    assert (r.family, r.version) == ("llama", "3.1")
    assert {(f.field, f.value) for f in r.facts} == {
        ("parameters", "405B"),
        ("context", "128K"),
        ("open_weights", "yes"),
        ("licence", "Llama 3.1 Community"),
        ("benchmark", "MMLU 88.6%"),
    }


# ------------------------------------------------------------------ the directory (real data)

FEEDS = {
    "OpenAI News": ("publisher/openai_news.xml", ("lab", "openai")),
    "Google DeepMind Blog": ("publisher/google_deepmind_blog.xml", ("lab", "google")),
    "Anthropic News": ("generated/olshansk_feed_anthropic_news.xml", ("lab", "anthropic")),
    "AINews": ("publisher/smolai_ainews.xml", ("newsletter",)),
}


def _feeds(shared: Path) -> list[Feed]:
    return [Feed(name, str(shared / path), tags) for name, (path, tags) in FEEDS.items()]


def _store(settings: Settings, feeds: list[Feed], only: set[str] | None = None) -> Articles:
    """Parse the real feed files and store their articles (no embedding: not needed)."""
    articles = Articles(Database(settings.db_path))
    for feed in feeds:
        if only is not None and feed.name not in only:
            continue
        body = Path(feed.url).read_bytes()
        parsed = parse_feed(feed, FetchResult(feed=feed.name, status="ok", body=body))
        articles.upsert_feed(feed.name, parsed.articles, FeedState(name=feed.name))
    return articles


@pytest.fixture(scope="module")
def directory_corpus(tmp_path_factory: pytest.TempPathFactory, shared_feeds: Path) -> Settings:
    """The real feeds stored and their directory read once (read-only for the tests)."""
    data = tmp_path_factory.mktemp("models") / "data"
    settings = Settings.load(data_dir=data, feeds=data / "feeds.toml")
    feeds = _feeds(shared_feeds)
    _store(settings, feeds).db.close()
    update_model_directory(settings, feeds)
    return settings


def test_newest_is_the_last_reported_release_not_a_rumour(directory_corpus: Settings) -> None:
    d = ModelDirectory(directory_corpus)
    try:
        qwen = d.newest("qwen")
        assert qwen is not None and qwen.version.startswith("3.8"), qwen
        assert qwen.released is not None
        names = {f.family for f in d.families()}
        assert {"gpt", "claude", "gemini", "qwen", "deepseek"} <= names
        assert not names & {"small", "series", "pro", "mini", "apache"}
    finally:
        d.close()


def test_the_primary_source_is_the_makers_own_post(directory_corpus: Settings) -> None:
    d = ModelDirectory(directory_corpus)
    try:
        card = d.lookup("GPT-4o mini")
        assert card is not None and card.name == "GPT-4o mini"
        assert card.url.startswith("https://openai.com/"), card.url
        assert card.first_seen.date().isoformat() == "2024-07-18"
        opus = d.lookup("claude opus 4.1")
        assert opus is not None and opus.url.startswith("https://www.anthropic.com/")
        assert d.lookup("Claude Opus 9.9") is None  # nothing in the corpus: no card
        assert d.lookup("not a model at all") is None
    finally:
        d.close()


def test_every_fact_cites_an_article_and_disagreements_are_kept(
    directory_corpus: Settings,
) -> None:
    d = ModelDirectory(directory_corpus)
    try:
        cards = [c for f in d.families() for c in f.versions]
        facts = [f for c in cards for f in c.facts]
        assert len(facts) > 100
        assert all(f.url.startswith("http") and f.published is not None for f in facts)
        disagreeing = [c for c in cards if c.disagreements()]
        assert disagreeing  # real sources do disagree: both values are kept
        c = disagreeing[0]
        field = c.disagreements()[0]
        assert len({f.value for f in c.facts if f.field == field}) > 1
    finally:
        d.close()


def test_incremental_crash_safe_and_rebuilt(
    tmp_path: Path, shared_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", feeds=tmp_path / "feeds.toml")
    feeds = _feeds(shared_feeds)
    articles = _store(settings, feeds, only={"OpenAI News", "Anthropic News"})
    total = articles.counts()["articles"]
    calls = {"n": 0}
    real_report = model_index.report

    def dies_midway(title: str, text: str):  # the run is killed while reading batch 2
        calls["n"] += 1
        if calls["n"] > model_index.BATCH + 10:
            raise KeyboardInterrupt
        return real_report(title, text)

    monkeypatch.setattr(model_index, "report", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        update_model_directory(settings, feeds)
    monkeypatch.setattr(model_index, "report", real_report)
    store = ModelDirectoryStore(settings)
    try:
        assert store.scanned_count() == model_index.BATCH  # whole batches only
        assert len(store.todo()) == total - model_index.BATCH
        rest = update_model_directory(settings, feeds)
        assert rest.articles == total - model_index.BATCH  # exactly the rest
        assert update_model_directory(settings, feeds).articles == 0  # nothing new: nothing read
        after_crash = sorted(tuple(r) for r in store.report_rows())
        rebuilt = update_model_directory(settings, feeds, rebuild=True)
        assert rebuilt.articles == total
        assert sorted(tuple(r) for r in store.report_rows()) == after_crash
        # a changed article is read again, alone; a deleted one takes its rows with it
        [(art, _)] = articles.load_articles([store.report_rows("gpt")[0]["article_id"]])
        changed = replace(art, text=art.text + " It now costs $1 per million input tokens.")
        articles.upsert_feed(art.feed, [changed], FeedState(name=art.feed))
        assert update_model_directory(settings, feeds).articles == 1
        with articles.db.tx() as db:
            articles.delete(db, [art.id])
        assert not [r for r in store.report_rows() if r["article_id"] == art.id]
    finally:
        store.close()
        articles.db.close()


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NEWSBOT_DATA_DIR": str(settings.data_dir),
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "models", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_models_json_shape_text_and_errors(directory_corpus: Settings) -> None:
    proc = _cli(directory_corpus, "--json")
    assert proc.returncode == 0, proc.stderr
    families = json.loads(proc.stdout)
    assert len(families) > 10
    for fam in families:
        assert set(fam) == {"family", "maker", "versions"}
        for v in fam["versions"]:
            assert set(v) == {"version", "name", "first_seen", "url", "facts"}
            for f in v["facts"]:
                assert set(f) == {"field", "value", "url", "published"}
    one = _cli(directory_corpus, "--family", "qwen", "--json")
    [qwen] = json.loads(one.stdout)
    assert qwen["family"] == "Qwen" and qwen["maker"] == "Alibaba"
    days = [v["first_seen"] for v in qwen["versions"]]
    assert days == sorted(days, reverse=True)  # newest first
    text = _cli(directory_corpus, "--family", "GPT")
    assert text.returncode == 0 and "GPT-4o mini" in text.stdout and "primary source" in text.stdout
    bad = _cli(directory_corpus, "--family", "qwn")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "newsbot: configuration error: --family: the corpus reports no model family called "
        '"qwn"; did you mean "Qwen"?'
    ]


def test_new_versions_are_told_once_and_a_rebuild_tells_nothing_again(
    tmp_path: Path, shared_feeds: Path
) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", feeds=tmp_path / "feeds.toml")
    feeds = _feeds(shared_feeds)
    articles = _store(settings, feeds, only={"Anthropic News"})
    d = ModelDirectory(settings)
    try:
        assert d.watermark() == 0 and d.new_versions(0) == []
        update_model_directory(settings, feeds)
        first = d.new_versions(0)
        assert first and all(card.family == "claude" for _, card in first)
        mark = d.watermark()
        assert mark >= first[-1][0]
        update_model_directory(settings, feeds, rebuild=True)
        assert d.new_versions(mark) == []  # a rebuild makes no old version new
        _store(settings, feeds, only={"OpenAI News"}).db.close()
        update_model_directory(settings, feeds)
        told = d.new_versions(mark)
        assert told and {card.family for _, card in told} >= {"gpt"}
        assert not {(c.family, c.version) for _, c in told} & {
            (c.family, c.version) for _, c in first
        }
    finally:
        d.close()
        articles.db.close()


@pytest.mark.shared_data
def test_the_labelled_sample_is_the_seeded_draw(tmp_path: Path) -> None:
    """eval/model_mentions.jsonl holds exactly the passages its seeded draw gives (labels apart),
    and the reader's precision on its test half stays first."""
    from eval.model_mentions import LABELS, main, score

    out = tmp_path / "draw.jsonl"
    assert main(["sample", "--seed", "20", "--n", "60", "--out", str(out)]) == 0
    drawn = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    assert [(r["url"], r["text"], r["half"]) for r in rows] == [
        (r["url"], r["text"], r["half"]) for r in drawn
    ]
    assert main(["sample", "--out", str(out)]) == 2  # never overwrites labels by accident
    result = score(rows)
    assert result["test"]["precision"] >= 0.95 and result["test"]["recall"] >= 0.85
