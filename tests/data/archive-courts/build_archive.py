"""Build the court-phase replay archive in this directory (deterministic; stdlib only).

A replay archive for the shipped story (config/monitor.toml), in the format of tests/data/archive: one
sub-directory per feed id of the shipped config, one file per fetch named ``YYYYMMDDTHHMMSSZ.xml`` holding the
body as fetched. The files are checked in; this script is how they were made:

    .venv/bin/python tests/data/archive-courts/build_archive.py            # rewrite every feed sub-directory
    .venv/bin/python tests/data/archive-courts/build_archive.py --check    # rebuild in memory, compare, parse-check
    .venv/bin/python tests/data/archive-courts/build_archive.py --timeline # when each story item is first fetched

Every item is invented (README.md here): the outlets, their domains (reserved ``.example``), the companies other
than Anthropic, the filings and orders of December 2026. The sequence is modelled on the real one of 2026
(config/README.md): a denied rehearing, the department's reaffirmation, a Supreme Court petition, the end of the
department's migration off Claude; with the noise a desk sees around it (hedges, denials, recaps, questions,
another company's lawsuit, Anthropic's other court cases).
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
NEW_YORK = ZoneInfo("America/New_York")
PACIFIC = ZoneInfo("America/Los_Angeles")
END = datetime(2026, 12, 11, 0, 0, tzinfo=UTC)  # no fetch at or after this instant


def t(text: str) -> datetime:
    """'2026-12-07T15:10' (UTC) -> aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def midnight_pt(day: str) -> datetime:
    """CourtListener dates docket entries and dockets at midnight Pacific of the day filed."""
    return datetime.fromisoformat(day).replace(tzinfo=PACIFIC).astimezone(UTC)


# ------------------------------------------------------------------------------------------------ outlets
@dataclass(frozen=True)
class Outlet:
    name: str
    domain: str
    section: str  # path prefix of article links


OUTLETS = {
    # outlets that have a feed of their own in the shipped config (the feed id in OWN_FEED)
    "wire": Outlet("Meridian Wire", "www.meridianwire.example", "legal"),
    "wireframe": Outlet("Defense Wireframe", "defensewireframe.example", "2026/12"),
    "scoop": Outlet("MilTech Scoop", "miltechscoop.example", "2026/12"),
    "signal": Outlet("Defense Signal", "www.defensesignal.example", "threats"),
    "startup": Outlet("Startup Circuit", "startupcircuit.example", "2026/12"),
    "vantage": Outlet("The Vantage", "www.thevantage.example", "policy"),
    "ledger": Outlet("Tech Ledger Review", "techledger.example", "tech-policy"),
    "sword": Outlet("Statute & Sword", "www.statuteandsword.example", "article"),
    "seclaw": Outlet("Security Law Journal", "securitylaw.example", "2026/12"),
    "dow": Outlet("Department of War (fixture)", "www.war.example", "News/Releases/Release/Article"),
    "fedreg": Outlet("Federal Register (fixture)", "www.federalregister.example", "documents/2026/12"),
    "cl": Outlet("CourtListener (fixture)", "www.courtlistener.example", "docket"),
    # outlets seen only through the search feeds
    "capitol": Outlet("Capitol Docket Daily", "capitoldocket.example", "courts"),
    "bay": Outlet("Bay Tech Report", "baytechreport.example", "ai"),
    "govcon": Outlet("GovCon Ledger", "govconledger.example", "news"),
    "potomac": Outlet("Potomac Post-Dispatch", "www.potomacpost.example", "national"),
}

OWN_FEED = {
    "wire": "gnews-reuters-anthropic",
    "wireframe": "breaking-defense",
    "scoop": "defensescoop",
    "signal": "defense-one",
    "startup": "techcrunch",
    "vantage": "the-verge",
    "ledger": "ars-technica",
    "sword": "lawfare",
    "seclaw": "just-security",
    "dow": "dod-releases",
    "fedreg": "federal-register-anthropic",
}

# CourtListener docket ids of the shipped config's docket feeds, and the case each one is.
DOCKETS = {
    "courtlistener-docket-ndcal": (72379655, "anthropic-pbc-v-us-department-of-war",
                                   "Anthropic PBC v. U.S. Department of War (3:26-cv-01996)"),
    "courtlistener-docket-cadc": (72380208, "anthropic-pbc-v-united-states-department-of-war",
                                  "Anthropic PBC v. United States Department of War (26-1049)"),
    "courtlistener-docket-ca9": (73136734, "anthropic-pbc-v-united-states-department-of-war-et-al",
                                 "Anthropic PBC v. United States Department of War, et al. (26-2011)"),
}


