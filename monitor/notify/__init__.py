"""Notification: routing developments to channels, rendering messages, and sending them through apprise (the edge)."""
