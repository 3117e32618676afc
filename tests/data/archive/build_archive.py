"""Build the fictional replay fixture archive in this directory (deterministic; stdlib only).

The archive (format in DESIGN.md, "Replay archive") holds one sub-directory per feed id of
tests/data/fictional.toml and one file per fetch named ``YYYYMMDDTHHMMSSZ.xml``. The files are checked in; this
script is how they were made, so the scenario can be edited in one place and rebuilt:

    .venv/bin/python tests/data/archive/build_archive.py            # rewrite every feed sub-directory
    .venv/bin/python tests/data/archive/build_archive.py --check    # rebuild in memory, compare, parse-check
    .venv/bin/python tests/data/archive/build_archive.py --timeline # when each story item is first fetched

The scenario and the developments a perfect engine produces from it are described in README.md here and in
tests/data/archive_expected.md. Each fetch shows the items published up to its time, newest first, capped at the
feed's window, the way real feeds repeat older items on later fetches. Outlet feeds set lastBuildDate from their
newest item (so an unchanged feed gives a byte-identical body, as a server without validators would); search
feeds stamp the fetch time (so every body differs, as Google News does).
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
CHICAGO = ZoneInfo("America/Chicago")
END = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)  # no fetch at or after this instant


def t(text: str) -> datetime:
    """'2026-03-05T14:52' (UTC) -> aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------------------ outlets
@dataclass(frozen=True)
class Outlet:
    name: str
    domain: str
    section: str  # path prefix of article links


OUTLETS = {
    "wire": Outlet("Meridian Wire", "www.meridianwire.example", "business"),
    "ledger": Outlet("Lakeport Ledger", "www.lakeportledger.example", "news/2026/03"),
    "freight": Outlet("Freight Week", "freightweek.example", "articles"),
    "docket": Outlet("Lake County Circuit Court", "courts.lakecounty.example", "dockets"),
    "harbor": Outlet("Harbor Beat", "harborbeat.example", "story"),
    "rct": Outlet("River City Times", "www.rivercitytimes.example", "business"),
    "midlands": Outlet("Midlands Daily", "midlandsdaily.example", "wire"),
    "energy": Outlet("Midstate Energy News", "midstateenergy.example", "grid"),
    "consumer": Outlet("Consumer Alert Daily", "consumeralert.example", "recalls"),
}

# Which outlet's own feed an item of that outlet appears in (the others appear only through searches).
OWN_FEED = {
    "wire": "meridian-wire",
    "ledger": "lakeport-ledger",
    "freight": "freight-week",
    "docket": "lake-county-docket",
}


# -------------------------------------------------------------------------------------------------- items
@dataclass(frozen=True)
class Article:
    """One article. ``key`` names it in archive_expected.md; ``feeds`` are the search feeds that also carry it."""

    key: str
    outlet: str
    pub: datetime
    title: str
    summary: str = ""
    feeds: tuple[str, ...] = ()
    utm: bool = False  # search feeds link it with tracking parameters
    edited_at: datetime | None = None  # the outlet later edits the headline (same id): not news
    edited_title: str = ""

    @property
    def slug(self) -> str:
        words = re.sub(r"[^a-z0-9 ]", "", self.title.lower()).split()
        return "-".join(words[:9])

    @property
    def number(self) -> int:
        return 40000 + int(hashlib.sha256(self.key.encode()).hexdigest()[:6], 16) % 60000

    @property
    def link(self) -> str:
        o = OUTLETS[self.outlet]
        if self.outlet == "docket":
            case = re.search(r"Case (\d{4}-CV-\d{4})", self.summary)
            return f"https://{o.domain}/{o.section}/{case.group(1) if case else self.number}/{self.number}/"
        if self.outlet == "wire":
            return f"https://{o.domain}/{o.section}/{self.slug}-idMW{self.number}"
        if self.outlet == "ledger":
            return f"https://{o.domain}/{o.section}/{self.pub.astimezone(CHICAGO):%d}/{self.slug}/"
        return f"https://{o.domain}/{o.section}/{self.slug}-{self.number}"

    def search_link(self) -> str:
        return self.link + ("?utm_source=newssearch&utm_medium=rss&utm_campaign=feeds" if self.utm else "")

    def title_at(self, moment: datetime) -> str:
        return self.edited_title if self.edited_at and moment >= self.edited_at else self.title

    def updated_at(self, moment: datetime) -> datetime:
        return self.edited_at if self.edited_at and moment >= self.edited_at else self.pub