# -------------------------------------------------------------------------------------------------- items
@dataclass(frozen=True)
class Article:
    """One article, docket entry or release. ``key`` names it in the test; ``feeds`` are the search feeds (and, for a
    docket entry or a CourtListener search result, the one CourtListener feed) that carry it. ``shown_from`` is when
    it first appears in a feed when that is later than its publication (a docket entry dated at midnight Pacific is
    uploaded to RECAP hours later)."""

    key: str
    outlet: str
    pub: datetime
    title: str
    summary: str = ""
    feeds: tuple[str, ...] = ()
    shown_from: datetime | None = None
    entry: int = 0  # docket entry number (CourtListener docket feeds)

    @property
    def slug(self) -> str:
        words = re.sub(r"[^a-z0-9 ]", "", self.title.lower()).split()
        return "-".join(words[:9])

    @property
    def number(self) -> int:
        return 10000 + int(hashlib.sha256(self.key.encode()).hexdigest()[:6], 16) % 80000

    @property
    def link(self) -> str:
        o = OUTLETS[self.outlet]
        if self.outlet == "cl":
            feed = self.feeds[0]
            if feed in DOCKETS:
                docket_id, slug, _ = DOCKETS[feed]
                return f"https://{o.domain}/docket/{docket_id}/{slug}/?order_by=desc#entry-{self.entry}"
            return f"https://{o.domain}/docket/{self.number + 73000000}/{self.slug}/"
        if self.outlet == "wire":
            return f"https://{o.domain}/{o.section}/{self.slug}-{self.pub:%Y-%m-%d}/"
        if self.outlet == "dow":
            return f"https://{o.domain}/{o.section}/{4400000 + self.number}/{self.slug}/"
        return f"https://{o.domain}/{o.section}/{self.slug}-{self.number}"

    @property
    def visible_from(self) -> datetime:
        return self.shown_from or self.pub


def copy_of(original: Article, key: str, outlet: str, pub: str, feeds: tuple[str, ...]) -> Article:
    """A syndicated copy of a wire story on another outlet's site (same headline and text)."""
    return Article(key, outlet, t(pub), original.title, original.summary, feeds)


PENTAGON, DPA, SCR, COURT, SCOTUS, BING = (
    "gnews-anthropic-pentagon",
    "gnews-anthropic-dpa",
    "gnews-anthropic-supply-chain-risk",
    "gnews-anthropic-court",
    "gnews-anthropic-supreme-court",
    "bing-anthropic-pentagon",
)
CADC, NDCAL, CA9, CLSEARCH = (
    "courtlistener-docket-cadc",
    "courtlistener-docket-ndcal",
    "courtlistener-docket-ca9",
    "courtlistener-anthropic",
)

E2 = Article(
    "E2",
    "wire",
    t("2026-12-07T16:05"),
    "Full appeals court won't rehear Anthropic's challenge to Pentagon supply-chain label",
    "The U.S. Court of Appeals for the D.C. Circuit on Monday denied Anthropic's request for a rehearing by all of "
    "its active judges, leaving in place a September ruling that upheld the Pentagon's designation.",
)

