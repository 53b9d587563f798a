"""What a request asks for, read with multilingual keyword rules: the offline planner's ears.

French, English, Arabic and Darija (Latin script with 3/7/9 for ع/ح/ق, or Arabic script) are
normalised the same way (case folded, accents and Arabic diacritics and hamza forms stripped) and
matched against the lexicons of `offline_lexicon.toml`, kept as data so that a word can be added
without touching code. Latin words need word boundaries; Arabic words may carry the prefixes
و ب ل ف ال, since Arabic writes them glued to the word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final, Literal, TypeVar

import msgspec

Topic = Literal["sales", "logistics", "finance"]
Source = Literal["shopify", "woocommerce"]
Carrier = Literal["yalidine", "zr_express"]
Channel = Literal["slack", "email", "telegram", "whatsapp", "google_sheets"]
Payment = Literal["ccp", "baridimob", "cib", "edahabia", "cash_on_delivery"]
Language = Literal["fr", "ar", "darija", "en"]
Period = Literal["last_hour", "today", "yesterday", "last_week", "last_month"]
Cadence = Literal["hourly", "daily", "weekly", "monthly"]
Weekday = Literal["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
WEEKDAYS: Final[tuple[Weekday, ...]] = (
    "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
)  # fmt: skip

K = TypeVar("K", bound=str)
_ARABIC_LETTER = "\u0621-\u064a"
# Glued clitics: a conjunction (و ف), a preposition (ب ل ك), the article (ال), or لل (ل + ال).
_ARABIC_PREFIX = "[وف]?(?:لل|[بلك]?ال|[بلك])?"


def normalise(text: str) -> str:
    """Case-folded, without combining marks (é->e, أ->ا, tashkeel gone), Arabic-Indic digits as 0-9."""
    folded = text.casefold().replace("\u0640", "").replace("\u2019", "'")  # tatweel; typographic apostrophe
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_DIGITS)


_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def _compile(terms: Iterable[str]) -> re.Pattern[str]:
    """One alternation: Latin terms (regex fragments) between word boundaries, Arabic after a prefix.

    Each script's boundary is written once around its group of terms, not around every term: the same
    matches (the engine backtracks into the group when the closing boundary fails), but the engine
    tests a position's boundary once instead of once per term, which made these searches 2-3x slower."""
    latin: list[str] = []
    arabic: list[str] = []
    for term in sorted(terms, key=len, reverse=True):
        if re.search(f"[{_ARABIC_LETTER}]", term):
            arabic.append(f"{_ARABIC_PREFIX}{normalise(term)}")  # a prefix per term: longest term first
        else:
            latin.append(term)
    groups = []
    if latin:
        groups.append(rf"(?<![a-z0-9])(?:{'|'.join(latin)})(?![a-z0-9])")
    if arabic:
        # Every Arabic term and prefix starts with an Arabic letter: other positions fail at once.
        groups.append(f"(?<![{_ARABIC_LETTER}])(?=[{_ARABIC_LETTER}])(?:{'|'.join(arabic)})")
    return re.compile("|".join(groups))


LEXICON_FILE: Final = Path(__file__).with_name("offline_lexicon.toml")


class _CadenceRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    cadence: Cadence
    hour: int
    terms: tuple[str, ...]


