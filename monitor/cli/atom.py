"""``monitor history --atom``: the stored developments as an Atom feed, so any feed reader can follow."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from monitor import __version__
from monitor.config.schema import Settings
from monitor.domain import Development, iso_utc

ATOM = "http://www.w3.org/2005/Atom"


def developments_atom(settings: Settings, developments: Sequence[Development], now: datetime) -> bytes:
    """An Atom 1.0 document, newest first. Text is escaped by ElementTree; only http(s) links are emitted."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    titles = ", ".join(s.title for s in settings.stories)
    ET.SubElement(feed, f"{{{ATOM}}}title").text = f"deadline monitor: {titles}"
    ET.SubElement(feed, f"{{{ATOM}}}id").text = "urn:deadline-monitor:" + ",".join(s.id for s in settings.stories)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = iso_utc(developments[-1].at if developments else now)
    ET.SubElement(feed, f"{{{ATOM}}}generator", version=__version__).text = "deadline-monitor"
    for dev in sorted(developments, key=lambda d: d.at, reverse=True):
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"urn:deadline-monitor:development:{dev.key}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = dev.title
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = iso_utc(dev.at)
        ET.SubElement(entry, f"{{{ATOM}}}category", term=dev.kind.value)
        lines = [dev.summary] if dev.summary else []
        lines.append(f"{dev.kind.value} · {dev.confidence.value} · {dev.severity.label}")
        for source in dev.sources:
            lines.append(f"{source.outlet}: {source.title} {source.link or ''}".strip())
            if source.link and source.link.startswith(("http://", "https://")):
                ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", href=source.link)
        ET.SubElement(entry, f"{{{ATOM}}}content", type="text").text = "\n".join(lines)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