STORY: tuple[Article, ...] = (
    # ---- background, published before the archive starts: carried by first fetches (seeds, not news)
    Article("B1", "capitol", t("2026-12-01T15:00"),
            "Anthropic weighs its options after appeals court upholds Pentagon label",
            "People familiar with the matter said the company has not decided whether to go to the Supreme Court.",
            (PENTAGON, COURT)),
    Article("B2", "startup", t("2026-12-02T18:00"), "Anthropic's IPO filing lists the Pentagon fight among its risks",
            "The prospectus describes the surviving FASCSA designation and the vacated 3252 designation."),
    Article("B3", "wire", t("2026-11-30T20:00"),
            "Anthropic has not decided on Supreme Court appeal in Pentagon case, spokesperson says"),
    Article("B4", "cl", midnight_pt("2026-11-06"),
            "Entry #84 in Anthropic PBC v. United States Department of War (26-1049)",
            "PETITION for rehearing en banc filed by Petitioner Anthropic PBC. [Service Date: 11/06/2026]",
            (CADC,), entry=84),
    Article("B5", "cl", midnight_pt("2026-08-27"),
            "Entry #252 in Anthropic PBC v. U.S. Department of War (3:26-cv-01996)",
            "JUDGMENT. Signed by Judge Rita F. Lin on 8/27/2026.", (NDCAL,), entry=252),
    Article("B6", "cl", midnight_pt("2026-10-02"),
            "Entry #253 in Anthropic PBC v. U.S. Department of War (3:26-cv-01996)",
            "ORDER granting stipulation regarding bill of costs. Signed by Judge Rita F. Lin on 10/2/2026.",
            (NDCAL,), entry=253),
    Article("B7", "cl", midnight_pt("2026-04-27"),
            "Entry #38 in Anthropic PBC v. United States Department of War, et al. (26-2011)",
            "Filed order (Deputy Clerk): Appellants' motion to hold this appeal in abeyance pending the decision in "
            "D.C. Cir. No. 26-1049 is granted.", (CA9,), entry=38),
    Article("B8", "dow", t("2026-09-25T21:00"),
            "Statement on the D.C. Circuit's decision in Anthropic PBC v. Department of War",
            "The Department welcomes the court's decision."),
    Article("B9", "cl", midnight_pt("2026-03-09"), "Anthropic PBC v. United States Department of War", "", (CLSEARCH,)),
    Article("B10", "cl", midnight_pt("2026-04-02"), "Anthropic PBC v. United States Department of War, et al.", "",
            (CLSEARCH,)),
    # ---- Saturday 5 / Sunday 6 December: a question, a recap, a hedged petition, a hedged DPA threat,
    #      Anthropic's copyright case (another story)
    Article("N1", "startup", t("2026-12-05T15:00"),
            "Will the Supreme Court take up Anthropic's fight with the Pentagon?", "", (SCOTUS,)),
    Article("N2", "scoop", t("2026-12-05T19:30"),
            "Ten months after Hegseth blacklisted Anthropic, contractors still ask what the label covers",
            "Prime contractors say guidance on the surviving FASCSA designation remains thin.", (SCR,)),
    Article("N3", "bay", t("2026-12-06T14:00"),
            "Anthropic could ask Supreme Court to review Pentagon blacklisting, lawyers say",
            "Appellate lawyers say a petition would argue the D.C. Circuit split from the California ruling.", (BING,)),
    Article("N4", "potomac", t("2026-12-06T18:00"),
            "Trump says he could still use Defense Production Act on Anthropic",
            "Asked about the company, the president said he had many powers available but was not sure he would "
            "need them.", (DPA, BING)),
    Article("NC", "startup", t("2026-12-06T16:00"),
            "Ninth Circuit revives part of authors' copyright case against Anthropic",
            "The panel sent one claim back to the district court."),
    # ---- Monday 7 December: the full D.C. Circuit denies rehearing; the department reaffirms the designation
    Article("E1", "cl", midnight_pt("2026-12-07"),
            "Entry #86 in Anthropic PBC v. United States Department of War (26-1049)",
            "ORDER denying petition for rehearing en banc [2179045-2] filed by Petitioner Anthropic PBC. Before: the "
            "Court en banc. [Entered: 12/07/2026 10:02 AM]",
            (CADC,), shown_from=t("2026-12-07T15:30"), entry=86),
    E2,
    copy_of(E2, "E2-GC", "govcon", "2026-12-07T16:50", (PENTAGON,)),
    Article("E3", "capitol", t("2026-12-07T16:40"),
            "D.C. Circuit denies Anthropic bid for full-court rehearing in Pentagon case", "", (COURT, PENTAGON)),
    Article("E4", "wireframe", t("2026-12-07T17:20"),
            "Appeals court rejects Anthropic's rehearing request, label stays",
            "The order leaves the FASCSA designation in force for Department of War work while the company weighs a "
            "Supreme Court petition."),
    Article("E5", "dow", t("2026-12-07T20:30"),
            "Statement by the Department of War on the D.C. Circuit's denial of rehearing in Anthropic PBC v. "
            "Department of War",
            "The Department reaffirms its determination that Anthropic PBC presents a supply chain risk to national "
            "security for Department of War systems and welcomes the court's order."),
    Article("E6", "govcon", t("2026-12-07T21:15"),
            "Pentagon reaffirms Anthropic supply chain risk designation after court win", "", (SCR,)),
    # ---- Tuesday 8 December: a plan, an explainer, another company's suit, a deal with another department,
    #      a denial, a ruling's effect without an act; a docket entry with no new event
    Article("H1", "vantage", t("2026-12-08T13:00"), "Anthropic plans to take its Pentagon fight to the Supreme Court",
            "The company has 90 days from the judgment to file, its lawyers said."),
    Article("H2", "sword", t("2026-12-08T14:30"), "What the en banc denial means for Anthropic's Supreme Court odds",
            "An analysis of the D.C. Circuit's order and the split with the Northern District of California."),
    Article("X1", "potomac", t("2026-12-08T15:00"),
            "Vireo Labs sues Pentagon over canceled contract, citing Anthropic ruling",
            "The drone-software maker says the Department of War retaliated against it for criticizing a program.",
            (PENTAGON, BING)),
    Article("X1-CL", "cl", midnight_pt("2026-12-08"), "Vireo Labs, Inc. v. United States Department of War", "",
            (CLSEARCH,)),
    Article("X2", "startup", t("2026-12-08T16:00"),
            "Anthropic and Commerce Department reach agreement on Mythos testing as Pentagon ban stands",
            "The agreement covers evaluations by the Center for AI Standards and Innovation."),
    Article("X3", "signal", t("2026-12-08T17:00"), "White House says it has no plans to lift Anthropic ban",
            "A spokesperson said the administration was reviewing the court rulings."),
    Article("X4", "ledger", t("2026-12-08T18:00"),
            "Judge's ruling lets civilian agencies keep using Claude, but the Pentagon holds out"),
    Article("X5", "cl", midnight_pt("2026-12-08"),
            "Entry #41 in Anthropic PBC v. United States Department of War, et al. (26-2011)",
            "Filed order (Deputy Clerk): This appeal remains held in abeyance. The parties shall file a status report "
            "within 14 days of the issuance of the mandate in D.C. Cir. No. 26-1049.",
            (CA9,), shown_from=t("2026-12-08T19:00"), entry=41),
    # ---- Wednesday 9 December: Anthropic petitions the Supreme Court
    Article("F1", "wire", t("2026-12-09T15:00"), "Anthropic asks Supreme Court to overturn Pentagon supply-chain label",
            "Anthropic filed a petition on Wednesday asking the justices to review the D.C. Circuit's ruling that "
            "upheld the Pentagon's designation of the company as a supply chain risk."),
    Article("F2", "capitol", t("2026-12-09T15:40"),
            "Anthropic files Supreme Court petition in Pentagon blacklist case", "", (SCOTUS, COURT)),
    Article("F3", "bay", t("2026-12-09T16:30"),
            "Anthropic petitions Supreme Court over Pentagon's supply chain risk label", "", (PENTAGON,)),
    Article("F4", "seclaw", t("2026-12-09T17:30"), "Anthropic's cert petition against the Department of War, explained",
            "What the petition asks the justices to decide, and when they could act on it."),
    # ---- Thursday 10 December: untracked news in three outlets: the department's migration off Claude is done
    Article("G1", "scoop", t("2026-12-10T14:00"),
            "Pentagon says last classified AI workloads have moved off Anthropic's Claude",
            "Under Secretary Emil Michael said the migration to other vendors finished this week."),
    Article("G2", "wireframe", t("2026-12-10T15:30"),
            "Pentagon completes move of classified AI work off Anthropic's Claude",
            "The department said eight vendors now serve its classified networks."),
    Article("G3", "potomac", t("2026-12-10T17:00"),
            "Pentagon finishes moving classified AI workloads off Anthropic's Claude, official says", "", (PENTAGON,)),
)


