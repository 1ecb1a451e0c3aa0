"""The service of compose.yaml on one machine's loopback, without Docker: a PostgreSQL cluster
(Debian's binaries; as the `postgres` user when run as root), the migrations, N Pinpoint
instances in webhook mode on one database, and nginx round-robin in front (plain http; TLS
is compose's nginx's job).

    python deploy/loopback.py [--instances 2] [--port 8080] [--workdir DIR]

Settings come from the environment and `.env` as for `python -m bot run` (TELEGRAM_TOKEN,
TELEGRAM_API_URL for a local Bot API server, people and chats); the launcher sets
DATABASE_URL (unless given), WEBHOOK_URL (nginx's address, unless given), WEBHOOK_SECRET
(unless given) and each instance's WEBHOOK_PORT. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOOK_PATH = "/telegram/hook"
NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream pinpoint {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location = {path} {{
            proxy_pass http://pinpoint;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }}
        location / {{ return 404; }}
    }}
}}
"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin, else the folder of `pg_ctl` on PATH."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()]
    if found:
        return max(found, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def start_postgres(bindir: Path, root: Path, port: int) -> str:
    """Create and start a cluster in `root` on 127.0.0.1:`port`; its DATABASE_URL."""
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    run = [*as_user]
    subprocess.run([*run, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A",
                    "trust", "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
    subprocess.run([*run, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "pg.log"),
                    "-w", "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True)
    subprocess.run([*run, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                    "-U", "postgres", "pinpoint"], check=True, capture_output=True)
    return f"postgresql://postgres@127.0.0.1:{port}/pinpoint"


def stop_postgres(bindir: Path, root: Path) -> None:
    """Stop the cluster started in `root`."""
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "fast",
                    "stop"], check=False, capture_output=True)


def nginx_config(root: Path, port: int, upstreams: list[int], path: str = HOOK_PATH) -> Path:
    """Write nginx's configuration: `path` on 127.0.0.1:`port`, round-robin to `upstreams`."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;"
                        for p in upstreams)
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, servers=servers, port=port, path=path),
                    encoding="utf-8")
    return conf


def nginx_command(conf: Path) -> list[str] | None:
    """The command that runs nginx in the foreground with `conf` (None: no nginx here)."""
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    return [binary, "-c", str(conf), "-p", str(conf.parent)] if binary else None


def instance_env(base: dict[str, str], port: int, database_url: str, webhook_url: str,
                 secret: str) -> dict[str, str]:
    """One instance's environment: the shared database, URL and secret; its own port."""
    return {**base, "DATABASE_URL": database_url, "WEBHOOK_URL": webhook_url,
            "WEBHOOK_SECRET": secret, "WEBHOOK_LISTEN": "127.0.0.1",
            "WEBHOOK_PORT": str(port)}


def main() -> int:
    """Start PostgreSQL, migrate, start the instances and nginx; stop all on Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--port", type=int, default=8080, help="nginx's port on 127.0.0.1")
    parser.add_argument("--workdir", type=Path, help="for the cluster and logs (a temp dir)")
    args = parser.parse_args()
    root = (args.workdir or Path(tempfile.mkdtemp(prefix="pinpoint-loopback-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bindir, pg_root = None, root / "pg"
    children: list[subprocess.Popen[bytes]] = []
    try:
        database_url = env.get("DATABASE_URL")
        if not database_url:
            bindir = pg_bindir()
            if bindir is None:
                print("no PostgreSQL binaries: install Debian's `postgresql` package, or set "
                      "DATABASE_URL", file=sys.stderr)
                return 2
            pg_root.mkdir()
            database_url = start_postgres(bindir, pg_root, free_port())
        webhook_url = env.get("WEBHOOK_URL") or f"http://127.0.0.1:{args.port}{HOOK_PATH}"
        secret = env.get("WEBHOOK_SECRET") or secrets.token_hex(32)
        subprocess.run([sys.executable, "-m", "bot", "migrate"], cwd=ROOT, check=True,
                       env={**env, "DATABASE_URL": database_url})
        ports = [free_port() for _ in range(args.instances)]
        for index, port in enumerate(ports, 1):
            log = open(root / f"instance-{index}.log", "ab")  # noqa: SIM115 (child's)
            children.append(subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], cwd=ROOT, stdout=log, stderr=log,
                env=instance_env(env, port, database_url, webhook_url, secret)))
        command = nginx_command(nginx_config(root, args.port, ports))
        if command is None:
            print("no nginx: install Debian's `nginx` package", file=sys.stderr)
            return 2
        children.append(subprocess.Popen(command))
        print(f"{args.instances} instances on {database_url}, behind nginx at {webhook_url}; "
              f"logs in {root}; Ctrl-C stops", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(child.poll() is None for child in children):
            time.sleep(1)
        print("a process ended: stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            child.terminate()
        for child in children:
            child.wait(timeout=30)
        if bindir is not None:
            stop_postgres(bindir, pg_root)


if __name__ == "__main__":
    sys.exit(main())
