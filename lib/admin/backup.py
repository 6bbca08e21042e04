"""Snapshots of the warehouse (credentials included), verified restore, and the restore drill.

How a snapshot is taken, and why this way
-----------------------------------------
A snapshot is a byte copy of the warehouse file taken while this process has closed every
pooled connection and keeps new ones waiting (``warehouse.closed``): closed cleanly, DuckDB
has checkpointed every commit into the file, so the copy is exactly the committed state.
Other sessions pause for the close and copy (7 s measured for the 900 MB file at 1M
customers on a busy 2-core machine) instead of sharing the CPU for minutes: ``ATTACH`` +
``COPY FROM DATABASE`` (online, MVCC-consistent) was tried first and took about 4 minutes at
1M customers on 2 cores, because it re-encodes every table; ``EXPORT DATABASE`` re-encodes as
well and needs its DDL replayed on restore. Restoring a byte copy is one atomic rename, which
is also what makes the drill meaningful.

Every table's row count and checksum (``sum(hash(row))``: order-independent, sensitive to any
changed value and to duplicate rows) is then computed from the clear copy into
``manifest.json``; the copy is encrypted (``lib/admin/backup_crypto.py``: AES-256-GCM in 4 MiB
chunks under a key derived from the newest field key) and deleted. The manifest is signed
(HMAC-SHA256 under a key derived from the hash key), so rows deleted from a snapshot cannot
be hidden by recomputing its checksums. ``verify``, the drill and a restore check the
signature and the file hash, decrypt to a private copy and recompute every checksum. The
app's users and password hashes live in ``app_users`` inside the warehouse, so every snapshot
includes the credentials store (encrypted with the rest). Field-encryption keys are
deliberately *not* in a snapshot (keys and ciphertext must not travel together); the drill
checks that the configured keys still decrypt the snapshot's ID numbers.

Layout: ``<backup dir>/<id>/warehouse.duckdb.enc`` and ``manifest.json``, files 0600 in 0700
directories. A snapshot is built in ``<id>.partial`` and renamed when complete, so a crash
never leaves a half snapshot that looks whole. The backup dir is ``C360_BACKUP_DIR`` or
``backups/`` beside the warehouse file. Snapshots taken before encryption (manifest without
``format``) fail verify and are not restored: their manifest is unsigned (docs/operations.md).

Decrypted copies are opened directly with duckdb (read-only where possible): they are not the
warehouse, and opening them separately keeps a damaged snapshot away from the app's pool.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator

import duckdb

from lib.security import audit, auth, privacy
from lib.admin import backup_crypto
from lib.core import config, i18n, settings, warehouse

SNAPSHOT_FILE = "warehouse.duckdb"
ENCRYPTED_FILE = "warehouse.duckdb.enc"
MANIFEST_FILE = "manifest.json"
FORMAT = 2  # 2: encrypted file, signed manifest; manifests without "format" are 1
KINDS = ("manual", "scheduled", "pre-restore")
# A checksum query per table; the table name comes from DuckDB's own catalog and is quoted.
_CHECKSUM_SQL = "SELECT count(*) AS n, CAST(coalesce(sum(hash(t)::HUGEINT), 0) AS VARCHAR) AS c FROM {table} AS t"
_TABLES_SQL = (
    "SELECT schema_name, table_name FROM duckdb_tables() "
    "WHERE database_name = current_database() AND NOT temporary "
    "ORDER BY schema_name, table_name"
)


class BackupError(warehouse.WarehouseError):
    """A backup or restore problem, with a message meant for people."""


@dataclass
class TableCheck:
    table: str
    rows_expected: int | None
    rows_found: int | None
    checksum_expected: str | None
    checksum_found: str | None

    @property
    def ok(self) -> bool:
        return self.rows_expected == self.rows_found and self.checksum_expected == self.checksum_found


@dataclass
class CheckResult:
    snapshot_id: str
    tables: list[TableCheck] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)  # file integrity, keys, credentials
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.tables) and all(t.ok for t in self.tables) and all(self.checks.values())

    def rows(self) -> list[dict]:
        return [
            {
                "table": t.table,
                "rows_expected": t.rows_expected,
                "rows_found": t.rows_found,
                "checksum_expected": t.checksum_expected,
                "checksum_found": t.checksum_found,
                "ok": t.ok,
            }
            for t in self.tables
        ]

    def summary(self) -> dict:
        return {
            "snapshot": self.snapshot_id,
            "passed": self.passed,
            "tables": len(self.tables),
            "failed_tables": [t.table for t in self.tables if not t.ok],
            "checks": self.checks,
            "notes": self.notes,
        }


# ---------------------------------------------------------------- locations


def warehouse_file() -> Path:
    loc = warehouse.current_location()
    if loc.kind != "file" or loc.path is None:
        raise BackupError(
            "File snapshots need a file warehouse. A DuckLake deployment is backed "
            "up with its catalog database and data files (docs/operations.md)."
        )
    return loc.path


def supported() -> bool:
    """File snapshots apply to a warehouse file; a lake has its own backup path."""
    return warehouse.current_location().kind == "file"


def backup_dir() -> Path:
    configured = config.setting("backup_dir")
    return Path(configured) if configured else warehouse_file().parent / "backups"


def _private_backup_dir() -> Path:
    """The backup directory, created 0700 when missing."""
    return config.private_dir(backup_dir())


@contextmanager
def _workspace() -> Iterator[Path]:
    """A private (0700) scratch directory inside the backup directory for decrypted copies:
    same file system as the snapshots (room for a multi-GB file, unlike a RAM-backed /tmp);
    its name starts with a dot and it has no manifest, so it is never listed as a snapshot."""
    with tempfile.TemporaryDirectory(prefix=".work-", dir=_private_backup_dir()) as tmp:
        yield Path(tmp)


def _legacy(manifest: dict) -> bool:
    return int(manifest.get("format", 1)) < FORMAT


def _snapshot_dir(snapshot_id: str) -> Path:
    if not snapshot_id or "/" in snapshot_id or snapshot_id.startswith(".") or snapshot_id.endswith(".partial"):
        raise BackupError(f"{snapshot_id!r} is not a snapshot id.")
    path = backup_dir() / snapshot_id
    if not (path / MANIFEST_FILE).exists():
        raise BackupError(f"There is no snapshot {snapshot_id!r} in {backup_dir()}.")
    return path


def _quoted(*parts: str) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- checksums


def _table_names(run) -> list[tuple[str, str]]:
    return [(s, t) for s, t in run(_TABLES_SQL)]


def _checksums(run) -> dict[str, dict]:
    """Row count and checksum of every base table, through `run(sql) -> rows`."""
    out = {}
    for schema, table in _table_names(run):
        name = table if schema == "main" else f"{schema}.{table}"
        n, checksum = run(_CHECKSUM_SQL.replace("{table}", _quoted(schema, table)))[0]
        out[name] = {"rows": int(n), "checksum": str(checksum)}
    return out


@contextmanager
def _open_file(path: Path, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    with warehouse.open_file(
        path, read_only, error=lambda exc: BackupError(f"The snapshot file {path} cannot be opened: {exc}")
    ) as con:
        yield con


def file_checksums(path: Path, read_only: bool = True) -> dict[str, dict]:
    with _open_file(path, read_only) as con:
        return _checksums(lambda sql: con.execute(sql).fetchall())


def live_checksums() -> dict[str, dict]:
    """Checksums of the warehouse as it is now (tests compare these across backup/restore)."""
    with warehouse.connect() as conn:
        return _checksums(lambda sql: conn.exec_driver_sql(sql).fetchall())


# ---------------------------------------------------------------- create, list, prune


def create(user: auth.User, kind: str = "manual", note: str | None = None, protect: tuple[str, ...] = ()) -> dict:
    """Take a snapshot of the whole warehouse (users and password hashes included), then apply
    the retention setting (never to the snapshots named in `protect`)."""
    auth.require(user, "manage_backups")
    if kind not in KINDS:
        raise BackupError(f"Kind must be one of {', '.join(KINDS)}.")
    manifest = _snapshot(user, kind, (note or "").strip()[:200] or None)
    removed = prune(user, int(settings.get("backup_retention")), protect=protect)
    audit.record(
        None,
        user,
        "backup.create",
        "backup",
        manifest["id"],
        detail={"kind": kind, "bytes": manifest["file_bytes"], "tables": len(manifest["tables"]), "pruned": removed},
    )
    return manifest


def _snapshot(user: auth.User, kind: str, note: str | None, wait_seconds: float = 30.0) -> dict:
    source = warehouse_file()
    now = datetime.now()
    snapshot_id = now.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    partial = _private_backup_dir() / (snapshot_id + ".partial")
    partial.mkdir(mode=0o700)
    plain = partial / SNAPSHOT_FILE  # the clear copy exists only until it is encrypted
    target = partial / ENCRYPTED_FILE
    try:
        versions = warehouse.schema_versions()
        with _warehouse_closed(wait_seconds):
            # Closed cleanly, DuckDB has checkpointed everything into the file; a log left
            # behind would hold commits the copy lacks.
            if source.with_name(source.name + ".wal").exists():
                raise BackupError(
                    "The warehouse did not close cleanly (its write-ahead log "
                    "remains); no snapshot was taken. Try again."
                )
            # The kernel's copy (copy_file_range/sendfile) keeps the pause short: 2.2 s for
            # 900 MB here, against 24 s for a Python loop that also hashes. Encryption runs
            # after the pause, on the private copy.
            backup_crypto.private_file(plain).close()
            shutil.copyfile(source, plain)
        tables = file_checksums(plain)
        plain_bytes = plain.stat().st_size
        backup_crypto.encrypt_file(plain, target)
        plain.unlink()
        manifest = backup_crypto.sign(
            {
                "id": snapshot_id,
                "format": FORMAT,
                "created_at": now.isoformat(timespec="microseconds"),
                "created_by": user.username,
                "kind": kind,
                "note": note,
                "source": str(source),
                "duckdb_version": duckdb.__version__,
                "schema_versions": versions,
                "file": ENCRYPTED_FILE,
                "file_bytes": target.stat().st_size,
                "file_sha256": _sha256(target),
                "plain_bytes": plain_bytes,
                "encryption": {"algorithm": backup_crypto.ALGORITHM, "key_id": backup_crypto.current_key_id()},
                "tables": tables,
                "credentials": {"table": "app_users", "users": tables.get("app_users", {}).get("rows", 0)},
            }
        )
        with backup_crypto.private_file(partial / MANIFEST_FILE) as fh:
            fh.write(json.dumps(manifest, indent=2).encode("utf-8"))
        _fsync(partial / MANIFEST_FILE)
        partial.rename(backup_dir() / snapshot_id)
        return manifest
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _manifest(path: Path) -> dict | None:
    try:
        return json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def snapshots() -> list[dict]:
    """Complete snapshots, newest first (manifests)."""
    root = backup_dir()
    if not root.exists():
        return []
    found = []
    for path in root.iterdir():
        if path.is_dir() and not path.name.endswith(".partial"):
            manifest = _manifest(path)
            if manifest is not None:
                found.append(manifest)
    return sorted(found, key=lambda m: (m["created_at"], m["id"]), reverse=True)


def list_snapshots(user: auth.User) -> list[dict]:
    """One row per snapshot for the admin page and the CLI."""
    auth.require(user, "manage_backups")
    return [
        {
            "id": m["id"],
            "created_at": m["created_at"][:19].replace("T", " "),
            "created_by": m["created_by"],
            "kind": m["kind"],
            "note": m.get("note"),
            "bytes": m["file_bytes"],
            "tables": len(m["tables"]),
            "rows": sum(t["rows"] for t in m["tables"].values()),
            "users": m.get("credentials", {}).get("users"),
        }
        for m in snapshots()
    ]


def prune(user: auth.User, keep: int, protect: tuple[str, ...] = ()) -> list[str]:
    """Delete all but the newest `keep` snapshots (the retention setting; at least one stays)."""
    auth.require(user, "manage_backups")
    keep = max(int(keep), 1)
    removed = []
    for manifest in snapshots()[keep:]:
        if manifest["id"] in protect:
            continue
        shutil.rmtree(backup_dir() / manifest["id"], ignore_errors=True)
        removed.append(manifest["id"])
    return removed


# ---------------------------------------------------------------- verify and drill


def _compare(snapshot_id: str, manifest: dict, found: dict[str, dict]) -> CheckResult:
    result = CheckResult(snapshot_id)
    for table in sorted(set(manifest["tables"]) | set(found)):
        exp, got = manifest["tables"].get(table, {}), found.get(table, {})
        result.tables.append(
            TableCheck(table, exp.get("rows"), got.get("rows"), exp.get("checksum"), got.get("checksum"))
        )
    if manifest.get("duckdb_version") != duckdb.__version__:
        result.notes.append(
            i18n.Note("admin.backups.note.version", written=manifest.get("duckdb_version"), checked=duckdb.__version__)
        )
    return result


@contextmanager
def _clear_copy(path: Path, manifest: dict, checks: dict[str, bool], work: Path) -> Iterator[Path | None]:
    """The snapshot's warehouse file in clear, in `work`; None (with the failed check recorded)
    when the file is damaged or cannot be decrypted. Records `manifest_mac`, `file_sha256`
    and, for an encrypted snapshot, `decrypts`."""
    checks["manifest_mac"] = backup_crypto.signature_ok(manifest)
    file = path / manifest["file"]
    checks["file_sha256"] = file.exists() and _sha256(file) == manifest["file_sha256"]
    if not checks["file_sha256"]:
        yield None
        return
    copy = work / SNAPSHOT_FILE
    if not backup_crypto.is_encrypted(file):  # a legacy snapshot (its manifest says so or lies)
        backup_crypto.private_file(copy).close()
        shutil.copyfile(file, copy)
        yield copy
        return
    try:
        backup_crypto.decrypt_file(file, copy)
        checks["decrypts"] = True
    except backup_crypto.SnapshotCryptoError:
        checks["decrypts"] = False
        yield None
        return
    yield copy


def _check(snapshot_id: str, manifest: dict, path: Path, drill_checks: bool) -> CheckResult:
    checks: dict[str, bool] = {}
    found: dict[str, dict] = {}
    with _workspace() as work, _clear_copy(path, manifest, checks, work) as copy, ExitStack() as stack:
        if copy is not None:
            # The drill opens the copy read-write, as a real restore would.
            try:
                con = stack.enter_context(_open_file(copy, read_only=not drill_checks))
            except BackupError:
                checks["opens"] = False
                copy = None
        if copy is not None:
            run = lambda sql: con.execute(sql).fetchall()  # noqa: E731
            found = _checksums(run)
            if drill_checks:
                checks["credentials_store"] = bool(
                    run("SELECT count(*) FROM app_users WHERE NOT disabled AND list_contains(roles, 'admin')")[0][0]
                )
                checks["keys_decrypt"] = _keys_decrypt(run)
    result = _compare(snapshot_id, manifest, found)
    result.checks.update(checks)
    if _legacy(manifest):
        result.notes.append(i18n.Note("admin.backups.note.legacy"))
    return result


def verify(user: auth.User, snapshot_id: str) -> CheckResult:
    """Check one snapshot: the manifest's keyed signature, the file hash, then decrypt it to a
    private scratch copy and compare every table's rows and checksum with the manifest."""
    auth.require(user, "manage_backups")
    path = _snapshot_dir(snapshot_id)
    result = _check(snapshot_id, _manifest(path), path, drill_checks=False)
    audit.record(None, user, "backup.verify", "backup", snapshot_id, detail=result.summary())
    return result


