"""The deployment files, checked without Docker: the image is slim, non-root, has the QR
library and a health check; compose runs PostgreSQL, two instances and nginx in front;
the loopback launcher's nginx configuration sends the webhook round-robin."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))

import loopback  # noqa: E402

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = (ROOT / "compose.yaml").read_text(encoding="utf-8")
NGINX = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")


def instructions(name: str) -> list[str]:
    """The arguments of every Dockerfile instruction `name` (continued lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines()
            if line.split(None, 1)[:1] == [name]]


def test_the_image_is_slim_non_root_and_checks_its_health() -> None:
    assert instructions("FROM") == ["python:3.11-slim"]
    run = " ".join(instructions("RUN"))
    assert "libzbar0" in run and "--no-install-recommends" in run
    assert "--require-hashes -r requirements/run.txt" in run and "--no-deps ." in run
    users = instructions("USER")
    assert users and users[-1] not in ("root", "0")
    health = instructions("HEALTHCHECK")
    assert len(health) == 1 and "/healthz" in health[0]
    assert instructions("CMD")[-1] == '["python", "-m", "bot", "run"]'
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".git", "tests", "data/*.db"} <= set(ignored)


def test_compose_runs_postgres_two_instances_and_nginx() -> None:
    if importlib.util.find_spec("yaml") is not None:
        import yaml

        services = yaml.safe_load(COMPOSE)["services"]
        names = set(services)
    else:  # no PyYAML: the top-level service names by their indentation
        block = COMPOSE.split("\nservices:\n", 1)[1].split("\nvolumes:", 1)[0]
        names = set(re.findall(r"^  ([\w-]+):", block, flags=re.MULTILINE))
    assert {"postgres", "migrate", "pinpoint-1", "pinpoint-2", "nginx"} <= names
    assert "DATABASE_URL: postgresql://" in COMPOSE and "./deploy/nginx.conf" in COMPOSE
    assert "443:443" in COMPOSE and "pinpoint-1:8443" in NGINX and "pinpoint-2:8443" in NGINX
    assert "ssl_certificate " in NGINX and "location = /telegram/hook" in NGINX


def test_the_loopback_nginx_config_goes_round_robin(tmp_path: Path) -> None:
    conf = loopback.nginx_config(tmp_path, 8080, [9001, 9002]).read_text(encoding="utf-8")
    assert conf.count("server 127.0.0.1:900") == 2
    assert "listen 127.0.0.1:8080;" in conf and f"location = {loopback.HOOK_PATH}" in conf
    assert "daemon off;" in conf and f"pid {tmp_path}/nginx.pid;" in conf
    env = loopback.instance_env({"TELEGRAM_TOKEN": "t"}, 9002, "postgresql://x/y",
                                "http://127.0.0.1:8080/telegram/hook", "s")
    assert env["WEBHOOK_PORT"] == "9002" and env["DATABASE_URL"] == "postgresql://x/y"
    assert env["TELEGRAM_TOKEN"] == "t"


@pytest.mark.skipif(loopback.nginx_command(Path("x")) is None, reason="nginx not installed")
def test_nginx_accepts_the_loopback_config(tmp_path: Path) -> None:
    command = loopback.nginx_command(loopback.nginx_config(tmp_path, 8080, [9001, 9002]))
    assert command is not None
    done = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
