"""The bot's own words in English and Indonesian: one catalogue, looked up by key and language.

- Short phrases (reasons a feed fails, feed health, notes, Discord replies) are in PHRASES,
  each with an "en" and an "id" text and the same {placeholders}.
- Longer texts of the answer path stay files in prompts/ (prompts/<key>.md, and
  prompts/<key>_id.md for Indonesian), so they can be edited without code.

`say(key, lang, **values)` finds either. Dates follow the language too: "Jul 24, 2025" in
English (as before), "24 Jul 2025" with Indonesian month names in Indonesian. Source titles and
feed text are never translated. The language of a question comes from bot.language.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.datephrases import format_day as format_day_en
from bot.prompts import PromptNotFoundError, render_prompt
from ingest.health import http_status

if TYPE_CHECKING:
    from bot.timeparse import TimeWindow
    from ingest.health import Health

LANGUAGES = ("en", "id")
LANGUAGE_NAMES = {"en": "English", "id": "Indonesian (Bahasa Indonesia)"}
MONTHS_ID = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")

PHRASES: dict[str, dict[str, str]] = {
    # why a feed fails, in plain words (ingest.health.reason_code); {status}: " (HTTP 404)"
    "reason.blocked": {
        "en": "its address is not allowed by the bot's safety rules",
        "id": "alamatnya tidak diizinkan oleh aturan keamanan bot",
    },
    "reason.refused": {
        "en": "the site refused the connection",
        "id": "situsnya menolak koneksi",
    },
    "reason.dns": {
        "en": "the site's address could not be found",
        "id": "alamat situsnya tidak ditemukan",
    },
    "reason.timeout": {
        "en": "the site did not answer in time",
        "id": "situsnya tidak menjawab tepat waktu",
    },
    "reason.tls": {
        "en": "the site's secure connection could not be verified",
        "id": "koneksi aman situsnya tidak bisa diverifikasi",
    },
    "reason.rate-limited": {
        "en": "the site asked us to slow down (too many requests)",
        "id": "situsnya meminta kami memperlambat (terlalu banyak permintaan)",
    },
    "reason.gone": {
        "en": "the feed is no longer at its address{status}",
        "id": "feed-nya tidak ada lagi di alamatnya{status}",
    },
    "reason.denied": {
        "en": "the site denied access{status}",
        "id": "situsnya menolak akses{status}",
    },
    "reason.server-error": {
        "en": "the site had a server error{status}",
        "id": "situsnya mengalami galat server{status}",
    },
    "reason.http": {
        "en": "the site answered with an error{status}",
        "id": "situsnya menjawab dengan galat{status}",
    },
    "reason.redirects": {
        "en": "the site redirects in a loop or to an unusable address",
        "id": "situsnya mengalihkan berulang-ulang atau ke alamat yang tidak bisa dipakai",
    },
    "reason.too-large": {
        "en": "the feed is larger than the size limit",
        "id": "feed-nya melebihi batas ukuran",
    },
    "reason.empty": {
        "en": "the site sent an empty response",
        "id": "situsnya mengirim jawaban kosong",
    },
    "reason.not-a-feed": {
        "en": "its address no longer serves a readable feed",
        "id": "alamatnya tidak lagi menyajikan feed yang bisa dibaca",
    },
    "reason.file": {
        "en": "the feed file could not be read",
        "id": "berkas feed-nya tidak bisa dibaca",
    },
    "reason.bad-response": {
        "en": "the site's response could not be read",
        "id": "jawaban situsnya tidak bisa dibaca",
    },
    "reason.network": {
        "en": "the connection to the site failed",
        "id": "koneksi ke situsnya gagal",
    },
    "reason.other": {
        "en": "the feed could not be fetched",
        "id": "feed-nya tidak bisa diambil",
    },
    # feed health, as /sources and `newsbot feeds status` show it
    "health.ok": {"en": "ok", "id": "baik"},
    "health.unknown": {"en": "not fetched yet", "id": "belum diambil"},
    "health.failing": {
        "en": "failing since {since}: {reason}",
        "id": "gagal sejak {since}: {reason}",
    },
    "health.failing_never": {
        "en": "failing, never fetched successfully: {reason}",
        "id": "gagal, belum pernah berhasil diambil: {reason}",
    },
    "health.stale": {
        "en": "stale since {since}: nothing new for {days} days (it usually posts every {gap})",
        "id": "tidak aktif sejak {since}: tidak ada yang baru selama {days} hari "
        "(biasanya terbit setiap {gap})",
    },
    "health.runs": {"en": " ({n} failures in a row)", "id": " ({n} kali gagal berturut-turut)"},
    "gap.hours": {"en": "{n} hours", "id": "{n} jam"},
    "gap.days": {"en": "{n} days", "id": "{n} hari"},
    # when the feed a user asked about is failing: never "no news"
    "note.feed_failing": {
        "en": "{feed} has been failing since {since} ({reason}), so its newest articles may "
        "be missing here.",
        "id": "{feed} gagal diambil sejak {since} ({reason}), jadi artikel terbarunya mungkin "
        "belum ada di sini.",
    },
    "note.feed_failing_never": {
        "en": "{feed} could never be fetched ({reason}), so I have no articles from it.",
        "id": "{feed} belum pernah berhasil diambil ({reason}), jadi saya belum punya artikel "
        "darinya.",
    },
    "latest.none": {
        "en": "No stories found. Try another topic or source, or check `/sources`.",
        "id": "Tidak ada berita yang ditemukan. Coba topik atau sumber lain, atau lihat "
        "`/sources`.",
    },
    "latest.older": {
        "en": "Showing the older articles I have from it.",
        "id": "Ini artikel lama darinya yang saya punya.",
    },
    # maintainers' channel
    "alert.failing": {
        "en": "⚠️ Feed **{feed}** is failing: {reason}. {last}; {n} failed runs in a row.",
        "id": "⚠️ Feed **{feed}** gagal: {reason}. {last}; {n} kali gagal berturut-turut.",
    },
    "alert.last_success": {
        "en": "Last successful fetch {since}",
        "id": "Terakhir berhasil diambil {since}",
    },
    "alert.never": {"en": "It was never fetched successfully", "id": "Belum pernah berhasil"},
    "alert.detail": {"en": "Error: {detail}", "id": "Galat: {detail}"},
    "alert.stale": {
        "en": "⚠️ Feed **{feed}** has published nothing new since {since} ({days} days; it "
        "usually posts every {gap}).",
        "id": "⚠️ Feed **{feed}** tidak menerbitkan apa pun sejak {since} ({days} hari; biasanya "
        "setiap {gap}).",
    },
    "alert.recovered_failing": {
        "en": "✅ Feed **{feed}** has recovered: fetched successfully again.",
        "id": "✅ Feed **{feed}** sudah pulih: berhasil diambil lagi.",
    },
    "alert.recovered_stale": {
        "en": "✅ Feed **{feed}** has recovered: it has new articles again.",
        "id": "✅ Feed **{feed}** sudah pulih: ada artikel baru lagi.",
    },
    # Discord replies
    # a feed name that means none or several (ingest.feednames.FEED_NAME_MESSAGES: the command
    # line's words; the English here is the same sentence)
    "reply.feed_ambiguous": {
        "en": "{name} could mean several feeds: {options}; give the full name.",
        "id": "{name} bisa berarti beberapa feed: {options}; tulis nama lengkapnya.",
    },
    "reply.feed_close": {
        "en": "There is no feed called {name}; did you mean {close}?",
        "id": "Tidak ada feed bernama {name}; maksudnya {close}?",
    },
    "reply.feed_unknown": {
        "en": "There is no feed called {name} (the feeds: {options}).",
        "id": "Tidak ada feed bernama {name} (daftar feed: {options}).",
    },
    "reply.bad_date": {
        "en": "I couldn't read that date: {error}.",
        "id": "Saya tidak bisa membaca tanggal itu: {error}.",
    },
    "reply.cooldown": {
        "en": "You're asking a little fast. Please try again in {seconds} s (<t:{at}:R>).",
        "id": "Pertanyaannya terlalu cepat. Silakan coba lagi dalam {seconds} detik (<t:{at}:R>).",
    },
    # answer embeds
    "answer.sources": {"en": "Sources", "id": "Sumber"},
    "answer.closest": {"en": "Closest articles", "id": "Artikel terdekat"},
    "answer.as_of": {"en": "as of {date}", "id": "per {date}"},
    "answer.no_articles": {"en": "no articles yet", "id": "belum ada artikel"},
    "answer.undated": {"en": "undated", "id": "tanpa tanggal"},
    "answer.unknown_feed": {"en": "unknown feed", "id": "feed tidak dikenal"},
    "answer.unknown_date": {"en": "an unknown date", "id": "tanggal yang tidak diketahui"},
    "answer.closest_below": {
        "en": " The nearest articles I have are listed below.",
        "id": " Artikel terdekat yang saya punya ada di bawah.",
    },
    "answer.newest_below": {
        "en": " The newest I have from it are listed below.",
        "id": " Artikel terbarunya yang saya punya ada di bawah.",
    },
    # answers from the model directory (bot.answer.model_lookup); names are the articles' own
    "model.newest": {
        "en": "The newest {family} release my sources report is {name}, first reported on {date}",
        "id": "Rilis {family} terbaru yang dilaporkan sumber saya adalah {name}, pertama "
        "dilaporkan pada {date}",
    },
    "model.when": {
        "en": "{name} was first reported on {date}",
        "id": "{name} pertama kali dilaporkan pada {date}",
    },
    "model.maker": {
        "en": "{name} is made by {maker}",
        "id": "{name} dibuat oleh {maker}",
    },
    "model.facts": {
        "en": "What my sources report about the {what} of {name}:",
        "id": "Yang dilaporkan sumber saya tentang {what} {name}:",
    },
    "model.disagree": {
        "en": "(The sources disagree on some of this; each value is cited.)",
        "id": "(Sumber-sumber berbeda pendapat tentang sebagian ini; setiap nilai dikutip.)",
    },
}


def cooldown_text(retry_after: float, lang: str | None = "en", now: float | None = None) -> str:
    """The refusal of a request that came too soon after the last one, in the asker's language."""
    now = time.time() if now is None else now
    seconds = max(1, int(retry_after + 0.999))
    return say("reply.cooldown", lang, seconds=seconds, at=int(now + seconds))


