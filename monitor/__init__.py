"""Story deadline and escalation monitor: watches feeds for the moves of a developing story."""

__version__ = "0.1.0"