def copy_of(original: Article, key: str, outlet: str, pub: str, feed: str) -> Article:
    """A syndicated copy of a wire story on another outlet's site (same headline and text)."""
    return Article(key, outlet, t(pub), original.title, original.summary, (feed,))


NN, LP, SZ = "news-northwind", "news-lakeport-port", "news-seizure-order"

E1 = Article(
    "E1",
    "wire",
    t("2026-03-05T14:52"),
    "Port authority threatens to designate Northwind Freight a critical operator, sets Sunday deadline",
    "The Lakeport Port Authority also threatened to seize Northwind's two container terminals under an emergency "
    "order if the shipping company does not hand over its terminal data by 5 p.m. on Sunday.",
)
DROP1 = Article(
    "DROP1",
    "wire",
    t("2026-03-08T14:40"),
    "Port authority drops emergency seizure order threat against Northwind",
    "The Lakeport Port Authority said it would rely on its other powers if Northwind Freight misses Sunday's "
    "5 p.m. deadline for handing over terminal data.",
)

STORY: tuple[Article, ...] = (
    # ---- background, published before the archive starts: carried by first fetches (seeds, not news)
    Article(
        "B1",
        "ledger",
        t("2026-03-03T16:00"),
        "Port authority asks Northwind Freight to share terminal data",
        "The Lakeport Port Authority has asked Northwind Freight for shipment and customer records from its "
        "two container terminals, citing a security review.",
        (NN, LP),
    ),
    Article(
        "B2",
        "freight",
        t("2026-03-04T18:00"),
        "Northwind Freight adds third crane at its Lakeport terminal",
        "The carrier says the crane will lift capacity by a fifth.",
        (NN,),
    ),
    # ---- Thursday 5 March: the ultimatum and both threats (wire first, then copies and rewrites), noise,
    #      an explainer using the noun form
    E1,
    copy_of(E1, "E1-HB", "harbor", "2026-03-05T15:30", NN),
    copy_of(E1, "E1-RCT", "rct", "2026-03-05T15:45", LP),
    copy_of(E1, "E1-MD", "midlands", "2026-03-05T16:10", SZ),
    Article(
        "E2",
        "ledger",
        t("2026-03-05T16:05"),
        "Lakeport gives Northwind Freight until 5 p.m. Sunday to hand over terminal data",
        "Port authority officials said they could designate the shipping company a critical operator, and could "
        "seize its two container terminals if it refuses.",
        (NN,),
        utm=True,
    ),
    Article(
        "E3",
        "freight",
        t("2026-03-05T17:30"),
        "Port authority weighs emergency seizure order against Northwind Freight",
        "The Lakeport Port Authority could seize the carrier's container terminals under an emergency order if "
        "it misses Sunday's 5 p.m. deadline for handing over terminal data, officials said.",
        (SZ,),
        edited_at=t("2026-03-06T12:10"),
        edited_title="Port authority weighs emergency seizure order as Northwind Freight deadline looms",
    ),
    Article(
        "N1",
        "energy",
        t("2026-03-05T20:00"),
        "Grid regulator adds Lakeport Power to critical operator list",
        "The designation brings stricter cyber-security audits for the utility.",
        (LP,),
    ),
    Article(
        "N2",
        "ledger",
        t("2026-03-05T22:30"),
        "Northwind Marine Supply opens store near Lakeport harbor",
        "The boating retailer, no relation to Northwind Freight, says it will stock sails and engines.",
        (NN,),
    ),
    Article(
        "X1",
        "harbor",
        t("2026-03-05T23:00"),
        "What a 'critical operator' designation would mean for Northwind Freight customers",
        "",
        (NN,),
    ),
    # ---- Friday 6 March: a question, a hedged extension, negations, a hedged deal, a verb with another object
    Article(
        "Q1", "harbor", t("2026-03-06T02:15"), "Will Lakeport really seize Northwind Freight's terminals?", "", (NN,)
    ),
    Article(
        "H2",
        "harbor",
        t("2026-03-06T04:00"),
        "Port authority may extend the deadline for Northwind to Wednesday, board member says",
        "",
        (NN,),
    ),
    Article(
        "NEG1",
        "ledger",
        t("2026-03-06T14:10"),
        "Port chair says authority will not seize Northwind terminals this week",
        "Chair Dana Whitfield said the Lakeport Port Authority still hoped Northwind Freight would hand over the "
        "data voluntarily.",
        (LP,),
    ),
    Article(
        "D1",
        "docket",
        t("2026-03-06T15:00"),
        "Northwind Marine Supply Co. v. Hollis Boatworks LLC: order granting motion to dismiss",
        "Case 2026-CV-0388. Lake County Circuit Court. Contract dispute over a harbor slip lease.",
    ),
    Article(
        "NEG2",
        "wire",
        t("2026-03-06T16:20"),
        "Port authority rules out designating Northwind before Sunday deadline",
        "A spokesman for the Lakeport Port Authority said the board would not meet before the deadline expires.",
    ),
    Article(
        "T1",
        "rct",
        t("2026-03-06T18:30"),
        "Northwind Freight CEO says terminal data 'belongs to our customers'",
        "Chief executive Aaron Lindqvist said the company would keep talking to the port authority but would "
        "not hand over customer records.",
        (LP,),
    ),
    Article(
        "H1",
        "freight",
        t("2026-03-06T19:40"),
        "Northwind, port authority could reach a deal this weekend, sources say",
        "People familiar with the talks said a compromise on anonymised data was under discussion.",
    ),
    Article(
        "O1",
        "ledger",
        t("2026-03-06T20:15"),
        "Lakeport Port Authority designates Maria Okafor harbor security chief",
        "Okafor, a former Coast Guard officer, starts on April 1. The appointment comes as the authority's "
        "dispute with Northwind Freight over terminal data continues.",
        (LP,),
    ),
    # ---- Saturday 7 March: a hedged designation, the lawsuit (3 outlets, then the docket)
    Article(
        "H3",
        "freight",
        t("2026-03-07T11:00"),
        "Port authority could designate Northwind as soon as Monday",
        "Board members said a vote on the critical operator designation could come early next week if the data "
        "is not handed over.",
    ),
    Article(
        "LAW1",
        "ledger",
        t("2026-03-07T15:20"),
        "Northwind Freight sues Lakeport Port Authority over terminal data demand",
        "The shipping company filed a lawsuit in Lake County Circuit Court on Saturday, saying the authority has "
        "no power to demand its customers' data.",
        (NN,),
        utm=True,
    ),
    Article(
        "LAW2",
        "rct",
        t("2026-03-07T16:45"),
        "Northwind files lawsuit to stop port authority's terminal data demand",
        "The complaint asks a Lake County judge to declare the demand unlawful and to bar the authority from "
        "enforcing it.",
        (LP,),
    ),
    Article(
        "LAW3",
        "freight",
        t("2026-03-07T18:50"),
        "Northwind takes Lakeport port authority to court over data demand",
        "Northwind Freight's lawsuit argues the authority overstepped its powers under state law.",
    ),
    Article(
        "LAW4",
        "docket",
        t("2026-03-07T21:10"),
        "Northwind Freight, Inc. v. Lakeport Port Authority: complaint",
        "Case 2026-CV-0412. Civil lawsuit filed by Northwind Freight, Inc. against Lakeport Port Authority. "
        "Lake County Circuit Court.",
    ),
    # ---- Sunday 8 March (DST starts 08:00Z): negated deal, the seizure threat dropped, a negated extension
    Article(
        "NEG3",
        "harbor",
        t("2026-03-08T13:30"),
        "Northwind says no deal reached with port authority as deadline nears",
        "",
        (NN,),
    ),
    DROP1,
    copy_of(DROP1, "DROP1-HB", "harbor", "2026-03-08T15:20", NN),
    copy_of(DROP1, "DROP1-MD", "midlands", "2026-03-08T15:50", SZ),
    Article(
        "DROP2",
        "freight",
        t("2026-03-08T16:30"),
        "Port authority abandons seizure order against Northwind Freight",
        "Officials said the emergency order had drawn objections from other terminal operators.",
        (SZ,),
    ),
    Article(
        "NEGX",
        "ledger",
        t("2026-03-08T17:10"),
        "Port authority will not extend the deadline for Northwind Freight, chair says",
        "Chair Dana Whitfield said the 5 p.m. deadline stands.",
    ),
    Article(
        "P1",
        "rct",
        t("2026-03-08T23:40"),
        "Northwind Freight deadline passes with terminal data still withheld",
        "",
        (LP,),
    ),
    # ---- Monday 9 March: the designation, first by one outlet, confirmed by a second, then joined by more
    Article(
        "DES1",
        "ledger",
        t("2026-03-09T14:20"),
        "Lakeport Port Authority designates Northwind Freight a critical operator",
        "The designation, approved by the authority's board on Monday morning, gives the port broad powers over "
        "the company's terminals.",
        (NN,),
        utm=True,
    ),
    Article(
        "DES2",
        "freight",
        t("2026-03-09T15:50"),
        "Northwind Freight formally designated a critical operator by port authority",
        "The board voted 5-2 a day after the carrier missed the deadline to hand over terminal data.",
    ),
    Article(
        "DES3",
        "rct",
        t("2026-03-09T17:30"),
        "Northwind Freight designated critical operator a day after deadline lapses",
        "",
        (LP,),
    ),
    Article(
        "DES4",
        "wire",
        t("2026-03-09T18:40"),
        "Lakeport port authority designates Northwind Freight a critical operator",
        "The move follows the shipping company's refusal to hand over terminal data by Sunday's deadline.",
    ),
    Article(
        "REACT",
        "ledger",
        t("2026-03-09T20:00"),
        "Northwind vows to challenge designation in court",
        "A company spokeswoman said Northwind Freight would ask the judge already hearing its lawsuit to set the "
        "port authority's designation aside.",
    ),
)


