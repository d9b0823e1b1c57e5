"""ingest.feeds: feeds.toml loading, validation messages and atomic edits."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

from ingest.feeds import add_feed, load_feeds, parse_feeds_toml, remove_feed, save_feeds
from ingest.models import ConfigError, Feed


def write(tmp_path: Path, text: str, name: str = "feeds.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_feeds(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message[len(f"{path}: ") :]


# ------------------------------------------------------------------ loading


def test_load_all_fields_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[feeds]]
name = "OpenAI"
url = "https://openai.com/news/rss.xml"
tags = ["lab", "openai", "lab", " "]
full_text = true

[[feeds]]
name = "  Local  "
url = "data/local.xml"
enabled = false
""",
    )
    feeds = load_feeds(path)
    assert feeds == [
        Feed("OpenAI", "https://openai.com/news/rss.xml", ("lab", "openai"), True, True),
        Feed("Local", str(tmp_path / "data" / "local.xml"), (), False, False),
    ]


def test_paths_and_file_urls(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
[[feeds]]
name = "rel"
url = "../shared/x.xml"
[[feeds]]
name = "abs"
url = "{tmp_path / "abs.xml"}"
[[feeds]]
name = "fileurl"
url = "file:///srv/feeds/y.xml"
""",
    )
    urls = [f.url for f in load_feeds(path)]
    assert urls == [
        str(tmp_path / ".." / "shared" / "x.xml"),
        str(tmp_path / "abs.xml"),
        "file:///srv/feeds/y.xml",
    ]


def test_empty_file_has_no_feeds(tmp_path: Path) -> None:
    assert load_feeds(write(tmp_path, "# only a comment\n")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[feeds]]\nname = "a"\n', "feed #1 ('a'): missing 'url'"),
        ('[[feeds]]\nurl = "https://x.org/f"\n', "feed #1: missing 'name'"),
        ('[[feeds]]\nname = ""\nurl = "https://x.org"\n', "feed #1: 'name' is empty"),
        (
            '[[feeds]]\nname = 3\nurl = "https://x.org"\n',
            "feed #1: 'name' must be a string, got int",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "https://x.org/f"\n'
            '[[feeds]]\nname = "a"\nurl = "b.xml"\n',
            "duplicate feed name 'a' (feeds #1 and #2)",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "ftp://x.org/f"\n',
            "feed #1 ('a'): url 'ftp://x.org/f' has unsupported scheme 'ftp' "
            "(use http, https, file or a path)",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "https:///f"\n',
            "feed #1 ('a'): url 'https:///f' has no host",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "openai.com/news/rss.xml"\n',
            "feed #1 ('a'): url 'openai.com/news/rss.xml' has no scheme; "
            "did you mean 'https://openai.com/news/rss.xml'?",
        ),
        ('[[feeds]]\nname = "a"\nurl = ["x"]\n', "feed #1 ('a'): 'url' must be a string, got list"),
        (
            '[[feeds]]\nname = "a"\nurl = "https://x.org"\ntags = "lab"\n',
            "feed #1 ('a'): 'tags' must be a list of strings, e.g. tags = [\"lab\"]",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "https://x.org"\nfull_text = "yes"\n',
            "feed #1 ('a'): 'full_text' must be true or false, got str",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "https://x.org"\nenabled = 1\n',
            "feed #1 ('a'): 'enabled' must be true or false, got int",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "https://x.org"\nfulltext = true\n',
            "feed #1: unknown key 'fulltext' "
            "(allowed: added_by, enabled, full_text, name, tags, url)",
        ),
        ('[[feed]]\nname = "a"\n', "unknown top-level key 'feed' (did you mean [[feeds]]?)"),
        ('feeds = "x"\n', "'feeds' must be an array of tables ([[feeds]])"),
        ("feeds = [1]\n", "feed #1: expected a table ([[feeds]]), got int"),
    ],
)
def test_validation_errors_are_one_line(tmp_path: Path, text: str, expected: str) -> None:
    assert error_of(write(tmp_path, text)) == expected


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[feeds]]\nname = "a"\nurl = "https://x.org\n')
    message = error_of(path)
    assert message.startswith("invalid TOML: ")
    assert "line 3" in message


def test_missing_file_directory_and_bad_encoding(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nope.toml") == "feeds file not found"
    assert error_of(tmp_path) == "is a directory, expected a feeds TOML file"
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[[feeds]]\nname = "caf\xe9"\n')
    assert error_of(bad) == "not valid UTF-8 (line 2); save it as UTF-8"


# ------------------------------------------------------------------ writing


def test_save_round_trip_keeps_header_and_relative_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '# My feeds\n# second line\n\n[[feeds]]\nname = "x"\nurl = "local/x.xml"\n',
    )
    feeds = load_feeds(path)
    feeds.append(Feed("Press", "https://example.org/rss", ("press",), full_text=True))
    feeds.append(Feed("Off", "https://example.org/off", enabled=False))
    save_feeds(path, feeds)
    text = path.read_text()
    assert text.startswith("# My feeds\n# second line\n")
    assert 'url = "local/x.xml"' in text  # written back relative, as a person wrote it
    assert "full_text = true" in text and "enabled = false" in text
    assert "enabled = true" not in text  # defaults are not written
    assert load_feeds(path) == feeds
    assert [p.name for p in tmp_path.iterdir()] == ["feeds.toml"]  # no temp file left


def test_save_to_new_file_writes_default_header(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    save_feeds(path, [Feed("a", "https://a.org/rss")])
    assert path.read_text().startswith("# newsbot feeds")
    assert load_feeds(path) == [Feed("a", "https://a.org/rss")]


def test_save_is_atomic_and_keeps_permissions(tmp_path: Path) -> None:
    path = write(tmp_path, '[[feeds]]\nname = "a"\nurl = "https://a.org"\n')
    os.chmod(path, 0o600)
    inode = path.stat().st_ino
    save_feeds(path, [Feed("b", "https://b.org")])
    assert path.stat().st_ino != inode  # replaced, not rewritten in place
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_rejects_what_load_would_reject(tmp_path: Path) -> None:
    path = write(tmp_path, '[[feeds]]\nname = "a"\nurl = "https://a.org"\n')
    before = path.read_text()
    with pytest.raises(ConfigError, match="duplicate feed name 'b'"):
        save_feeds(path, [Feed("b", "https://b.org"), Feed("b", "https://c.org")])
    with pytest.raises(ConfigError, match="unsupported scheme 'gopher'"):
        save_feeds(path, [Feed("g", "gopher://x.org")])
    assert path.read_text() == before


def test_add_and_remove_feed(tmp_path: Path) -> None:
    path = tmp_path / "feeds.toml"
    feeds = add_feed(path, Feed("One", "https://one.org/rss", ("a",)))  # creates the file
    assert feeds == [Feed("One", "https://one.org/rss", ("a",))]
    add_feed(path, Feed("Two", "https://two.org/rss"))
    assert [f.name for f in load_feeds(path)] == ["One", "Two"]

    with pytest.raises(ConfigError, match="a feed named 'One' already exists"):
        add_feed(path, Feed("One", "https://other.org"))
    with pytest.raises(ConfigError, match="feed 'Two' already has the url"):
        add_feed(path, Feed("Three", "https://two.org/rss"))
    with pytest.raises(ConfigError, match="unsupported scheme 'ftp'"):
        add_feed(path, Feed("Bad", "ftp://x.org"))

    removed = remove_feed(path, "One")
    assert removed.url == "https://one.org/rss"
    assert [f.name for f in load_feeds(path)] == ["Two"]
    with pytest.raises(ConfigError) as info:
        remove_feed(path, "One")
    assert str(info.value) == f"{path}: no feed named 'One' (feeds: 'Two')"


def test_parse_feeds_toml_without_file() -> None:
    feeds = parse_feeds_toml('[[feeds]]\nname = "a"\nurl = "https://a.org"\n', "<string>")
    assert feeds == [Feed("a", "https://a.org")]


# ------------------------------------------------------------------ the shipped feeds.toml


def test_shipped_feeds_toml_is_valid() -> None:
    feeds = load_feeds(REPO / "feeds.toml")
    assert 15 <= len(feeds) <= 25
    assert all(f.url.startswith("https://") for f in feeds)
    assert all(f.tags for f in feeds)
    names = {f.name for f in feeds}
    for expected in ("OpenAI News", "Google DeepMind Blog", "Hugging Face Blog", "arXiv cs.CL",
                     "Simon Willison", "AINews (smol.ai)", "MIT Technology Review AI"):  # fmt: skip
        assert expected in names
    community = [f for f in feeds if "community-feed" in f.tags]
    assert all("raw.githubusercontent.com/Olshansk/rss-feeds" in f.url for f in community)


# ------------------------------------------------------------------ locked, comment-keeping edits


def comment_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def test_edits_keep_every_comment_of_the_real_feeds_file(tmp_path: Path) -> None:
    original = (REPO / "feeds.toml").read_text(encoding="utf-8")
    path = write(tmp_path, original)
    names = [f.name for f in load_feeds(path)]
    assert len(comment_lines(original)) > 10
    for name in names[::2]:  # the first feed, feeds under section titles, the last one
        remove_feed(path, name)
    add_feed(path, Feed("Added A", "https://a.example/rss", ("x",)))
    add_feed(path, Feed("Added B", "https://b.example/rss", full_text=True))
    text = path.read_text(encoding="utf-8")
    assert comment_lines(text) == comment_lines(original)  # all of them, in the same order
    assert [f.name for f in load_feeds(path)] == [*names[1::2], "Added A", "Added B"]
    assert '\n\n[[feeds]]\nname = "Added A"' in text  # a blank line before each new table


def test_removing_a_feed_keeps_the_section_title_of_the_next_one(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '# head\n\n# --- Labs ---\n\n[[feeds]]\nname = "a"  # why a\nurl = "https://a.org"\n\n'
        '# --- Research ---\n\n[[feeds]]\nname = "b"\nurl = "https://b.org"\n\n'
        '# --- Blogs ---\n[[feeds]]\nname = "c"\nurl = "https://c.org"\n# the end\n',
    )
    remove_feed(path, "a")  # the first table: "Research" must stay above b
    text = path.read_text()
    assert text.index("# --- Research ---") < text.index('name = "b"')
    assert "why a" not in text  # the removed line's own comment goes with it
    remove_feed(path, "c")  # the last table: its trailing comment stays
    text = path.read_text()
    assert comment_lines(text) == [
        "# head", "# --- Labs ---", "# --- Research ---", "# --- Blogs ---", "# the end"
    ]  # fmt: skip
    assert [f.name for f in load_feeds(path)] == ["b"]


def test_a_refused_edit_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    path = write(tmp_path, '# mine\n[[feeds]]\nname = "a"\nurl = "https://a.org"\n')
    before = path.read_bytes()
    for bad in (Feed("a", "https://other.org"), Feed("b", "https://a.org"), Feed("c", "ftp://x")):
        with pytest.raises(ConfigError):
            add_feed(path, bad)
    with pytest.raises(ConfigError, match="no feed named 'zz'"):
        remove_feed(path, "zz")
    assert path.read_bytes() == before


def test_an_edit_waits_for_the_lock_and_times_out_with_one_line(tmp_path: Path) -> None:
    from filelock import FileLock

    from ingest.feeds import feeds_file_lock, feeds_lock_path

    path = write(tmp_path, '[[feeds]]\nname = "a"\nurl = "https://a.org"\n')
    assert feeds_lock_path(path) == tmp_path / "feeds.toml.lock"
    held = FileLock(str(feeds_lock_path(path)))  # e.g. the bot's /feeds add in progress
    with held, pytest.raises(ConfigError) as info, feeds_file_lock(path, timeout=0.2):
        pass
    assert str(info.value) == (
        f"{path}: another edit of the feeds file is still running; try again in a moment"
    )
    assert [f.name for f in load_feeds(path)] == ["a"]


ADD_ONE = """
import sys, time
from pathlib import Path
from ingest.feeds import add_feed
from ingest.models import Feed
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
add_feed(Path(sys.argv[1]), Feed(sys.argv[2], f"https://{sys.argv[2]}.example/rss"))
"""


def test_eight_concurrent_adds_from_separate_processes_keep_all_eight(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path, '# operator notes\n\n[[feeds]]\nname = "first"\nurl = "https://f.org"\n')
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    names = [f"feed{i}" for i in range(8)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ADD_ONE, str(path), name, str(go)],
            env=env,
            stderr=subprocess.PIPE,
        )
        for name in names
    ]
    go.touch()  # all at once
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    assert sorted(f.name for f in load_feeds(path)) == sorted(["first", *names])
    assert path.read_text().startswith("# operator notes\n")


def test_cli_feeds_add_and_remove_share_the_lock_and_keep_comments(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path, '# mine\n\n[[feeds]]\nname = "a"\nurl = "https://a.org"\n')
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")},
        "PYTHONPATH": str(REPO),
        "NEWSBOT_FEEDS": str(path),
        "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "bot.cli", "feeds", *args]
        return subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True)

    done = cli("add", "Local B", "http://127.0.0.1:9/b.xml", "--tag", "intranet", "--full-text")
    assert done.returncode == 0, done.stderr
    assert load_feeds(path)[-1] == Feed(
        "Local B", "http://127.0.0.1:9/b.xml", ("intranet",), full_text=True
    )  # the operator is trusted: a private address is fine here
    again = cli("add", "Local C", "http://127.0.0.1:9/b.xml")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"newsbot: configuration error: {path}: feed 'Local B' already has the url "
        "'http://127.0.0.1:9/b.xml'"
    ]
    assert cli("remove", "a").returncode == 0
    assert [f.name for f in load_feeds(path)] == ["Local B"]
    assert path.read_text().startswith("# mine\n")
    assert cli("add", "only-a-name").stderr.strip() == (
        "newsbot: configuration error: usage: newsbot feeds add NAME URL"
    )


# ------------------------------------------------------------------ names typed by users
NAMES = ["deepmind", "openai-blog", "openai-news", "Google-AI", "huggingface", "simonwillison"]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("deepmind", "deepmind"),  # exact
        ("DeepMind", "deepmind"),  # ignoring case
        ("  google-ai ", "Google-AI"),  # and spaces
        ("simon", "simonwillison"),  # the only one starting with it
        ("face", "huggingface"),  # the only one containing it
        ("openai-n", "openai-news"),
    ],
)
def test_a_typed_feed_name_resolves_to_the_one_it_means(typed: str, meant: str) -> None:
    from ingest.feednames import resolve_feed_name

    assert resolve_feed_name(typed, NAMES) == meant


def test_a_feed_name_meaning_none_or_several_is_one_clear_line() -> None:
    from ingest.feednames import FeedNameError, resolve_feed_name

    def error(typed: str, names: list[str] = NAMES) -> str:
        with pytest.raises(FeedNameError) as info:
            resolve_feed_name(typed, names)
        assert isinstance(info.value, ConfigError) and "\n" not in str(info.value)
        return str(info.value)

    assert error("openai") == (
        '"openai" could mean several feeds: "openai-blog", "openai-news"; give the full name'
    )
    assert error("i").startswith('"i" could mean several feeds: "deepmind", "Google-AI"')
    assert error("deepmnd") == 'there is no feed called "deepmnd"; did you mean "deepmind"?'
    assert error("GOOGLE_AI") == 'there is no feed called "GOOGLE_AI"; did you mean "Google-AI"?'
    assert error("zzz") == (
        'there is no feed called "zzz" (the feeds: "deepmind", "Google-AI", "huggingface", '
        '"openai-blog", "openai-news", "simonwillison")'
    )
    many = [f"feed{i:02}" for i in range(12)]
    assert error("zzz", many).endswith('"feed09", …)')
    assert error("", NAMES).startswith('there is no feed called ""')
    assert error("x", []) == 'there is no feed called "x" (the feeds: none yet)'
    # a name differing only in case from two feeds is ambiguous, an exact one is not
    assert resolve_feed_name("ai", ["AI", "ai"]) == "ai"
    assert error("Ai", ["AI", "ai"]).startswith('"Ai" could mean several feeds')


@pytest.mark.slow
def test_the_command_line_and_discord_agree_on_what_a_feed_name_means(
    small_corpus: Any, embedder: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """`newsbot latest --feed X` and Discord's `source: X` (through the bot's FeedNames service,
    as its commands resolve it) pick the same feed, or refuse with the same sentence."""
    import asyncio
    import json

    from bot.cli import main
    from bot.config import DiscordSettings
    from bot.discord.commands import feed_problem
    from bot.discord.services import FeedNames
    from bot.engine import Engine
    from ingest.feednames import FeedNameError

    monkeypatch.chdir(small_corpus.data_dir.parent)
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(small_corpus.data_dir))
    monkeypatch.setenv("NEWSBOT_FEEDS", str(small_corpus.feeds))
    settings = DiscordSettings.load(data_dir=small_corpus.data_dir, feeds=small_corpus.feeds)
    engine = Engine(settings, embedder=embedder)
    names = FeedNames(engine, settings.feeds)  # what the Discord commands resolve with

    def discord_says(typed: str) -> tuple[str | None, str | None]:
        try:
            return asyncio.run(names.resolve(typed)), None
        except FeedNameError as e:
            text = feed_problem(e)  # the same sentence, as a Discord message: "There ... ."
            return None, (text[:1].lower() + text[1:]).removesuffix(".")

    def cli_says(typed: str) -> tuple[str | None, str | None]:
        code = main(["latest", "--feed", typed, "--limit", "2", "--json"])
        out, err = capsys.readouterr()
        if code == 0:
            [feed] = {f for item in json.loads(out) for f in item["feeds"]}
            return feed, None
        assert code == 2
        [line] = err.splitlines()
        return None, line.removeprefix("newsbot: configuration error: --feed: ")

    try:
        cases = {
            "deepmind": ("deepmind", None),
            "DeepMind": ("deepmind", None),
            "simon": ("simonwillison", None),
            "research": ("anthropic-research", None),
            "ai": (None, '"ai" could mean several feeds'),
            "deepmnd": (None, 'there is no feed called "deepmnd"; did you mean "deepmind"?'),
            "zzz": (None, 'there is no feed called "zzz" (the feeds: "anthropic-research"'),
        }
        for typed, (feed, problem) in cases.items():
            cli, discord = cli_says(typed), discord_says(typed)
            assert cli == discord, typed
            assert cli[0] == feed and (cli[1] or "").startswith(problem or ""), (typed, cli)
    finally:
        engine.close()