def drill(user: auth.User, snapshot_id: str | None = None) -> CheckResult:
    """Restore the latest (or given) snapshot to a temporary copy, open it read-write as a real
    restore would, and compare every table with the (signed) manifest. Also checks that the
    copy has an enabled admin (the credentials store works) and that today's keys decrypt its
    ID numbers. Pass or fail is audited; the live warehouse is not touched."""
    auth.require(user, "restore_backup")
    available = snapshots()
    if not available:
        raise BackupError("There is no snapshot yet: create one first.")
    manifest = next((m for m in available if m["id"] == snapshot_id), None) if snapshot_id else available[0]
    if manifest is None:
        raise BackupError(f"There is no snapshot {snapshot_id!r}.")
    result = _check(manifest["id"], manifest, backup_dir() / manifest["id"], drill_checks=True)
    audit.record(None, user, "backup.drill", "backup", manifest["id"], detail=result.summary())
    return result


def _keys_decrypt(run, sample: int = 20) -> bool:
    tokens = [
        r[0]
        for r in run(
            "SELECT id_number_enc FROM customers WHERE id_number_enc IS NOT NULL "
            "ORDER BY customer_id LIMIT " + str(int(sample))
        )
    ]
    try:
        for token in tokens:
            privacy.decrypt(token)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- restore


