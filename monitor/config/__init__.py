"""Configuration: the frozen settings models (schema, pure) and their loading from TOML and the environment
(load, an edge)."""
