"""ingest.parse over the real feed files in ../shared/data/feeds and hand-made edge cases."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from conftest import SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ingest.parse as parse_module
from ingest.models import Feed, FetchResult, ParseResult
from ingest.parse import (
    article_id,
    canonical_url,
    extract_full_text,
    html_to_text,
    parse_feed,
    to_utc,
)

DATA = SHARED
FEEDS = DATA / "feeds"
MANIFEST = json.loads((FEEDS / "manifest.json").read_text()) if FEEDS.is_dir() else []
EDGE_CASES = {e["file"] for e in MANIFEST if e["file"].startswith("edge-cases/")}
NORMAL = [e for e in MANIFEST if e["file"] not in EDGE_CASES]
TAG = re.compile(r"<[a-zA-Z/!]")


def result_for(body: bytes, headers: dict[str, str] | None = None, url: str = "") -> FetchResult:
    return FetchResult(feed="t", status="ok", body=body, headers=headers or {}, url=url)


@cache
def parsed(name: str, feed_name: str = "t") -> ParseResult:
    body = (FEEDS / name).read_bytes()
    return parse_feed(Feed(name=feed_name, url=str(FEEDS / name)), result_for(body))


def rss(items: str, channel: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>https://example.org/</link>{channel}{items}</channel></rss>"
    ).encode()


def one_line(text: str | None) -> bool:
    return text is not None and "\n" not in text and 0 < len(text) <= 300


# ------------------------------------------------------------------ the real files


@pytest.mark.shared_data
@pytest.mark.parametrize("entry", NORMAL, ids=[e["file"] for e in NORMAL])
def test_real_feed_parses_with_manifest_item_count(entry: dict) -> None:
    result = parsed(entry["file"])
    assert result.error is None
    assert result.warnings == () or entry["file"] == "publisher/hamel_blog.xml", result.warnings
    assert len(result.articles) == entry["items"]
    assert result.title == entry["title"]
    assert len({a.id for a in result.articles}) == len(result.articles)
    for a in result.articles:
        assert a.id[:2] in ("u:", "g:", "h:") and len(a.id) == 26
        assert a.title and not TAG.search(a.title) and "CDATA" not in a.title
        assert a.url.startswith(("http://", "https://")) and "#" not in a.url
        assert a.feed == "t"
        assert a.published is None or a.published.tzinfo == UTC


@pytest.mark.shared_data
def test_edge_case_html_429_page_is_not_a_feed() -> None:
    result = parsed("edge-cases/reddit_localllama_429.html.xml")
    assert result.error == "not a feed: got an HTML page ('Too Many Requests')"
    assert result.articles == ()


@pytest.mark.shared_data
def test_edge_case_empty_body() -> None:
    assert parsed("edge-cases/reddit_localllama_empty.xml").error == "empty response body"


@pytest.mark.shared_data
def test_edge_case_valid_feed_without_entries_is_not_an_error() -> None:
    result = parsed("edge-cases/reddit_chatgptcoding_no_entries.xml")
    assert result.error is None
    assert result.articles == ()
    assert result.title == "top scoring links : ChatGPTCoding"


@pytest.mark.shared_data
def test_edge_case_bozo_feed_is_kept_with_warning_and_absurd_date_dropped() -> None:
    result = parsed("edge-cases/xcancel_not_whitelisted.xml")
    assert result.error is None
    assert len(result.articles) == 1
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("malformed feed, kept what parsed: SAXParseException")
    article = result.articles[0]
    assert article.title == "RSS reader not yet whitelisted!"
    assert article.published is None  # "Mon, 01 January 1971": before 1990
    assert article.author == "@xcancel"


@pytest.mark.shared_data
def test_lilianweng_year_0001_date_is_none() -> None:
    result = parsed("publisher/lilianweng_index.xml")
    undated = [a for a in result.articles if a.published is None]
    assert [(a.title, a.url) for a in undated] == [("FAQ", "https://lilianweng.github.io/faq/")]
    assert all(a.published.year >= 2017 for a in result.articles if a.published)


@pytest.mark.shared_data
def test_cdata_titles_and_creators() -> None:
    openai = parsed("publisher/openai_news.xml")
    assert openai.articles[0].title == "Resolving digital threats 100x faster with OpenAI"
    assert openai.articles[0].url == "https://openai.com/index/outtake"
    assert openai.articles[0].published == datetime(2025, 7, 24, tzinfo=UTC)
    microsoft = parsed("publisher/microsoft_ai_blog.xml")
    assert microsoft.articles[0].author == "ceprodblogsupp"  # <dc:creator><![CDATA[...]]>
    assert len(microsoft.articles[0].text) > 3000  # content:encoded beats the summary


@pytest.mark.shared_data
def test_openai_cross_feed_duplicates_get_identical_ids() -> None:
    # README claim: 162 item links appear in both files. Measured: 162 raw links, 162 ids.
    news = parsed("publisher/openai_news.xml", "OpenAI News")
    research = parsed("generated/olshansk_feed_openai_research.xml", "OpenAI Research")
    news_ids = {a.id: a for a in news.articles}
    research_ids = {a.id: a for a in research.articles}
    shared = news_ids.keys() & research_ids.keys()
    assert len(shared) == 162
    for aid in shared:
        assert news_ids[aid].url == research_ids[aid].url
        assert news_ids[aid].feed != research_ids[aid].feed
    lil_posts = {a.id for a in parsed("publisher/lilianweng_posts.xml").articles}
    lil_index = {a.id for a in parsed("publisher/lilianweng_index.xml").articles}
    assert len(lil_posts & lil_index) == 52


@pytest.mark.shared_data
def test_simonwillison_snapshots_overlap_after_canonicalization() -> None:
    # The README counts raw Atom ids: 08-22/08-16 share 14, 08-12 shares none, union 76.
    # Measured: the 08-12 snapshot's links end in "#atom-everything"; without the fragment,
    # 4 of its posts are in 08-22 and 20 in 08-16, so only 56 articles are really distinct.
    snaps = {
        d: {a.id for a in parsed(f"publisher/simonwillison_atom_2026-08-{d}.xml").articles}
        for d in ("22", "16", "12")
    }
    assert len(snaps["22"] & snaps["16"]) == 14
    assert len(snaps["22"] & snaps["12"]) == 4
    assert len(snaps["16"] & snaps["12"]) == 20
    assert len(snaps["22"] | snaps["16"] | snaps["12"]) == 56
    raw12 = parsed("publisher/simonwillison_atom_2026-08-12.xml").articles
    assert all(a.guid.endswith("#atom-everything") for a in raw12)  # guid kept as-is


@pytest.mark.shared_data
def test_entries_sharing_homepage_link_are_not_lost() -> None:
    # hamel.dev: 8 of 20 entries carry <link> and <guid> https://hamel.dev/ (the home page).
    result = parsed("publisher/hamel_blog.xml")
    assert len(result.articles) == 20
    home = [a for a in result.articles if a.url == "https://hamel.dev/"]
    assert len(home) == 8
    assert len({a.id for a in home}) == 8
    assert all(a.id.startswith("h:") for a in home)  # guid repeats too: title+date ids
    assert result.warnings == ("1 link(s) shared by different entries; those use per-entry ids",)


@pytest.mark.shared_data
def test_tags_author_and_feed_tags() -> None:
    body = (FEEDS / "trimmed" / "arxiv_cs_ai.xml").read_bytes()
    feed = Feed(name="arxiv", url="x", tags=("arxiv", "research", "cs.AI"))
    first = parse_feed(feed, result_for(body)).articles[0]
    assert first.tags == ("cs.AI", "cs.LG", "arxiv", "research")
    assert first.author == "Michael Cooper, Samuel Cooper"
    assert first.guid == "oai:arXiv.org:2604.21935v1"
    assert first.url == "https://arxiv.org/abs/2604.21935"


@pytest.mark.shared_data
def test_rss1_rdf_and_atom_formats() -> None:
    rdf = parsed("format-variety/biorxiv_rss1_rdf.xml").articles[0]
    assert rdf.published == datetime(2023, 12, 16, tzinfo=UTC)
    assert rdf.url == "http://biorxiv.org/cgi/content/short/2023.12.16.571984v1"
    atom = parsed("publisher/lucumr_atom.xml").articles[0]
    assert atom.url.startswith("https://lucumr.pocoo.org/")
    assert len(atom.text) > 2000


# ------------------------------------------------------------------ canonical URLs and ids


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM:443/A/b?utm_source=rss&id=3#top", "https://example.com/A/b?id=3"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://x.org/p?fbclid=1&gclid=2&ref=hn&utm_medium=e", "https://x.org/p"),
        ("https://x.org/p?source=rss&b=2&a=1", "https://x.org/p?b=2&a=1"),
        ("https://x.org/p?source=github", "https://x.org/p?source=github"),
        ("  https://x.org/a b  ", "https://x.org/a b"),
        ("http://[::1", "http://[::1"),  # invalid: returned as is, no exception
        ("", ""),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_resolves_relative_links() -> None:
    assert canonical_url("../c?x=1#f", "https://ex.org/a/b/") == "https://ex.org/a/c?x=1"
    assert canonical_url("/post/1", "https://ex.org/feed.xml") == "https://ex.org/post/1"


def test_article_id_rules() -> None:
    a = article_id("https://x.org/p?utm_source=a", "g1", "feed A", "T")
    b = article_id("HTTPS://X.ORG/p#c", "other", "feed B", "U")
    assert a == b and a.startswith("u:") and len(a) == 26
    assert article_id("", "g1", "A").startswith("g:")
    assert article_id("", "g1", "A") != article_id("", "g1", "B")
    when = datetime(2025, 1, 1, tzinfo=UTC)
    h = article_id("", "", "A", "Title", when)
    assert h.startswith("h:") and h == article_id("", "", "B", "Title", when)
    assert h != article_id("", "", "A", "Title", None)
    assert article_id("https://x.org/p", "g1", "A", prefer_guid=True).startswith("g:")


def test_entries_with_different_guids_sharing_a_link_keep_separate_ids() -> None:
    items = (
        "".join(
            f"<item><title>Post {i}</title><link>https://example.org/</link><guid>id-{i}</guid></item>"
            for i in range(3)
        )
        + "<item><title>Own</title><link>https://example.org/own</link><guid>id-9</guid></item>"
    )
    result = parse_feed(Feed(name="f", url="x"), result_for(rss(items)))
    ids = [a.id for a in result.articles]
    assert len(set(ids)) == 4
    assert ids[:3] == [article_id("", f"id-{i}", "f") for i in range(3)]
    assert ids[3] == article_id("https://example.org/own")
    assert [a.url for a in result.articles[:3]] == ["https://example.org/"] * 3


def test_true_duplicates_in_one_feed_are_stored_once() -> None:
    item = "<item><title>Same</title><link>https://example.org/a</link><guid>g</guid></item>"
    result = parse_feed(Feed(name="f", url="x"), result_for(rss(item * 3)))
    assert len(result.articles) == 1
    assert result.warnings == ("skipped 2 duplicate entries",)


def test_link_fallbacks_guid_permalink_and_relative() -> None:
    items = (
        "<item><title>A</title><guid>https://example.org/from-guid</guid></item>"
        "<item><title>B</title><guid isPermaLink='false'>https://example.org/np</guid></item>"
        "<item><title>C</title><guid>12345</guid></item>"
        "<item><title>D</title><link>/relative/d</link></item>"
        "<item><title>E</title><link>javascript:alert(1)</link></item>"
    )
    arts = parse_feed(
        Feed(name="f", url="x"), result_for(rss(items), url="https://example.org/feed/rss.xml")
    ).articles
    assert [a.url for a in arts] == [
        "https://example.org/from-guid",
        "https://example.org/np",  # a guid that is a URL is still a usable link
        "",
        "https://example.org/relative/d",
        "",
    ]
    assert arts[2].id == article_id("", "12345", "f")
    assert arts[2].guid == "12345"  # stored as-is, not resolved into a URL
    assert arts[4].id.startswith("h:")


def test_relative_links_resolve_against_feed_link_for_local_files() -> None:
    item = "<item><title>A</title><link>/posts/a</link></item>"
    arts = parse_feed(Feed(name="f", url="/tmp/x.xml"), result_for(rss(item))).articles
    assert arts[0].url == "https://example.org/posts/a"


# ------------------------------------------------------------------ fields


def test_titles_text_and_skipped_empty_entries() -> None:
    long_text = "word " * 60
    items = (
        "<item><title>&lt;b&gt;Bold&lt;/b&gt; &amp;amp; co</title><link>https://x.org/1</link>"
        "<description>&lt;p&gt;Hi&lt;/p&gt;</description></item>"
        f"<item><link>https://x.org/2</link><description>{long_text}</description></item>"
        "<item><description></description></item>"
        "<item><title>  Spaced\n\n  out  </title><link>https://x.org/3</link></item>"
    )
    arts = parse_feed(Feed(name="f", url="x"), result_for(rss(items))).articles
    assert len(arts) == 3  # the empty entry is skipped
    assert arts[0].title == "Bold & co"
    assert arts[0].text == "Hi"
    assert arts[1].title.endswith("…") and len(arts[1].title) <= 81
    assert arts[1].title.startswith("word word")
    assert arts[2].title == "Spaced out" and arts[2].text == ""


def test_longest_body_wins() -> None:
    items = (
        "<item><title>A</title><link>https://x.org/1</link><description>short</description>"
        "<content:encoded><![CDATA[<p>The <em>full</em> body, much longer.</p>]]>"
        "</content:encoded></item>"
    )
    body = rss(items).replace(
        b'<rss version="2.0">',
        b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
    )
    art = parse_feed(Feed(name="f", url="x"), result_for(body)).articles[0]
    assert art.text == "The full body, much longer."


def test_dates_are_utc_and_absurd_ones_dropped() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    items = (
        "<item><title>tz</title><link>https://x.org/1</link>"
        "<pubDate>Mon, 05 Jan 2026 10:00:00 +0200</pubDate></item>"
        "<item><title>old</title><link>https://x.org/2</link>"
        "<pubDate>Sun, 31 Dec 1989 23:00:00 GMT</pubDate></item>"
        "<item><title>soon</title><link>https://x.org/3</link>"
        "<pubDate>Sun, 11 Jan 2026 12:00:00 GMT</pubDate></item>"
        "<item><title>future</title><link>https://x.org/4</link>"
        "<pubDate>Tue, 13 Jan 2026 00:00:00 GMT</pubDate></item>"
        "<item><title>garbage</title><link>https://x.org/5</link><pubDate>soon</pubDate></item>"
    )
    arts = parse_feed(Feed(name="f", url="x"), result_for(rss(items)), now=now).articles
    dates = [a.published for a in arts]
    assert dates[0] == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert dates[1] is None
    assert dates[2] == datetime(2026, 1, 11, 12, 0, tzinfo=UTC)  # within 2 days: kept
    assert dates[3] is None
    assert dates[4] is None


def test_to_utc_edge_values() -> None:
    assert to_utc(None) is None
    assert to_utc((1, 1, 1, 0, 0, 0, 0, 1, 0)) is None
    assert to_utc((2024, 2, 30, 0, 0, 0, 0, 1, 0)) is None  # invalid day
    assert to_utc("not a time") is None
    got = to_utc((2024, 2, 29, 12, 0, 0, 0, 1, 0))
    assert got == datetime(2024, 2, 29, 12, tzinfo=UTC)
    assert to_utc(datetime.now(UTC).timetuple()[:6] + (0, 0, 0)) is not None
    future = (datetime.now(UTC) + timedelta(days=3)).timetuple()
    assert to_utc(future) is None


def test_charset_from_content_type_header() -> None:
    body = (
        "<rss version='2.0'><channel><title>Caf\u00e9</title>"
        "<item><title>\u00c9t\u00e9 \u00e0 Z\u00fcrich</title><link>http://x.org/1</link></item>"
        "</channel></rss>"
    ).encode("latin-1")
    got = parse_feed(
        Feed(name="f", url="x"), result_for(body, {"content-type": "text/xml; charset=iso-8859-1"})
    )
    assert got.articles[0].title == "\u00c9t\u00e9 \u00e0 Z\u00fcrich"
    assert got.warnings == ()


def test_not_a_feed_errors_are_one_line() -> None:
    cases = {
        b"<html><head><title>Login</title></head><body>x</body></html>": (
            "not a feed: got an HTML page ('Login')"
        ),
        b"   \n\t ": "empty response body",
        b'{"not": "a json feed"}': "not a feed: no RSS/Atom structure",
        b"\x00\x01\x02 binary": "not a feed: no RSS/Atom structure",
    }
    for body, expected in cases.items():
        got = parse_feed(Feed(name="f", url="x"), result_for(body))
        assert got.error is not None and got.error.startswith(expected), (body, got.error)
        assert one_line(got.error)


def test_fetch_errors_and_not_modified_pass_through() -> None:
    feed = Feed(name="f", url="x")
    err = FetchResult(feed="f", status="error", error="HTTP 404 Not Found")
    assert parse_feed(feed, err).error == "HTTP 404 Not Found"
    nm = parse_feed(feed, FetchResult(feed="f", status="not_modified"))
    assert nm.error is None and nm.articles == ()


@pytest.mark.shared_data
def test_json_feed() -> None:
    body = (DATA / "feedparser-tests" / "json" / "example.json").read_bytes()
    got = parse_feed(Feed(name="j", url="x"), result_for(body))
    assert got.error is None
    assert got.title == "My Example Feed"
    assert [a.url for a in got.articles] == [
        "https://example.org/second-item",
        "https://example.org/initial-post",
    ]
    assert got.articles[0].tags == ("test", "JSON")
    assert got.articles[1].text == "Hello, world!"  # <script> dropped
    assert got.articles[1].author == "you"
    assert got.articles[1].title == "Hello, world!"  # no title: taken from the text


def test_a_broken_entry_is_skipped_not_the_feed(monkeypatch) -> None:
    real = parse_module._author_of

    def flaky(entry):  # fault injection: our own code failing on one entry
        if entry.get("title") == "bad":
            raise RuntimeError("boom")
        return real(entry)

    monkeypatch.setattr(parse_module, "_author_of", flaky)
    items = "".join(
        f"<item><title>{t}</title><link>https://x.org/{t}</link></item>"
        for t in ("ok1", "bad", "ok2")
    )
    got = parse_feed(Feed(name="f", url="x"), result_for(rss(items)))
    assert [a.title for a in got.articles] == ["ok1", "ok2"]
    assert got.warnings == ("skipped 1 broken entry",)


# ------------------------------------------------------------------ html_to_text


def test_html_to_text_drops_scripts_styles_and_embeds() -> None:
    html = (
        "<style>p{color:red}</style><script>alert('x')</script><p>Visible</p>"
        "<noscript>enable js</noscript><iframe src='x'>frame</iframe>"
        "<svg><text>chart</text></svg><template>tpl</template><p>End</p>"
    )
    assert html_to_text(html) == "Visible\n\nEnd"


def test_html_to_text_entities_and_whitespace() -> None:
    html = "<p>Caf&eacute;&nbsp;&amp;&#8217;s &lt;tag&gt; &hellip;\n   spread   out</p>"
    assert html_to_text(html) == "Caf\u00e9 &\u2019s <tag> \u2026 spread out"


def test_html_to_text_nested_lists_and_blocks() -> None:
    html = (
        "<h2>Title</h2><p>Intro <b>bold</b>.</p>"
        "<ul><li>One</li><li>Two<ul><li>Two-a</li><li>Two-b</li></ul></li>"
        "<li><p>Three</p></li></ul>"
        "<ol><li>first</li><li>second</li></ol>"
        "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>"
        "line<br>break<blockquote>quoted</blockquote>"
    )
    assert html_to_text(html) == (
        "Title\n\nIntro bold.\n\n- One\n- Two\n  - Two-a\n  - Two-b\n- Three\n\n"
        "1. first\n2. second\n\nA | B\n1 | 2\n\nline\nbreak\n\nquoted"
    )


def test_html_to_text_keeps_pre_and_plain_markdown() -> None:
    assert html_to_text("<p>x</p><pre>def f():\n    return  1</pre>") == (
        "x\n\ndef f():\n    return  1"
    )
    markdown = "**Bold** text\n\n\n\n- item 1\n- item 2 &amp; more\n  continued"
    assert html_to_text(markdown) == "**Bold** text\n\n- item 1\n- item 2 & more\n  continued"
    assert html_to_text("a < b and c > d") == "a < b and c > d"


def test_html_to_text_never_raises_on_odd_markup() -> None:
    # A bogus "<![...]>" section is dropped (Python's HTMLParser raised on it); <p> starts a
    # paragraph.
    assert html_to_text("<![foo[ bar ]]> baz <p>x") == "baz\n\nx"
    assert html_to_text("<p>unclosed <b>bold") == "unclosed bold"
    assert html_to_text("") == ""
    assert html_to_text("<script>never closed") == ""
    assert html_to_text("\x00\x07text\u200b") == "text"
    # Past libxml2's nesting limit (256) the text is still kept, not cut off with the tree.
    assert html_to_text("<div>" * 5000 + "deep <b>text</b>") == "deep text"
    assert html_to_text("<p>x</p>" + "<ul><li>" * 300 + "item") == "x item"


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_html_to_text_property(text: str) -> None:
    out = html_to_text(text)
    assert isinstance(out, str)
    assert out == out.strip() or out.startswith(" ")  # only <pre> may keep leading spaces
    assert "\n\n\n" not in out


@settings(max_examples=200, deadline=None)
@given(st.text(), st.sampled_from(["", "https://ex.org/a/", "http://[::1"]))
def test_canonical_url_never_raises(url: str, base: str) -> None:
    assert isinstance(canonical_url(url, base), str)


# ------------------------------------------------------------------ full text


def test_extract_full_text_keeps_the_article_not_the_chrome() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {i} explains how sparse mixture-of-experts routing balances load "
        f"across experts while keeping the number of active parameters low.</p>"
        for i in range(12)
    )
    page = (
        "<!doctype html><html><head><title>MoE routing</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/about'>About the navigation menu</a></nav>"
        f"<article><h1>MoE routing</h1>{paragraphs}</article>"
        "<section class='comments'><p>Great post! Buy cheap watches now.</p></section>"
        "<footer>Copyright footer text</footer></body></html>"
    ).encode()
    text = extract_full_text(page, "https://example.org/moe")
    assert text is not None
    assert "Paragraph 0 explains" in text and "Paragraph 11 explains" in text
    assert "navigation menu" not in text
    assert "watches" not in text
    assert extract_full_text(b"", "https://example.org/") is None


# ------------------------------------------------------------------ never raises


def _check(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    if result.error is not None:
        assert one_line(result.error), result.error
        assert result.articles == ()
    for a in result.articles:
        assert a.id[:2] in ("u:", "g:", "h:")
        assert a.published is None or a.published.tzinfo == UTC
    assert all(one_line(w) for w in result.warnings)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=4000),
    st.sampled_from([{}, {"content-type": "text/html"}, {"content-type": "text/xml; charset=x"}]),
)
def test_parse_feed_never_raises_on_arbitrary_bytes(body: bytes, headers: dict) -> None:
    _check(parse_feed(Feed(name="f", url="x"), result_for(body, headers, "https://ex.org/f")))


JUNK = [b"<", b"&", b"]]>", b"<![CDATA[", b"\x00", b"\xff\xfe", b"<item>", b"</channel>",
        b"&#xD800;", b"<entry>", b"<?xml version='1.0' encoding='utf-16'?>"]  # fmt: skip
SMALL_FEEDS = [
    "trimmed/openai_blog.xml",
    "trimmed/huggingface_blog.xml",
    "trimmed/deepmind_blog.xml",
    "trimmed/arxiv_cs_cl.xml",
    "publisher/colah_rss.xml",
    "publisher/hackernews_frontpage.xml",
    "edge-cases/xcancel_not_whitelisted.xml",
    "edge-cases/reddit_chatgptcoding_no_entries.xml",
    "format-variety/biorxiv_rss1_rdf.xml",
]


@pytest.mark.shared_data
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SMALL_FEEDS), st.integers(min_value=0, max_value=2**32 - 1))
def test_parse_feed_never_raises_on_mutated_real_feeds(name: str, seed: int) -> None:
    data = bytearray((FEEDS / name).read_bytes())
    rng = random.Random(seed)
    for _ in range(rng.randint(1, 8)):
        op = rng.choice(("flip", "delete", "insert", "truncate", "duplicate"))
        pos = rng.randrange(len(data))
        if op == "flip":
            data[pos] = rng.randrange(256)
        elif op == "delete":
            del data[pos : pos + rng.randint(1, 200)]
        elif op == "insert":
            data[pos:pos] = rng.choice(JUNK)
        elif op == "truncate":
            del data[pos:]
        else:
            data[pos:pos] = data[pos : pos + rng.randint(1, 500)]
        if not data:
            break
    _check(parse_feed(Feed(name="f", url="x"), result_for(bytes(data))))