def restore(user: auth.User, snapshot_id: str, wait_seconds: float = 30.0) -> dict:
    """Replace the warehouse with a snapshot.

    Order matters: check the manifest's keyed signature and the file hash, take a pre-restore
    snapshot (so the restore itself can be undone, audit trail included), decrypt into a
    staged copy beside the warehouse and compare it with the manifest, then close every
    pooled connection while keeping new ones out, and only then copy the audit entries
    written since the snapshot into the staged copy (nobody can write one any more), move it
    over the warehouse file in one atomic rename, re-open, migrate (older snapshots get newer
    tables), audit.
    """
    auth.require(user, "restore_backup")
    path = _snapshot_dir(snapshot_id)
    manifest = _manifest(path)
    target = warehouse_file()
    source = path / manifest["file"]
    if _legacy(manifest):
        raise BackupError(
            f"Snapshot {snapshot_id} was taken before snapshots were encrypted and "
            "signed; its manifest cannot be trusted, so it is not restored "
            "(docs/operations.md explains how to use it by hand)."
        )
    if not backup_crypto.signature_ok(manifest):
        raise BackupError(
            f"Snapshot {snapshot_id} has a manifest whose signature does not match "
            "(altered, or signed with another C360_HASH_KEY); not restored."
        )
    if _sha256(source) != manifest["file_sha256"]:
        raise BackupError(f"Snapshot {snapshot_id} is damaged (file hash differs); not restored.")
    # The snapshot being restored must survive the retention run of the pre-restore snapshot.
    safety = create(user, kind="pre-restore", note=f"before restoring {snapshot_id}", protect=(snapshot_id,))
    staging = target.with_name(target.name + ".restoring")
    staging.unlink(missing_ok=True)  # left by a restore that crashed
    try:
        backup_crypto.decrypt_file(source, staging)
    except backup_crypto.SnapshotCryptoError as exc:
        raise BackupError(f"Snapshot {snapshot_id} cannot be decrypted: {exc} Not restored.") from exc
    try:
        check = _compare(snapshot_id, manifest, file_checksums(staging))
        if not check.passed:
            raise BackupError(
                f"Snapshot {snapshot_id} does not match its manifest "
                f"({', '.join(t.table for t in check.tables if not t.ok)}); "
                "not restored."
            )
        with _open_file(staging, read_only=False) as con:
            since = con.execute("SELECT max(occurred_at) FROM audit_log").fetchone()[0] or datetime.min
            # Most entries since the snapshot are carried while the app runs on; the rest,
            # once nobody can write, so the pause stays short and nothing is lost.
            carried = _carry_audit_trail(con, since)
            with _warehouse_closed(wait_seconds):
                # Writers are shut out from here on: every audit entry the old file will ever
                # hold is in it now, and the ones not carried yet are carried now.
                carried += _carry_audit_trail(con, since, closed_live=target)
                con.close()  # checkpoints the staged file
                _fsync(staging)
                wal = target.with_name(target.name + ".wal")
                if wal.exists():  # a stale log must never be replayed onto the restored file
                    wal.rename(target.with_name(target.name + ".wal.replaced-" + safety["id"]))
                os.replace(staging, target)
                _fsync(target.parent)
    finally:
        staging.unlink(missing_ok=True)
    settings.forget()  # the restored file has its own settings
    auth.forget_user_rows()  # ... and its own accounts
    applied = warehouse.migrate()
    detail = {
        "pre_restore_snapshot": safety["id"],
        "snapshot_created_at": manifest["created_at"],
        "tables": len(manifest["tables"]),
        "migrations_applied": applied,
        "audit_entries_carried": carried,
    }
    audit.record(None, user, "backup.restore", "backup", snapshot_id, detail=detail)
    return {"restored": snapshot_id, **detail}


