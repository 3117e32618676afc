"""Ingestion: fetching feeds over HTTP (the edge), parsing bytes into items, poll scheduling, replay archives."""