def filler(outlet: str, when: str, title: str, summary: str = "", feeds: tuple[str, ...] = ()) -> Article:
    """An item that is not about the story (irrelevant to it), so the feeds look like real feeds."""
    return Article(f"F-{outlet}-{when}", outlet, t(when), title, summary, feeds)


FILLERS: tuple[Article, ...] = (
    filler("wire", "2026-12-04T10:00", "Defense contractors report higher third-quarter backlog"),
    filler("wire", "2026-12-05T11:00", "Senate panel schedules vote on shipbuilding bill"),
    filler("wire", "2026-12-06T09:00", "Chipmaker shares rise on data-center demand"),
    filler("wire", "2026-12-07T11:00", "Army awards drone-interceptor contract"),
    filler("wire", "2026-12-08T12:00", "Navy delays frigate delivery again"),
    filler("wire", "2026-12-09T10:00", "NATO ministers meet on air defense"),
    filler("wire", "2026-12-10T11:00", "Space Force launches weather satellite"),
    filler("wireframe", "2026-12-03T14:00", "Army picks two teams for next-generation helicopter engine"),
    filler("wireframe", "2026-12-05T13:00", "Inside the Pentagon's new munitions plan"),
    filler("wireframe", "2026-12-08T12:00", "Marine Corps tests counter-drone lasers"),
    filler("wireframe", "2026-12-09T20:00", "Budget deal leaves shipbuilding short"),
    filler("scoop", "2026-12-03T16:00", "Air Force expands generative AI pilot for logistics"),
    filler("scoop", "2026-12-06T15:00", "Cyber Command names new deputy"),
    filler("scoop", "2026-12-08T19:00", "Army software factory opens second site"),
    filler("signal", "2026-12-03T12:00", "The threats report: Arctic patrols"),
    filler("signal", "2026-12-06T12:00", "Lawmakers push back on base closures"),
    filler("signal", "2026-12-09T12:00", "Pentagon's new acquisition chief outlines priorities"),
    filler("startup", "2026-12-03T17:00", "This note-taking app raised $40 million"),
    filler("startup", "2026-12-05T18:00", "Electric scooter maker files for bankruptcy"),
    filler("startup", "2026-12-07T14:00", "A new open-weights model tops the coding leaderboard"),
    filler("startup", "2026-12-09T14:00", "Robotics startup unveils warehouse arm"),
    filler("vantage", "2026-12-03T15:00", "The best noise-canceling headphones of 2026"),
    filler("vantage", "2026-12-06T17:00", "A streaming price hike is coming"),
    filler("vantage", "2026-12-09T18:00", "Smart glasses get a second look"),
    filler("ledger", "2026-12-03T20:00", "Why your router needs an update"),
    filler("ledger", "2026-12-06T20:00", "Telescope images a comet's breakup"),
    filler("ledger", "2026-12-09T21:00", "Browser makers agree on a new cookie standard"),
    filler("sword", "2026-12-02T14:00", "The state secrets privilege after Husayda"),
    filler("sword", "2026-12-05T14:00", "Congress and the war powers clock"),
    filler("sword", "2026-12-09T14:00", "A primer on export controls for model weights"),
    filler("seclaw", "2026-12-02T16:00", "Sanctions and the courts: a year in review"),
    filler("seclaw", "2026-12-06T16:00", "Drone strikes and the law of armed conflict"),
    filler("dow", "2026-12-03T18:00", "Secretary of War announces senior leader assignments"),
    filler("dow", "2026-12-05T20:00", "Department releases annual report on military housing"),
    filler("dow", "2026-12-09T19:00", "Readout of the Secretary of War's call with allied counterparts"),
    filler("fedreg", "2026-12-02T13:00", "Artificial Intelligence Procurement: Request for Information",
           "Notice of extension of the comment period; comments received include those from Anthropic, OpenAI and "
           "trade associations."),
    filler("fedreg", "2026-12-07T13:00", "Information Collection: Small Business Innovation Research Program",
           "Agency information collection activities; comments due in 60 days."),
    filler("capitol", "2026-12-04T15:00", "Supreme Court hears argument on agency removal power", "", (SCOTUS,)),
    filler("capitol", "2026-12-08T13:00", "Appeals court weighs challenge to export-control rule", "", (COURT,)),
    filler("bay", "2026-12-04T16:00", "Pentagon expands drone program with new contracts", "", (PENTAGON, BING)),
    filler("govcon", "2026-12-04T18:00", "What the new supply chain risk rule means for small contractors", "", (SCR,)),
    filler("potomac", "2026-12-01T13:00", "Commerce weighs Defense Production Act survey of chip supply", "", (DPA,)),
    filler("potomac", "2026-12-07T13:00", "Defense Production Act used for transformer shortage", "", (DPA,)),
    filler("cl", "2026-12-02T08:00", "Entry #85 in Anthropic PBC v. United States Department of War (26-1049)",
           "NOTICE of appearance of counsel for Amicus Curiae.", (CADC,)),
)
# the filler docket entry has an entry number of its own
FILLERS = tuple(
    Article(a.key, a.outlet, a.pub, a.title, a.summary, a.feeds, a.shown_from, 85 if a.outlet == "cl" else 0)
    for a in FILLERS
)