def filler(outlet: str, when: str, title: str, summary: str = "", feeds: tuple[str, ...] = ()) -> Article:
    """An item that is not about the story (irrelevant to it), so the feeds look like real feeds."""
    return Article(f"F-{outlet}-{when}", outlet, t(when), title, summary, feeds)


FILLERS: tuple[Article, ...] = (
    filler("wire", "2026-03-05T09:30", "Great Lakes shipping volumes rise 4% in February"),
    filler("wire", "2026-03-05T11:00", "Diesel prices fall for a third week"),
    filler("wire", "2026-03-05T13:40", "Rail union sets strike vote for April"),
    filler(
        "wire",
        "2026-03-05T19:20",
        "Customs seizure order: counterfeit sneakers impounded at Lakeport terminal",
        "Officers at the Lakeport container terminal seized 4,000 pairs of fake sneakers.",
        (SZ,),
    ),
    filler("wire", "2026-03-06T08:10", "Container spot rates steady ahead of spring season"),
    filler("wire", "2026-03-06T12:45", "Barge traffic resumes on upper river as ice clears"),
    filler("wire", "2026-03-06T21:30", "Air cargo capacity tightens on transpacific lanes"),
    filler("wire", "2026-03-07T09:15", "Port of Eastham reports record auto exports"),
    filler("wire", "2026-03-07T17:00", "Truckers protest toll increase on Route 9 bridge"),
    filler("wire", "2026-03-08T10:00", "Steel tariff review to begin next month"),
    filler("wire", "2026-03-08T20:30", "Shipping insurers raise winter storm premiums"),
    filler("wire", "2026-03-09T09:00", "Grain exports slow as river levels drop"),
    filler("wire", "2026-03-09T13:00", "Eastham port authority approves new cruise terminal"),
    filler("wire", "2026-03-09T20:00", "Freight railroad posts higher quarterly profit"),
    filler("ledger", "2026-03-04T09:00", "Harbor dredging to begin in April"),
    filler("ledger", "2026-03-04T20:00", "Lakeport schools weigh later start times"),
    filler("ledger", "2026-03-05T10:00", "City council approves riverfront budget"),
    filler("ledger", "2026-03-05T20:30", "Police: two hurt in Route 9 crash"),
    filler("ledger", "2026-03-06T11:00", "Lakeport library extends weekend hours"),
    filler("ledger", "2026-03-06T23:00", "High school hockey: Lakeport beats Eastham 4-2"),
    filler("ledger", "2026-03-07T12:00", "Weekend forecast: snow showers, then a thaw"),
    filler("ledger", "2026-03-07T20:00", "Lakeport bakery wins state pastry award"),
    filler("ledger", "2026-03-08T12:30", "Clocks spring forward: what changes for Lakeport commuters"),
    filler("ledger", "2026-03-08T22:45", "Lakeport council to debate bike lanes"),
    filler("ledger", "2026-03-09T11:00", "Water main break closes Harbor Street"),
    filler("ledger", "2026-03-09T21:00", "Obituary: Harold Beck, longtime harbor pilot"),
    filler("freight", "2026-03-04T12:00", "Rail intermodal volumes dip 2% in February"),
    filler("freight", "2026-03-05T13:00", "Bayline Marine orders six feeder ships"),
    filler("freight", "2026-03-06T07:00", "Warehouse vacancy rises across the Midwest"),
    filler("freight", "2026-03-06T16:00", "Drayage rates climb at East Coast ports"),
    filler("freight", "2026-03-07T14:00", "Interview: the CFO betting on short-sea shipping"),
    filler("freight", "2026-03-08T09:00", "Chassis shortage eases, leasing firms say"),
    filler("freight", "2026-03-09T10:00", "Eastham port authority approves cruise terminal expansion"),
    filler("freight", "2026-03-09T19:00", "Forwarders brace for spring peak"),
    filler(
        "docket",
        "2026-03-04T15:00",
        "Hollis Boatworks LLC v. Bayline Marine Inc.: order on motion to compel",
        "Case 2026-CV-0301. Lake County Circuit Court.",
    ),
    filler(
        "docket",
        "2026-03-05T10:00",
        "In re Estate of Pruitt: notice of hearing",
        "Case 2026-PR-0117. Lake County Circuit Court, probate division.",
    ),
    filler(
        "docket",
        "2026-03-05T19:00",
        "Lakeport Port Authority v. Carver Towing LLC: stipulated dismissal",
        "Case 2025-CV-2210. Lake County Circuit Court.",
    ),
    filler(
        "docket",
        "2026-03-06T21:00",
        "State v. Okonjo: sentencing memorandum",
        "Case 2025-CR-1893. Lake County Circuit Court, criminal division.",
    ),
    filler(
        "docket",
        "2026-03-08T16:00",
        "Eastham Grain Co. v. Lake County: complaint",
        "Case 2026-CV-0415. Lake County Circuit Court.",
    ),
    filler(
        "docket",
        "2026-03-09T15:00",
        "In re Marriage of Tran: motion to modify",
        "Case 2024-DR-0542. Lake County Circuit Court, family division.",
    ),
    filler("consumer", "2026-03-04T14:00", "Northwind Traders recalls space heaters over fire risk", "", (NN,)),
    filler("consumer", "2026-03-07T08:00", "Northwind Traders names new chief executive", "", (NN,)),
    filler(
        "rct",
        "2026-03-04T16:00",
        "Seizure order issued for abandoned barge in Lakeport harbor",
        "The harbor master says the barge has been moored without a permit since November.",
        (SZ,),
    ),
    filler(
        "rct",
        "2026-03-04T21:00",
        "Lakeport port authority budget hearing set for March 19",
        "Commissioners will take public comment on the harbor budget.",
        (LP,),
    ),
    filler(
        "rct",
        "2026-03-06T10:00",
        "Lakeport port authority names new finance director",
        "Priya Raman joins from the Eastham transit agency.",
        (LP,),
    ),
    filler(
        "rct",
        "2026-03-06T17:00",
        "Seizure order upheld in Eastham fishing case",
        "A judge upheld the seizure order against a trawler caught over quota.",
        (SZ,),
    ),
    filler(
        "rct",
        "2026-03-08T11:00",
        "Lakeport harbor ferry returns to spring schedule",
        "The ferry adds a 7 a.m. run from Monday.",
        (LP,),
    ),
)