def _carry_audit_trail(con: duckdb.DuckDBPyConnection, since, closed_live: Path | None = None) -> int:
    """Copy the audit entries written since the snapshot (`since`: the newest entry it holds)
    into the staged file open on `con`. Returns how many were added.

    Going back to a snapshot must not erase the evidence of what happened after it (reveals,
    exports, the restore decision itself). First called while the app runs: the entries are
    read through the pool, those the snapshot already holds are skipped, and the ids of every
    entry seen are kept. Then called with `closed_live` once every pooled connection is closed
    and new ones wait: the closed warehouse file is attached read-only and the entries not
    seen the first time (written meanwhile) are carried, so none can be written to the old
    file after this copy, and the pause costs one scan of ids instead of a full comparison.
    """
    before = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    if closed_live is None:
        con.execute("CREATE OR REPLACE TEMP TABLE carried_seen (audit_id BIGINT)")
        carried = warehouse.read("backup_audit_since", since=since)
        if carried.empty:
            return 0
        con.register("live_audit_log", carried)
        try:
            con.execute(warehouse.query("backup_carry_audit"), {"since": since})
            con.execute("INSERT INTO carried_seen SELECT audit_id FROM live_audit_log")
        finally:
            con.unregister("live_audit_log")
    else:
        con.execute("ATTACH '" + str(closed_live).replace("'", "''") + "' AS live (READ_ONLY)")
        try:
            con.execute(warehouse.query("backup_carry_audit_rest"), {"since": since})
        finally:
            con.execute("DETACH live")
    return int(con.execute("SELECT count(*) FROM audit_log").fetchone()[0] - before)


@contextmanager
def _warehouse_closed(wait_seconds: float) -> Iterator[None]:
    """warehouse.closed() with its busy error told as a backup problem."""
    try:
        with warehouse.closed(wait_seconds):
            yield
    except warehouse.WarehouseBusyError as exc:
        raise BackupError(f"{exc} Nothing was changed.") from exc
