"""The command line: Click commands and the read-only reports they print."""