ALL = STORY + FILLERS


# -------------------------------------------------------------------------------------------------- feeds
@dataclass(frozen=True)
class Feed:
    id: str
    style: str  # google | bing | wire | wordpress | atom | docket
    title: str
    home: str
    first: datetime
    every: timedelta
    window: int

    def fetch_times(self) -> Iterator[datetime]:
        moment = self.first
        while moment < END:
            yield moment
            moment += self.every

    def articles(self) -> list[Article]:
        own = [a for a in ALL if OWN_FEED.get(a.outlet) == self.id]
        searched = [a for a in ALL if self.id in a.feeds]
        return own + searched


FEEDS = (
    Feed(
        NN,
        "google",
        '"Northwind Freight" - News search',
        "https://news.example.test/search?q=%22Northwind+Freight%22",
        t("2026-03-05T13:05:03"),
        timedelta(hours=3),
        10,
    ),
    Feed(
        LP,
        "bing",
        "Lakeport port authority - News search",
        "https://search.example.test/news/search?q=Lakeport+port+authority&format=rss",
        t("2026-03-05T13:20:41"),
        timedelta(hours=4),
        10,
    ),
    Feed(
        SZ,
        "google",
        'Lakeport "seizure order" - News search',
        "https://news.example.test/search?q=Lakeport+%22seizure+order%22",
        t("2026-03-05T14:35:09"),
        timedelta(hours=4),
        10,
    ),
    Feed(
        "meridian-wire",
        "wire",
        "Meridian Wire: Business",
        "https://www.meridianwire.example/business",
        t("2026-03-05T12:10:17"),
        timedelta(hours=3),
        12,
    ),
    Feed(
        "lakeport-ledger",
        "wordpress",
        "Lakeport Ledger",
        "https://www.lakeportledger.example",
        t("2026-03-05T12:40:26"),
        timedelta(hours=3),
        12,
    ),
    Feed(
        "freight-week",
        "atom",
        "Freight Week",
        "https://freightweek.example/",
        t("2026-03-05T12:25:52"),
        timedelta(hours=4),
        10,
    ),
    Feed(
        "lake-county-docket",
        "docket",
        "Lake County Circuit Court: new filings",
        "https://courts.lakecounty.example/dockets/",
        t("2026-03-05T12:50:33"),
        timedelta(hours=6),
        8,
    ),
)


