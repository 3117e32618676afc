"""Prometheus metrics for ``monitor run --metrics-port`` (prometheus_client), served on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from monitor.config.schema import Settings
from monitor.domain import DeliveryStatus
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.store.db import Store


class Metrics:
    """Gauges refreshed after every tick from the store (the store is the truth, not counters in memory)."""

    def __init__(self, port: int, address: str = "127.0.0.1") -> None:
        from prometheus_client import CollectorRegistry, Gauge, start_http_server

        self.registry = CollectorRegistry()
        self.feeds = Gauge("monitor_feeds", "Configured feeds by health", ["state"], registry=self.registry)
        self.items = Gauge("monitor_items_ingested_total", "Items stored across all feeds", registry=self.registry)
        self.developments = Gauge("monitor_developments_total", "Developments stored", registry=self.registry)
        self.deliveries = Gauge("monitor_deliveries", "Outbox rows by status", ["status"], registry=self.registry)
        self.tick_age = Gauge("monitor_last_tick_timestamp_seconds", "Unix time of the last tick",
                              registry=self.registry)
        self.tick_seconds = Gauge("monitor_last_tick_duration_seconds", "How long the last tick took",
                                  registry=self.registry)
        try:
            start_http_server(port, addr=address, registry=self.registry)
        except (OSError, OverflowError, ValueError) as exc:  # a port in use, an address not of this machine
            reason = getattr(exc, "strerror", None) or str(exc)
            raise MonitorError(f"cannot serve metrics on {address}:{port}: {reason}; choose another "
                               "--metrics-port or --metrics-address") from exc

    def update(self, settings: Settings, store: Store, now: datetime, tick_seconds: float) -> None:
        with store.read() as tx:
            feeds = tx.feeds()
            outbox = tx.outbox()
            developments = tx.count_developments()
            items = tx.count_items()  # every stored item, seeded ones too (feeds' items_seen counts only news)
        ok = sum(1 for f in feeds if f.enabled and not f.consecutive_failures)
        failing = sum(1 for f in feeds if f.enabled and f.consecutive_failures)
        self.feeds.labels("ok").set(ok)
        self.feeds.labels("failing").set(failing)
        self.feeds.labels("disabled").set(sum(1 for f in feeds if not f.enabled))
        self.items.set(items)
        self.developments.set(developments)
        for status in DeliveryStatus:
            self.deliveries.labels(status.value).set(sum(1 for r in outbox if r.status == status))
        self.tick_age.set(now.timestamp())
        self.tick_seconds.set(tick_seconds)
