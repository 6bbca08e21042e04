"""A throwaway PostgreSQL server for lake tests and benchmarks (Debian's binaries).

Own data directory under a temporary folder, a random loopback port, trust authentication
on 127.0.0.1 only, fsync off (the server is thrown away). As root the server runs as the
``postgres`` OS user (PostgreSQL refuses to run as root). Anything that goes wrong raises
PostgresUnavailable with the reason, so a test that needs the server fails loudly.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        raise PostgresUnavailable(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run "
            "`make system-deps` or `apt-get install postgresql`."
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, root: Path | None = None):
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="c360-pg-", dir=root))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.user = "postgres"
        self._as_postgres = os.geteuid() == 0
        self._counter = 0

    # -- running commands as the right OS user

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}"
            )
        return out

    def start(self) -> "PostgresServer":
        if self._as_postgres:
            shutil.chown(self.root, user="postgres")
        self.root.chmod(0o700)
        self._run(
            self.bin / "initdb",
            "-D",
            self.data,
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-locale",
        )
        last_error = ""
        for _ in range(5):  # a random port may be taken between choosing and binding it
            self.port = _free_port()
            out = self._run(
                self.bin / "pg_ctl",
                "-D",
                self.data,
                "-l",
                self.log,
                "-w",
                "-t",
                "30",
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200",
                "start",
                check=False,
            )
            if out.returncode == 0:
                return self
            last_error = out.stderr.strip() or out.stdout.strip()
            if self.log.exists():
                last_error += "\n" + self.log.read_text(errors="replace")[-2000:]
        raise PostgresUnavailable(f"PostgreSQL did not start: {last_error}")

    def stop(self) -> None:
        if self.data.exists():
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        out = self._run(
            self.bin / "psql",
            "-X",
            "-q",
            "-At",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            dbname,
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        )
        return out.stdout.strip()

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        self._counter += 1
        name = name or f"lake_{os.getpid()}_{self._counter}_{int(time.time() * 1000) % 100000}"
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        self.psql(sql)
        return name

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def spec(self, dbname: str) -> str:
        return f"ducklake:postgres:dbname={dbname} host=127.0.0.1 port={self.port} user={self.user}"