def visible(feed: Feed, moment: datetime) -> list[Article]:
    """What a fetch of ``feed`` at ``moment`` shows: published items, newest first, capped at the window."""
    shown = [a for a in feed.articles() if a.pub <= moment]
    shown.sort(key=lambda a: (a.pub, a.key), reverse=True)
    return shown[: feed.window]


# ------------------------------------------------------------------------------------------------ writers
def rfc822(moment: datetime, local: bool = False) -> str:
    if local:
        return format_datetime(moment.astimezone(CHICAGO))
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def guid_of(article: Article, feed_id: str) -> str:
    """Google News style opaque guid, stable per article and feed."""
    return "CBMi" + hashlib.sha256(f"{feed_id}|{article.link}".encode()).hexdigest()[:40]


def render_google(feed: Feed, moment: datetime, items: list[Article]) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>',
        "<generator>NFE/5.0</generator>",
        f"<title>{escape(feed.title)}</title>",
        f"<link>{escape(feed.home)}</link>",
        "<language>en-US</language>",
        "<webMaster>news-webmaster@example.test</webMaster>",
        "<copyright>Copyright 2026 News Search. All rights reserved.</copyright>",
        f"<lastBuildDate>{rfc822(moment)}</lastBuildDate>",
        f"<description>{escape(feed.title)}</description>",
    ]
    for a in items:
        o = OUTLETS[a.outlet]
        link = a.search_link()
        title = f"{a.title_at(moment)} - {o.name}"
        description = (
            f'<a href="{link}" target="_blank">{escape(a.title_at(moment))}</a>'
            f'&nbsp;&nbsp;<font color="#6f6f6f">{escape(o.name)}</font>'
        )
        out += [
            "<item>",
            f"<title>{escape(title)}</title>",
            f"<link>{escape(link)}</link>",
            f'<guid isPermaLink="false">{guid_of(a, feed.id)}</guid>',
            f"<pubDate>{rfc822(a.pub)}</pubDate>",
            f"<description>{escape(description)}</description>",
            f"<source url={quoteattr('https://' + o.domain)}>{escape(o.name)}</source>",
            "</item>",
        ]
    out.append("</channel></rss>")
    return "\n".join(out) + "\n"