ALL = STORY + FILLERS


# -------------------------------------------------------------------------------------------------- feeds
@dataclass(frozen=True)
class Feed:
    id: str
    style: str  # google | bing | wordpress | atom | rss | docket | clsearch
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


H = timedelta(hours=1)
FEEDS = (
    Feed(PENTAGON, "google", '"Anthropic Pentagon" - News search', "https://news.example.test/search?q=Anthropic+Pentagon",
         t("2026-12-05T12:05:11"), 4 * H, 10),
    Feed(DPA, "google", '"Anthropic Defense Production Act" - News search',
         "https://news.example.test/search?q=Anthropic+DPA", t("2026-12-05T12:17:40"), 6 * H, 10),
    Feed(SCR, "google", '"Anthropic supply chain risk" - News search',
         "https://news.example.test/search?q=Anthropic+supply+chain+risk", t("2026-12-05T12:21:03"), 4 * H, 10),
    Feed(COURT, "google", '"Anthropic Department of War court" - News search',
         "https://news.example.test/search?q=Anthropic+court", t("2026-12-05T12:33:52"), 4 * H, 10),
    Feed(SCOTUS, "google", '"Anthropic Supreme Court Pentagon" - News search',
         "https://news.example.test/search?q=Anthropic+Supreme+Court", t("2026-12-05T12:46:19"), 4 * H, 10),
    Feed(BING, "bing", "Anthropic Pentagon - Search news", "https://search.example.test/news/search?q=Anthropic+Pentagon",
         t("2026-12-05T12:52:27"), 6 * H, 10),
    Feed("gnews-reuters-anthropic", "google", '"Anthropic Pentagon site:meridianwire" - News search',
         "https://news.example.test/search?q=Anthropic+Pentagon+site:meridianwire", t("2026-12-05T12:09:45"),
         4 * H, 10),
    Feed("breaking-defense", "wordpress", "Defense Wireframe", "https://defensewireframe.example",
         t("2026-12-05T12:40:26"), 6 * H, 10),
    Feed("defensescoop", "wordpress", "MilTech Scoop", "https://miltechscoop.example", t("2026-12-05T12:27:14"),
         6 * H, 10),
    Feed("defense-one", "rss", "Defense Signal - All Stories", "https://www.defensesignal.example",
         t("2026-12-05T12:14:58"), 6 * H, 10),
    Feed("techcrunch", "wordpress", "Startup Circuit", "https://startupcircuit.example", t("2026-12-05T12:31:37"),
         6 * H, 10),
    Feed("the-verge", "atom", "The Vantage - All Posts", "https://www.thevantage.example/", t("2026-12-05T12:37:02"),
         6 * H, 10),
    Feed("ars-technica", "rss", "Tech Ledger Review", "https://techledger.example", t("2026-12-05T12:43:49"),
         6 * H, 10),
    Feed("lawfare", "rss", "Statute & Sword", "https://www.statuteandsword.example", t("2026-12-05T12:55:33"),
         12 * H, 10),
    Feed("just-security", "wordpress", "Security Law Journal", "https://securitylaw.example", t("2026-12-05T12:58:21"),
         12 * H, 10),
    Feed("federal-register-anthropic", "rss", "Federal Register: documents matching Anthropic",
         "https://www.federalregister.example/documents/search?conditions%5Bterm%5D=Anthropic",
         t("2026-12-05T13:02:08"), 12 * H, 10),
    Feed(CLSEARCH, "clsearch", "CourtListener.com Custom Search Feed", "https://www.courtlistener.example/",
         t("2026-12-05T13:06:44"), 12 * H, 20),
    Feed(NDCAL, "docket", "Docket updates for " + DOCKETS[NDCAL][2], "https://www.courtlistener.example/",
         t("2026-12-05T13:11:15"), 8 * H, 30),
    Feed(CADC, "docket", "Docket updates for " + DOCKETS[CADC][2], "https://www.courtlistener.example/",
         t("2026-12-05T13:14:50"), 4 * H, 30),
    Feed(CA9, "docket", "Docket updates for " + DOCKETS[CA9][2], "https://www.courtlistener.example/",
         t("2026-12-05T13:19:06"), 8 * H, 30),
    Feed("dod-releases", "rss", "U.S. Department of War (fixture): Releases", "https://www.war.example/News/Releases/",
         t("2026-12-05T13:23:39"), 4 * H, 10),
)