class _Flags(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    paid_only: tuple[str, ...]
    wants_total: tuple[str, ...]
    on_new_order: tuple[str, ...]
    invoices: tuple[str, ...]
    vat: tuple[str, ...]
    tracking: tuple[str, ...]
    webhook: tuple[str, ...]


class _Terms(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    terms: tuple[str, ...]


class _Markers(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    darija: tuple[str, ...]
    french: tuple[str, ...]
    english: tuple[str, ...]


class _LexiconFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    topics: dict[Topic, tuple[str, ...]]
    weak_topics: dict[Topic, tuple[str, ...]]
    sources: dict[Source, tuple[str, ...]]
    carriers: dict[Carrier, tuple[str, ...]]
    channels: dict[Channel, tuple[str, ...]]
    payments: dict[Payment, tuple[str, ...]]
    periods: dict[Period, tuple[str, ...]]
    cadences: tuple[_CadenceRule, ...]
    weekdays: dict[Weekday, tuple[str, ...]]
    flags: _Flags
    order_fields: _Terms
    markers: _Markers


_FILE: Final = msgspec.toml.decode(LEXICON_FILE.read_bytes(), type=_LexiconFile)
_TOPICS: Final = {topic: _compile(terms) for topic, terms in _FILE.topics.items()}
_WEAK_TOPICS: Final = {topic: _compile(terms) for topic, terms in _FILE.weak_topics.items() if terms}
_SOURCES: Final = {source: _compile(terms) for source, terms in _FILE.sources.items()}
_CARRIERS: Final = {carrier: _compile(terms) for carrier, terms in _FILE.carriers.items()}
_CHANNELS: Final = {channel: _compile(terms) for channel, terms in _FILE.channels.items()}
_PAYMENTS: Final = {payment: _compile(terms) for payment, terms in _FILE.payments.items()}
_PERIODS: Final = {period: _compile(terms) for period, terms in _FILE.periods.items()}
_CADENCES: Final = tuple((rule.cadence, rule.hour, _compile(rule.terms)) for rule in _FILE.cadences)
_WEEKDAYS: Final = tuple((WEEKDAYS.index(day), _compile(terms)) for day, terms in _FILE.weekdays.items())
_ORDER_FIELDS: Final = _compile(_FILE.order_fields.terms)
_PAID = _compile(_FILE.flags.paid_only)
_TOTAL = _compile(_FILE.flags.wants_total)
_NEW_ORDER = _compile(_FILE.flags.on_new_order)
_INVOICE = _compile(_FILE.flags.invoices)
_VAT = _compile(_FILE.flags.vat)
_TRACKING = _compile(_FILE.flags.tracking)
_WEBHOOK = _compile(_FILE.flags.webhook)
_DARIJA = _compile(_FILE.markers.darija)
_FRENCH = _compile(_FILE.markers.french)
_ENGLISH = _compile(_FILE.markers.english)
_AM_PM = re.compile(r"(?<![0-9])(1[0-2]|0?[1-9]) ?(am|pm)(?![a-z])")  # 9 am, 7pm
_CLOCK_TIMES: Final = (
    re.compile(r"(?<![0-9])([01]?[0-9]|2[0-3]) ?(?:h|heures?)(?: ?([0-5][0-9]))?(?![0-9a-z])"),  # 8h, 18h30
    re.compile(r"(?<![0-9])([01]?[0-9]|2[0-3]):([0-5][0-9])(?![0-9])"),  # 08:00
    re.compile(r"الساعة ([01]?[0-9]|2[0-3])(?::([0-5][0-9]))?(?![0-9])"),
)
_NOT_ARABIZI = re.compile(r"[0-9]+(?:am|pm|h[0-9]*|min|st|nd|rd|th|er|e|eme)|[a-z]+[0-9]+")
_SLACK_CHANNEL = re.compile(r"#([a-z][a-z0-9_-]{1,40})")


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    cadence: Cadence
    hour: int
    minute: int = 0
    weekday: int = 1  # of a weekly schedule, as cron counts them: 0 is Sunday

    def cron(self) -> str:
        weekly = f"* * {self.weekday}"
        days = {"hourly": "* * *", "daily": "* * *", "weekly": weekly, "monthly": "1 * *"}[self.cadence]
        hour = "*" if self.cadence == "hourly" else str(self.hour)
        return f"{self.minute} {hour} {days}"


class Reading(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the offline planner understood, each part in a closed vocabulary."""

    language: Language
    topics: tuple[tuple[Topic, int], ...]  # with their number of keyword hits, in a stable order
    sources: tuple[Source, ...] = ()
    carriers: tuple[Carrier, ...] = ()
    channels: tuple[Channel, ...] = ()
    payments: tuple[Payment, ...] = ()
    schedule: Schedule | None = None
    on_new_order: bool = False
    period: Period | None = None
    paid_only: bool = False
    wants_total: bool = False
    invoices: bool = False
    vat: bool = False
    tracking: bool = False
    slack_channel: str | None = None

    @property
    def agents(self) -> tuple[Topic, ...]:
        return tuple(topic for topic, _ in self.topics)

    def hits(self, topic: Topic) -> int:
        return dict(self.topics).get(topic, 0)


def read_request(text: str) -> Reading:
    """The Reading of a request (and of any findings appended to it)."""
    plain = normalise(text)
    slack = _SLACK_CHANNEL.search(plain)
    sources = _present(_SOURCES, plain)
    # "Each order of my Facebook page's form comes to a webhook": the orders are new, but no store's
    # trigger announces them.
    by_webhook = not sources and bool(_WEBHOOK.search(plain))
    return Reading(
        language=detect_language(plain),
        topics=_topics(plain),
        sources=sources,
        carriers=_present(_CARRIERS, plain),
        channels=_present(_CHANNELS, plain),
        payments=_present(_PAYMENTS, plain),
        schedule=_schedule(plain),
        on_new_order=bool(_NEW_ORDER.search(plain)) and not by_webhook,
        period=next((period for period, rx in _PERIODS.items() if rx.search(plain)), None),
        paid_only=bool(_PAID.search(plain)),
        wants_total=bool(_TOTAL.search(plain)),
        invoices=bool(_INVOICE.search(plain)),
        vat=bool(_VAT.search(plain)),
        tracking=bool(_TRACKING.search(plain)),
        slack_channel=slack.group(1) if slack else None,
    )


def language_of_turn(latest: str, conversation: Language) -> Language:
    """The language to answer a turn in: its own message's, when that message says enough to tell
    (Arabic script, Darija, or a few French or English words); else the conversation's, as its
    Reading found it ("Slack" alone, answering "Sur quel canal ?", is answered in the language of the
    question)."""
    plain = normalise(latest)
    if _says_its_language(plain):
        return detect_language(plain)
    return conversation


def _says_its_language(plain: str) -> bool:
    letters = [ch for ch in plain if ch.isalpha()]
    arabic = sum(1 for ch in letters if "\u0600" <= ch <= "\u06ff")
    if letters and arabic * 2 >= len(letters):
        return True
    markers = len(_DARIJA.findall(plain)) + len(_FRENCH.findall(plain)) + len(_ENGLISH.findall(plain))
    return markers >= 2


def detect_language(plain: str) -> Language:
    letters = [ch for ch in plain if ch.isalpha()]
    arabic = sum(1 for ch in letters if "\u0600" <= ch <= "\u06ff")
    if letters and arabic * 2 >= len(letters):
        return "ar"
    darija = len(_DARIJA.findall(plain)) + 2 * sum(map(_arabizi, re.findall(r"[a-z0-9]+", plain)))
    if darija >= 2:
        return "darija"
    return "fr" if len(_FRENCH.findall(plain)) >= len(_ENGLISH.findall(plain)) else "en"


def _arabizi(token: str) -> bool:
    """A Latin-script Darija word with a digit for a letter (3la, b3ath), not "9am", "18h30" or "q3"."""
    letters = sum(ch.isalpha() for ch in token)
    return letters >= 2 and any(ch in "379" for ch in token) and not _NOT_ARABIZI.fullmatch(token)


def _topics(plain: str) -> tuple[tuple[Topic, int], ...]:
    """Keyword hits per topic. "La wilaya de livraison" is a field of an order and "paiement à la
    livraison" a way to pay: neither asks for a delivery, and cash on delivery counts for finance. A
    weak word counts for its topic when that topic has other hits, or when no other topic has any."""
    cash = _PAYMENTS["cash_on_delivery"]
    asked = cash.sub(" ", _ORDER_FIELDS.sub(" ", plain))
    strong = {
        topic: len(rx.findall(asked)) + (len(cash.findall(plain)) if topic == "finance" else 0)
        for topic, rx in _TOPICS.items()
    }
    named = any(strong.values())
    counted = (
        (topic, hits + _weak_hits(topic, asked) if hits or not named else 0) for topic, hits in strong.items()
    )
    return tuple((topic, hits) for topic, hits in counted if hits)


def _weak_hits(topic: Topic, asked: str) -> int:
    weak = _WEAK_TOPICS.get(topic)
    return len(weak.findall(asked)) if weak is not None else 0


def _present(lexicons: Mapping[K, re.Pattern[str]], plain: str) -> tuple[K, ...]:
    """The keys whose lexicon matches, in the order of their first mention."""
    found = [(match.start(), key) for key, rx in lexicons.items() if (match := rx.search(plain))]
    return tuple(key for _, key in sorted(found))


def _schedule(plain: str) -> Schedule | None:
    cadence = next(((c, hour) for c, hour, rx in _CADENCES if rx.search(plain)), None)
    weekday = next((day for day, rx in _WEEKDAYS if rx.search(plain)), None)
    at = _explicit_time(plain)
    if cadence is None and weekday is None and at is None:
        return None
    name, default_hour = cadence or ("daily", 8)
    hour, minute = at or (default_hour, 0)
    if weekday is None or name == "hourly":
        return Schedule(cadence=name, hour=hour, minute=minute)
    return Schedule(cadence="weekly", hour=hour, minute=minute, weekday=weekday)


def _explicit_time(plain: str) -> tuple[int, int] | None:
    if match := _AM_PM.search(plain):
        return (int(match[1]) % 12 + (12 if match[2] == "pm" else 0), 0)
    for pattern in _CLOCK_TIMES:
        if match := pattern.search(plain):
            return (int(match[1]), int(match[2] or 0))
    return None