def render_bing(feed: Feed, moment: datetime, items: list[Article]) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8" ?>',
        f'<rss version="2.0" xmlns:News={quoteattr(feed.home)}>',
        "<channel>",
        f"<title>{escape(feed.title)}</title>",
        f"<link>{escape(feed.home)}</link>",
        "<description>Search results</description>",
        "<copyright>Copyright (c) 2026 Search Example. All rights reserved.</copyright>",
        f"<pubDate>{rfc822(moment)}</pubDate>",
    ]
    for a in items:
        o = OUTLETS[a.outlet]
        out += [
            "<item>",
            f"<title>{escape(a.title_at(moment))}</title>",
            f"<link>{escape(a.search_link())}</link>",
            f"<description>{escape(a.summary)}</description>",
            f"<pubDate>{rfc822(a.pub)}</pubDate>",
            f"<News:Source>{escape(o.name)}</News:Source>",
            "</item>",
        ]
    out.append("</channel>\n</rss>")
    return "\n".join(out) + "\n"


def render_wire(feed: Feed, moment: datetime, items: list[Article]) -> str:
    newest = max((a.pub for a in items), default=feed.first)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">',
        "  <channel>",
        f"    <title>{escape(feed.title)}</title>",
        f"    <link>{escape(feed.home)}</link>",
        '    <atom:link href="https://www.meridianwire.example/feeds/business.rss" rel="self" '
        'type="application/rss+xml"/>',
        "    <description>Business and transport news from Meridian Wire</description>",
        f"    <lastBuildDate>{rfc822(newest)}</lastBuildDate>",
        "    <ttl>15</ttl>",
    ]
    for a in items:
        out += [
            "    <item>",
            f"      <title>{escape(a.title_at(moment))}</title>",
            f"      <link>{escape(a.link)}</link>",
            f'      <guid isPermaLink="false">MW-{a.number}</guid>',
            f"      <pubDate>{rfc822(a.pub).replace('GMT', '+0000')}</pubDate>",
            f"      <description>{escape(a.summary)}</description>",
            "      <category>Business</category>",
            "    </item>",
        ]
    out += ["  </channel>", "</rss>"]
    return "\n".join(out) + "\n"