def visible(feed: Feed, moment: datetime) -> list[Article]:
    """What a fetch of ``feed`` at ``moment`` shows: published items, newest first, capped at the window."""
    shown = [a for a in feed.articles() if a.visible_from <= moment]
    shown.sort(key=lambda a: (a.pub, a.key), reverse=True)
    return shown[: feed.window]


# ------------------------------------------------------------------------------------------------ writers
def rfc822(moment: datetime, zone: ZoneInfo | None = None) -> str:
    if zone is not None:
        return format_datetime(moment.astimezone(zone))
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat()


def guid_of(article: Article, feed_id: str) -> str:
    """Google News style opaque guid, stable per article and feed."""
    return "CBMi" + hashlib.sha256(f"{feed_id}|{article.link}".encode()).hexdigest()[:40]


def newest(items: list[Article], feed: Feed) -> datetime:
    return max((a.pub for a in items), default=feed.first - 24 * H)


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
        description = (
            f'<a href="{a.link}" target="_blank">{escape(a.title)}</a>'
            f'&nbsp;&nbsp;<font color="#6f6f6f">{escape(o.name)}</font>'
        )
        out += [
            "<item>",
            f"<title>{escape(a.title + ' - ' + o.name)}</title>",
            f"<link>{escape(a.link)}</link>",
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
        out += [
            "<item>",
            f"<title>{escape(a.title)}</title>",
            f"<link>{escape(a.link)}</link>",
            f"<description>{escape(a.summary)}</description>",
            f"<pubDate>{rfc822(a.pub)}</pubDate>",
            f"<News:Source>{escape(OUTLETS[a.outlet].name)}</News:Source>",
            "</item>",
        ]
    out.append("</channel>\n</rss>")
    return "\n".join(out) + "\n"


def render_wordpress(feed: Feed, moment: datetime, items: list[Article]) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"',
        '\txmlns:content="http://purl.org/rss/1.0/modules/content/"',
        '\txmlns:dc="http://purl.org/dc/elements/1.1/"',
        '\txmlns:atom="http://www.w3.org/2005/Atom"',
        "\t>",
        "",
        "<channel>",
        f"\t<title>{escape(feed.title)}</title>",
        f'\t<atom:link href="{feed.home}/feed/" rel="self" type="application/rss+xml" />',
        f"\t<link>{escape(feed.home)}</link>",
        f"\t<description>{escape(feed.title)} news</description>",
        f"\t<lastBuildDate>{rfc822(newest(items, feed), NEW_YORK)}</lastBuildDate>",
        "\t<language>en-US</language>",
        "\t<generator>https://wordpress.org/?v=6.8.1</generator>",
    ]
    for a in items:
        body = f"<p>{escape(a.summary)}</p>" if a.summary else ""
        out += [
            "\t<item>",
            f"\t\t<title>{escape(a.title)}</title>",
            f"\t\t<link>{escape(a.link)}</link>",
            f"\t\t<dc:creator><![CDATA[{OUTLETS[a.outlet].name} staff]]></dc:creator>",
            f"\t\t<pubDate>{rfc822(a.pub, NEW_YORK)}</pubDate>",
            f'\t\t<guid isPermaLink="false">https://{OUTLETS[a.outlet].domain}/?p={a.number}</guid>',
            f"\t\t<description><![CDATA[{body}]]></description>",
            f"\t\t<content:encoded><![CDATA[{body}]]></content:encoded>",
            "\t</item>",
        ]
    out += ["\t</channel>", "</rss>"]
    return "\n".join(out) + "\n"


