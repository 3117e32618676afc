"""Deployment files: no Docker engine runs here, so check that compose.yaml parses and that everything it and
the systemd unit reference exists."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_parses_and_defines_the_daemon_postgres_and_mail_catcher() -> None:
    services = compose()["services"]
    assert {"monitor", "monitor-pg", "postgres", "mailpit"} <= set(services)
    assert services["monitor-pg"]["profiles"] == ["postgres"]
    assert services["monitor-pg"]["deploy"]["replicas"] == 2
    assert services["mailpit"]["profiles"] == ["mail"]
    assert "profiles" not in services["monitor"]


def test_compose_daemon_has_restart_policy_healthcheck_state_volume_and_env_file() -> None:
    daemon = compose()["services"]["monitor"]
    assert daemon["restart"] == "unless-stopped"
    assert daemon["healthcheck"]["test"] == ["CMD", "monitor", "status", "--check"]
    assert "./state:/app/state" in daemon["volumes"]
    assert "./config:/app/config:ro" in daemon["volumes"]
    assert daemon["env_file"][0]["path"] == ".env"


def test_everything_compose_references_exists() -> None:
    doc = compose()
    for name, service in doc["services"].items():
        if "build" in service:
            context = ROOT / (service["build"] if isinstance(service["build"], str) else service["build"]["context"])
            assert (context / "Dockerfile").is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).is_dir(), f"{name}: {source}"
            else:
                assert source in doc.get("volumes", {}), f"{name}: named volume {source}"
    assert (ROOT / ".env.example").is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for copied in ("pyproject.toml", "README.md", "monitor", "config"):
        assert (ROOT / copied).exists() and copied in dockerfile


def test_systemd_unit_runs_the_daemon_and_reloads_with_sighup() -> None:
    unit = (ROOT / "deploy" / "monitor.service").read_text()
    assert "ExecStart=/opt/deadline-monitor/.venv/bin/monitor run" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert "KillSignal=SIGTERM" in unit