def render_wordpress(feed: Feed, moment: datetime, items: list[Article]) -> str:
    newest = max((a.pub for a in items), default=feed.first)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"',
        '\txmlns:content="http://purl.org/rss/1.0/modules/content/"',
        '\txmlns:wfw="http://wellformedweb.org/CommentAPI/"',
        '\txmlns:dc="http://purl.org/dc/elements/1.1/"',
        '\txmlns:atom="http://www.w3.org/2005/Atom"',
        '\txmlns:sy="http://purl.org/rss/1.0/modules/syndication/"',
        '\txmlns:slash="http://purl.org/rss/1.0/modules/slash/"',
        "\t>",
        "",
        "<channel>",
        f"\t<title>{escape(feed.title)}</title>",
        '\t<atom:link href="https://www.lakeportledger.example/feed/" rel="self" type="application/rss+xml" />',
        f"\t<link>{escape(feed.home)}</link>",
        "\t<description>News for Lakeport and the harbor towns</description>",
        f"\t<lastBuildDate>{rfc822(newest, local=True)}</lastBuildDate>",
        "\t<language>en-US</language>",
        "\t<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>",
        "\t<sy:updateFrequency>\n\t1\t</sy:updateFrequency>",
        "\t<generator>https://wordpress.org/?v=6.7.2</generator>",
    ]
    for a in items:
        body = f"<p>{escape(a.summary)}</p>" if a.summary else ""
        category = "Business" if a.key[0] != "F" else "Local"
        out += [
            "\t<item>",
            f"\t\t<title>{escape(a.title_at(moment))}</title>",
            f"\t\t<link>{escape(a.link)}</link>",
            f"\t\t<comments>{escape(a.link)}#respond</comments>",
            f"\t\t<dc:creator><![CDATA[{'Ledger Staff' if a.key[0] == 'F' else 'Jordan Pike'}]]></dc:creator>",
            f"\t\t<pubDate>{rfc822(a.pub, local=True)}</pubDate>",
            f"\t\t<category><![CDATA[{category}]]></category>",
            f'\t\t<guid isPermaLink="false">https://www.lakeportledger.example/?p={a.number}</guid>',
            f"\t\t<description><![CDATA[{body}]]></description>",
            f'\t\t<content:encoded><![CDATA[{body}<p>The post <a href="{a.link}">'
            f"{escape(a.title_at(moment))}</a> appeared first on Lakeport Ledger.</p>]]></content:encoded>",
            f"\t\t<wfw:commentRss>{escape(a.link)}feed/</wfw:commentRss>",
            "\t\t<slash:comments>0</slash:comments>",
            "\t</item>",
        ]
    out += ["\t</channel>", "</rss>"]
    return "\n".join(out) + "\n"


def render_atom(feed: Feed, moment: datetime, items: list[Article]) -> str:
    newest = max((a.updated_at(moment) for a in items), default=feed.first)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">',
        f"  <title>{escape(feed.title)}</title>",
        "  <subtitle>Trade news for shippers, carriers and ports</subtitle>",
        f'  <link rel="alternate" type="text/html" href="{feed.home}"/>',
        '  <link rel="self" type="application/atom+xml" href="https://freightweek.example/feed.atom"/>',
        "  <id>tag:freightweek.example,2019:feed</id>",
        f"  <updated>{iso(newest)}</updated>",
    ]
    for a in items:
        out += [
            "  <entry>",
            f'    <title type="html">{escape(escape(a.title_at(moment)))}</title>',
            f'    <link rel="alternate" type="text/html" href={quoteattr(a.link)}/>',
            f"    <id>tag:freightweek.example,2026:article-{a.number}</id>",
            f"    <published>{iso(a.pub)}</published>",
            f"    <updated>{iso(a.updated_at(moment))}</updated>",
            "    <author><name>Freight Week staff</name></author>",
            f'    <summary type="html">{escape("<p>" + escape(a.summary) + "</p>") if a.summary else ""}</summary>',
            "  </entry>",
        ]
    out.append("</feed>")
    return "\n".join(out) + "\n"


