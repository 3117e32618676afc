"""The daemon's own health marks in the store's meta table: when it started, last ticked and stopped."""

HEARTBEAT_KEY = "daemon.heartbeat"
STARTED_KEY = "daemon.started_at"
STOPPED_KEY = "daemon.stopped_at"