def lang_of(lang: str | None) -> str:
    return lang if lang in LANGUAGES else "en"


def say(key: str, lang: str | None = "en", /, **values: object) -> str:
    """The text of `key` in `lang` (English when there is no such language), filled in."""
    lang = lang_of(lang)
    phrase = PHRASES.get(key)
    if phrase is not None:
        return (phrase.get(lang) or phrase["en"]).format(**values)
    if lang != "en":
        try:
            return render_prompt(f"{key}_{lang}", **values)
        except PromptNotFoundError:
            pass
    return render_prompt(key, **values)


def format_day(dt: datetime | None, lang: str | None = "en") -> str:
    """ "Jul 24, 2025" (en) or "24 Jul 2025" (id); "undated" without a date."""
    if dt is None:
        return say("answer.undated", lang)
    if lang_of(lang) == "id":
        return f"{dt.day} {MONTHS_ID[dt.month - 1]} {dt.year}"
    return format_day_en(dt)


def format_time(dt: datetime, lang: str | None = "en") -> str:
    """A day and a UTC time: "Jul 24, 2025 14:05 UTC"."""
    dt = dt.astimezone(UTC)
    return f"{format_day(dt, lang)} {dt:%H:%M} UTC"


def window_phrase(window: TimeWindow, lang: str | None = "en") -> str:
    """How a search window reads after "nothing in my sources": "from this week" in English;
    in Indonesian built from its dates ("sejak 1 Des 2026", "antara ... dan ...")."""
    if lang_of(lang) == "en" or not window.bounded:
        return window.phrase
    since, until = window.since, window.until
    if since and until:
        last = until - timedelta(days=1)
        if last.date() <= since.date():
            return f"pada {format_day(since, 'id')}"
        return f"antara {format_day(since, 'id')} dan {format_day(last, 'id')}"
    if since:
        return f"sejak {format_day(since, 'id')}"
    assert until is not None
    return f"sebelum {format_day(until, 'id')}"