def render_docket(feed: Feed, moment: datetime, items: list[Article]) -> str:
    newest = max((a.pub for a in items), default=feed.first)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>',
        f"<title>{escape(feed.title)}</title>",
        f"<link>{escape(feed.home)}</link>",
        "<description>New filings and orders entered on the court's electronic docket.</description>",
        '<atom:link href="https://courts.lakecounty.example/dockets/new-filings.rss" rel="self"/>',
        "<language>en-us</language>",
        f"<lastBuildDate>{rfc822(newest).replace('GMT', '-0000')}</lastBuildDate>",
    ]
    for a in items:
        out += [
            "<item>",
            f"<title>{escape(a.title_at(moment))}</title>",
            f"<link>{escape(a.link)}</link>",
            f"<description>{escape(a.summary)}</description>",
            f"<guid>{escape(a.link)}</guid>",
            f"<pubDate>{rfc822(a.pub).replace('GMT', '-0000')}</pubDate>",
            "</item>",
        ]
    out.append("</channel></rss>")
    return "\n".join(out) + "\n"


RENDER = {
    "google": render_google,
    "bing": render_bing,
    "wire": render_wire,
    "wordpress": render_wordpress,
    "atom": render_atom,
    "docket": render_docket,
}


def build() -> dict[Path, bytes]:
    """Every archive file (relative path -> body)."""
    files: dict[Path, bytes] = {}
    for feed in FEEDS:
        for moment in feed.fetch_times():
            body = RENDER[feed.style](feed, moment, visible(feed, moment))
            files[Path(feed.id) / (moment.strftime("%Y%m%dT%H%M%SZ") + ".xml")] = body.encode("utf-8")
    return files


# ---------------------------------------------------------------------------------------- check, timeline
def first_seen() -> list[tuple[datetime, str, str, Article]]:
    """(fetch time, feed id, file name, article) for the first fetch of each (feed, article) that is not a seed."""
    rows = []
    for feed in FEEDS:
        times = list(feed.fetch_times())
        for article in feed.articles():
            for moment in times:
                if article in visible(feed, moment):
                    if moment != times[0]:
                        rows.append((moment, feed.id, moment.strftime("%Y%m%dT%H%M%SZ"), article))
                    break
            else:
                if article.pub < END:
                    rows.append((END, feed.id, "NEVER SHOWN", article))
    return sorted(rows, key=lambda r: (r[0], r[1]))


def check(files: dict[Path, bytes]) -> list[str]:
    """Problems: files on disk differing from a rebuild, bodies feedparser calls malformed, items never shown."""
    import feedparser  # only the check needs it

    problems = []
    on_disk = {p.relative_to(HERE): p.read_bytes() for p in HERE.glob("*/*.xml")}
    if set(on_disk) != set(files):
        problems.append(f"file set differs from a rebuild: {sorted(set(on_disk) ^ set(files))[:5]} ...")
    problems += [f"{p}: differs from a rebuild" for p in files if p in on_disk and on_disk[p] != files[p]]
    for path, body in sorted(files.items()):
        parsed = feedparser.parse(body)
        if parsed.bozo or not parsed.version or not parsed.entries:
            problems.append(f"{path}: bozo={parsed.bozo} {parsed.get('bozo_exception')} version={parsed.version!r}")
        moment = datetime.strptime(path.stem, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        for entry in parsed.entries:
            stamp = entry.get("published_parsed") or entry.get("updated_parsed")
            if stamp is None or datetime.fromtimestamp(calendar.timegm(stamp), UTC) > moment:
                problems.append(f"{path}: entry {entry.get('title')!r} has no date or one after the fetch")
    problems += [f"{a.key} never shown in {feed_id}" for _, feed_id, name, a in first_seen() if name == "NEVER SHOWN"]
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk and parse-check")
    parser.add_argument("--timeline", action="store_true", help="print when each story item is first fetched")
    args = parser.parse_args(argv)
    files = build()
    if args.timeline:
        for moment, feed_id, _, a in first_seen():
            if a.key.startswith("F-"):
                continue
            print(f"{iso(moment)}  {feed_id:<19} {a.key:<8} pub {iso(a.pub)}  {OUTLETS[a.outlet].domain:<28} {a.title}")
        return 0
    if args.check:
        problems = check(files)
        print("\n".join(problems) or f"ok: {len(files)} files, all well formed and identical to a rebuild")
        return 1 if problems else 0
    for feed in FEEDS:
        shutil.rmtree(HERE / feed.id, ignore_errors=True)
    for path, body in files.items():
        (HERE / path).parent.mkdir(parents=True, exist_ok=True)
        (HERE / path).write_bytes(body)
    print(f"wrote {len(files)} files under {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