def render_atom(feed: Feed, moment: datetime, items: list[Article]) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-US">',
        f"  <title>{escape(feed.title)}</title>",
        f"  <id>{escape(feed.home)}rss/index.xml</id>",
        f'  <link rel="alternate" type="text/html" href={quoteattr(feed.home)}/>',
        f"  <updated>{iso_local(newest(items, feed), NEW_YORK)}</updated>",
    ]
    for a in items:
        out += [
            "  <entry>",
            f"    <title type=\"html\">{escape(escape(a.title))}</title>",
            f"    <link rel=\"alternate\" type=\"text/html\" href={quoteattr(a.link)}/>",
            f"    <id>{escape(a.link)}</id>",
            f"    <published>{iso_local(a.pub, NEW_YORK)}</published>",
            f"    <updated>{iso_local(a.pub, NEW_YORK)}</updated>",
            "    <author><name>Staff</name></author>",
            f'    <summary type="html">{escape("<p>" + escape(a.summary) + "</p>") if a.summary else ""}</summary>',
            "  </entry>",
        ]
    out.append("</feed>")
    return "\n".join(out) + "\n"


def render_rss(feed: Feed, moment: datetime, items: list[Article]) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>',
        f"<title>{escape(feed.title)}</title>",
        f"<link>{escape(feed.home)}</link>",
        f"<description>{escape(feed.title)}</description>",
        f"<lastBuildDate>{rfc822(newest(items, feed))}</lastBuildDate>",
    ]
    for a in items:
        out += [
            "<item>",
            f"<title>{escape(a.title)}</title>",
            f"<link>{escape(a.link)}</link>",
            f"<description>{escape(a.summary)}</description>",
            f"<guid isPermaLink=\"true\">{escape(a.link)}</guid>",
            f"<pubDate>{rfc822(a.pub)}</pubDate>",
            "</item>",
        ]
    out.append("</channel></rss>")
    return "\n".join(out) + "\n"


