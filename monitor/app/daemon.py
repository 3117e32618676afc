"""``monitor run``: APScheduler wiring, signals, the instance lock, heartbeat, metrics.

The database says what is due (feeds' next poll times, deadline states, outbox release times), so the
scheduler holds only a memory job store rebuilt at start: a short tick, date jobs at the exact deadline
instants (rebuilt after every tick), digest cron jobs and housekeeping. A late or missed tick catches up
by itself because the tick asks the database what is due. One job runs at a time (a one-thread executor):
the service is not thread-safe and needs no locks that way.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.app.deadlines import load_deadline_states
from monitor.app.deliver import deliver_due, release_orphaned_claims
from monitor.app.health import HEARTBEAT_KEY, STARTED_KEY, STOPPED_KEY
from monitor.app.logs import setup_logging, use_settings
from monitor.app.metrics import Metrics
from monitor.app.service import Service
from monitor.clock import monotonic, system_clock
from monitor.config.load import load_settings
from monitor.config.masking import mask_database_url
from monitor.config.schema import Settings
from monitor.errors import MonitorError
from monitor.store.db import Store
from monitor.store.locking import DAEMON_ROLE, InstanceLock, this_process
from monitor.story.deadlines import next_due_instants

log = logging.getLogger("monitor.app.daemon")
STANDBY_RETRY_S = 5.0
SHUTDOWN_BOUND_S = 8.0


class Daemon:
    """One daemon process: standby until it holds the instance lock, then ticks until stopped."""

    def __init__(self, config_path: str, settings: Settings, *, record_dir: Path | None, metrics_port: int | None,
                 metrics_address: str = "127.0.0.1",
                 once: bool) -> None:
        self.config_path = config_path
        self.settings = settings
        self.record_dir = record_dir
        self.metrics_port = metrics_port
        self.metrics_address = metrics_address
        self.once = once
        self.stop_event = threading.Event()
        self.reload_requested = threading.Event()
        self.worker_id = str(this_process(DAEMON_ROLE))  # names this process in its outbox claims
        self.service: Any = None
        self.store: Any = None
        self.scheduler: Any = None
        self.metrics: Any = None
        self.abandoned_work = False  # a job outlived SHUTDOWN_BOUND_S: the process must exit without joining it

    # ------------------------------------------------------------------------------ lifecycle
    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())

    def run(self) -> int:

        url = self.settings.monitor.database_url
        self.store = Store.open(url)
        lock = InstanceLock(url)
        log.info("monitor starting (database %s, worker %s)", mask_database_url(url), self.worker_id)
        waiting_logged = False
        if self.once and not lock.try_acquire():
            # cron mode never waits: the active instance's own ticks do this one's work
            log.warning("another instance is active on this database; its ticks cover this one (nothing to do)")
            self.store.close()
            return 0
        while not lock.try_acquire():
            if not waiting_logged:
                log.info("another instance is active on this database; waiting as a hot standby")
                waiting_logged = True
            if self.stop_event.wait(STANDBY_RETRY_S):
                self.store.close()
                return 0
        try:
            log.info("this instance is now active")
            return self._active(lock)
        finally:
            if not self.abandoned_work:  # else the job still runs: the lock dies with the process (os._exit)
                lock.release()
                self.store.close()

    def _active(self, lock: Any) -> int:

        now = system_clock()
        self.service = Service(self.settings, self.store, clock=system_clock, record_dir=self.record_dir,
                               worker_id=self.worker_id)
        with self.store.write() as tx:
            tx.set_meta(STARTED_KEY, now.isoformat(), now)
        self._release_orphaned_claims(now)
        if self.metrics_port is not None:

            self.metrics = Metrics(self.metrics_port, self.metrics_address)
        if self.once:
            return 0 if self.tick() else 1  # cron must see a failed tick
        self._start_scheduler()
        code = 0
        try:
            while not self.stop_event.wait(1.0):
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self._submit(self.reload)
                if not lock.still_held():
                    # exit 1, not 0: systemd's Restart=on-failure must bring this process back as a standby
                    log.error("lost the instance lock; stopping so the standby can take over")
                    code = 1
                    break
        finally:
            log.info("stopping: finishing in-flight work (at most %.0f s)", SHUTDOWN_BOUND_S)
            self._stop_scheduler()
            now = system_clock()
            with self.store.write() as tx:
                tx.set_meta(STOPPED_KEY, now.isoformat(), now)
            log.info("stopped")
        return code

    def _release_orphaned_claims(self, now: datetime) -> None:
        """On becoming active: put back the outbox rows a stopped worker left ``sending``, so a restart or a standby
        takeover sends them at once rather than after the stale-claim timeout.

        :func:`monitor.app.deliver.release_orphaned_claims` decides, row by row: a claimant of this machine that
        has exited, and (we hold the instance lock now) a daemon on another machine, which must have lost the lock.
        A live ``monitor poll`` beside us keeps its claims. If the stopped worker's send was in flight, the message
        goes out once more: the one extra copy per crash during a send that at-least-once delivery allows.
        """
        released = release_orphaned_claims(self.store, now, instance_lock_held=True)
        if released:
            log.warning("released %d delivery(ies) claimed by a stopped worker; sending them again", released)

    # -------------------------------------------------------------------------------- scheduling
    def _start_scheduler(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        interval = max(1.0, self.settings.monitor.tick_interval.total_seconds())
        self.scheduler.add_job(self.tick, "interval", seconds=interval, id="tick", next_run_time=system_clock(),
                               jitter=min(5.0, interval / 10))
        self.scheduler.add_job(self.housekeeping, "interval", hours=6, id="housekeeping")
        self._digest_jobs()
        self.scheduler.start()

    def _stop_scheduler(self) -> None:
        if self.scheduler is None:
            return
        done = threading.Event()

        def shutdown() -> None:
            self.scheduler.shutdown(wait=True)
            done.set()

        threading.Thread(target=shutdown, daemon=True).start()
        if not done.wait(SHUTDOWN_BOUND_S):
            self.abandoned_work = True
            log.warning("in-flight work did not finish within %.0f s; exiting anyway (the outbox keeps it)",
                        SHUTDOWN_BOUND_S)

    def _submit(self, func: Any) -> None:
        if self.scheduler is not None:
            self.scheduler.add_job(func, next_run_time=system_clock())

    def _digest_jobs(self) -> None:
        from zoneinfo import ZoneInfo

        from apscheduler.triggers.cron import CronTrigger

        for channel in self.settings.channels:
            if channel.mode == "digest":
                trigger = CronTrigger.from_crontab(channel.digest_cron, timezone=ZoneInfo(channel.zone))
                self.scheduler.add_job(self.deliver, trigger, id=f"digest:{channel.id}", replace_existing=True)

    def _deadline_jobs(self) -> None:
        """Date jobs at the exact next deadline instants; rebuilt after every tick (deadlines can move)."""

        states = load_deadline_states(self.settings, self.store)
        now = system_clock()
        wanted = set()
        for story in self.settings.stories:
            for deadline in story.deadlines:
                for instant in next_due_instants(story, deadline, states[(story.id, deadline.id)]):
                    if instant > now:
                        job_id = f"deadline:{story.id}:{deadline.id}:{instant.isoformat()}"
                        wanted.add(job_id)
                        if self.scheduler.get_job(job_id) is None:
                            self.scheduler.add_job(self.deadline_instant, "date", run_date=instant, id=job_id)
        for job in self.scheduler.get_jobs():
            if job.id.startswith("deadline:") and job.id not in wanted:
                job.remove()

    # ------------------------------------------------------------------------------------- jobs
    def tick(self) -> bool:
        """One scheduled tick; False when it failed (logged; the next tick tries again)."""
        started = monotonic()
        try:
            report = self.service.tick()
        except MonitorError as exc:
            log.error("tick failed: %s", exc)
            return False
        except Exception:
            log.exception("tick failed unexpectedly")
            return False
        now = system_clock()
        with self.store.write() as tx:
            tx.set_meta(HEARTBEAT_KEY, now.isoformat(), now)
        for poll in report.polls:
            if poll.error:
                log.warning("feed %s: %s", poll.feed_id, poll.error)
        for dev in report.developments:
            log.info("development: %s", dev.title)
        if self.scheduler is not None:
            self._deadline_jobs()
        self._ping_heartbeat()
        if self.metrics is not None:
            self.metrics.update(self.settings, self.store, now, monotonic() - started)
        return True

    def deadline_instant(self) -> None:
        """Run at a reminder or due instant: check deadlines, deliver at once."""
        now = system_clock()
        self.service.check_deadlines(now)
        self.deliver()

    def deliver(self) -> None:

        deliver_due(self.settings, self.store, system_clock(), self.worker_id, self.service.rng)

    def housekeeping(self) -> None:
        now = system_clock()
        with self.store.write() as tx:
            pruned = tx.prune_items(now - self.settings.monitor.retention)
        self.store.optimize()
        log.info("housekeeping: pruned %d old item(s)", pruned)

    def reload(self) -> None:
        """SIGHUP: load the config again; an invalid one is reported and the old one kept."""
        try:
            settings = load_settings(self.config_path)
        except MonitorError as exc:
            log.error("config reload failed, keeping the old config: %s", exc)
            return
        if settings.monitor.database_url != self.settings.monitor.database_url:
            log.warning("database_url changed; restart the daemon to switch databases (kept the old one)")
            settings = settings.model_copy(update={"monitor": settings.monitor.model_copy(
                update={"database_url": self.settings.monitor.database_url})})
        self.settings = settings
        use_settings(settings)
        self.service.reload(settings)
        for job in self.scheduler.get_jobs():
            if job.id.startswith("digest:"):
                job.remove()
        self._digest_jobs()
        log.info("config reloaded: %d feed(s), %d story(ies)", len(settings.feeds), len(settings.stories))

    def _ping_heartbeat(self) -> None:
        url = self.settings.monitor.heartbeat_url
        if not url:
            return
        import httpx

        try:
            httpx.get(url, timeout=10.0, headers={"User-Agent": self.settings.monitor.effective_user_agent})
        except httpx.HTTPError as exc:
            log.warning("heartbeat ping failed: %s", type(exc).__name__)


def run_daemon(config_path: str, *, record_dir: Path | None, log_format: str, metrics_port: int | None,
               metrics_address: str = "127.0.0.1",
               once: bool, log_level: str = "INFO") -> int:
    """Entry point of ``monitor run``. Returns the exit code."""
    settings = load_settings(config_path)
    setup_logging(log_format, log_level, settings)
    daemon = Daemon(config_path, settings, record_dir=record_dir, metrics_port=metrics_port,
                    metrics_address=metrics_address, once=once)
    daemon.install_signals()
    code = daemon.run()
    if daemon.abandoned_work:
        # The executor's worker threads are joined at interpreter exit, so a job stuck in a slow fetch would
        # hold the exit for up to the fetch timeout. Nothing is lost by not waiting: its feed is polled again
        # and its deliveries are released by the next active instance.
        logging.shutdown()
        os._exit(code)
    return code

