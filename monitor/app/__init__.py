"""The shell: wires config, ingest, story, notify and store into a poll tick, delivery, the daemon and replay."""