def render_docket(feed: Feed, moment: datetime, items: list[Article]) -> str:
    """CourtListener's DocketFeed: Atom, one entry per docket entry, dated at midnight Pacific of the day filed."""
    docket_id = DOCKETS[feed.id][0]
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xml:lang="en-us" xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(feed.title)}</title>",
        '<link href="https://www.courtlistener.example/" rel="alternate"></link>',
        f'<link href="https://www.courtlistener.example/docket/{docket_id}/feed/" rel="self"></link>',
        "<id>https://www.courtlistener.example/</id>",
        f"<updated>{iso_local(newest(items, feed), PACIFIC)}</updated>",
        "<author><name>Free Law Project</name><email>feeds@courtlistener.example</email></author>",
        "<rights>Created for the public domain by Free Law Project</rights>",
    ]
    for a in items:
        out += [
            "<entry>",
            f"<title>{escape(a.title)}</title>",
            f'<link href={quoteattr(a.link)} rel="alternate"></link>',
            f"<published>{iso_local(a.pub, PACIFIC)}</published>",
            f"<updated>{iso_local(a.pub, PACIFIC)}</updated>",
            f"<id>{escape(a.link)}</id>",
            f'<summary type="html">{escape(a.summary)}</summary>',
            "</entry>",
        ]
    out.append("</feed>")
    return "\n".join(out) + "\n"


def render_clsearch(feed: Feed, moment: datetime, items: list[Article]) -> str:
    """CourtListener's SearchFeed over RECAP dockets: one entry per docket, dated by its filing day."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xml:lang="en-us" xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(feed.title)}</title>",
        '<link href="https://www.courtlistener.example/" rel="alternate"></link>',
        "<id>https://www.courtlistener.example/</id>",
        f"<updated>{iso_local(newest(items, feed), PACIFIC)}</updated>",
        "<author><name>Free Law Project</name><email>feeds@courtlistener.example</email></author>",
    ]
    for a in items:
        out += [
            "<entry>",
            f"<title>{escape(a.title)}</title>",
            f'<link href={quoteattr(a.link)} rel="alternate"></link>',
            f"<published>{iso_local(a.pub, PACIFIC)}</published>",
            f"<updated>{iso_local(a.pub, PACIFIC)}</updated>",
            "<author><name>District of Columbia Circuit</name></author>",
            f"<id>{escape(a.link)}</id>",
            '<summary type="html"></summary>',
            "</entry>",
        ]
    out.append("</feed>")
    return "\n".join(out) + "\n"


RENDER = {
    "google": render_google,
    "bing": render_bing,
    "wordpress": render_wordpress,
    "atom": render_atom,
    "rss": render_rss,
    "docket": render_docket,
    "clsearch": render_clsearch,
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
def first_seen() -> list[tuple[datetime, str, Article]]:
    """(fetch time, feed id, article) for the first fetch of each (feed, article) that is not a seed."""
    rows = []
    for feed in FEEDS:
        times = list(feed.fetch_times())
        for article in feed.articles():
            for moment in times:
                if article in visible(feed, moment):
                    if moment != times[0]:
                        rows.append((moment, feed.id, article))
                    break
            else:
                rows.append((END, feed.id + " NEVER SHOWN", article))
    return sorted(rows, key=lambda r: (r[0], r[1]))


def check(files: dict[Path, bytes]) -> list[str]:
    """Problems: files on disk differing from a rebuild, bodies feedparser calls malformed, items never shown, feeds
    missing from the shipped config."""
    import tomllib

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
    problems += [f"{a.key} never shown in {where}" for _, where, a in first_seen() if where.endswith("NEVER SHOWN")]
    shipped = tomllib.loads((HERE.parents[2] / "config" / "monitor.toml").read_text())
    ids = {f["id"] for f in shipped["feeds"]}
    if ids != {f.id for f in FEEDS}:
        problems.append(f"feed ids differ from config/monitor.toml: {sorted(ids ^ {f.id for f in FEEDS})}")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk and parse-check")
    parser.add_argument("--timeline", action="store_true", help="print when each story item is first fetched")
    args = parser.parse_args(argv)
    files = build()
    if args.timeline:
        for moment, feed_id, a in first_seen():
            if a.key.startswith("F-"):
                continue
            print(f"{iso(moment)}  {feed_id:<34} {a.key:<6} pub {iso(a.pub)}  {OUTLETS[a.outlet].domain:<28} {a.title}")
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