# --------------------------------------------------------------------------- feed health
def reason_text(code: str, detail: str = "", lang: str | None = "en") -> str:
    """Plain words for a failure (ingest.health.reason_code): safe to show to anyone."""
    key = f"reason.{code}" if f"reason.{code}" in PHRASES else "reason.other"
    status = http_status(detail)
    return say(key, lang, status=f" (HTTP {status})" if status else "")


def gap_text(gap: timedelta | None, lang: str | None = "en") -> str:
    if gap is None:
        return "?"
    hours = gap.total_seconds() / 3600
    if hours < 36:
        return say("gap.hours", lang, n=max(1, round(hours)))
    return say("gap.days", lang, n=round(hours / 24))


def health_text(h: Health, now: datetime, lang: str | None = "en") -> str:
    """ "ok", "failing since X: reason (3 failed runs in a row)", "stale since X: ..."."""
    if h.status == "failing":
        reason = reason_text(h.reason, h.detail, lang)
        runs = say("health.runs", lang, n=h.failures) if h.failures > 1 else ""
        if h.since is None:
            return say("health.failing_never", lang, reason=reason) + runs
        return say("health.failing", lang, since=format_time(h.since, lang), reason=reason) + runs
    if h.status == "stale" and h.since is not None:
        days = max(1, (now - h.since).days)
        return say(
            "health.stale",
            lang,
            since=format_day(h.since, lang),
            days=days,
            gap=gap_text(h.usual_gap, lang),
        )
    return say("health.unknown" if h.status == "unknown" else "health.ok", lang)


def failing_note(h: Health, lang: str | None = "en") -> str:
    """For an answer or /latest about a failing feed: it is failing, not quiet."""
    reason = reason_text(h.reason, h.detail, lang)
    if h.since is None:
        return say("note.feed_failing_never", lang, feed=h.feed, reason=reason)
    return say(
        "note.feed_failing", lang, feed=h.feed, since=format_time(h.since, lang), reason=reason
    )
