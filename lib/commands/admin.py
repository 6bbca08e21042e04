"""Admin commands: backup create|list|restore|verify|drill, keys rotate, users ..., privacy export|erase.

They run as the system user (auth.SYSTEM, an admin) and are audited like the admin pages. A
running app holds the warehouse file, so these need the app stopped (the lock error says so);
the admin pages do the same work while the app runs.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path

from lib.security import auth, privacy
from lib.admin import backup, users


def register(subparsers) -> None:
    p = subparsers.add_parser("backup", help="snapshots of the warehouse (credentials included)")
    sub = p.add_subparsers(dest="backup_command", required=True, metavar="ACTION")
    c = sub.add_parser("create", help="take a snapshot, then apply the retention setting")
    c.add_argument("--note", default=None)
    c.set_defaults(func=cmd_backup_create)
    c = sub.add_parser("list", help="list snapshots, newest first")
    c.set_defaults(func=cmd_backup_list)
    c = sub.add_parser("verify", help="check a snapshot's file hash, row counts and checksums")
    c.add_argument("snapshot", nargs="?", help="snapshot id (default: the newest)")
    c.set_defaults(func=cmd_backup_verify)
    c = sub.add_parser("drill", help="restore a snapshot to a temporary copy and compare it")
    c.add_argument("snapshot", nargs="?", help="snapshot id (default: the newest)")
    c.set_defaults(func=cmd_backup_drill)
    c = sub.add_parser("restore", help="replace the warehouse with a snapshot")
    c.add_argument("snapshot")
    c.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    c.set_defaults(func=cmd_backup_restore)

    p = subparsers.add_parser("keys", help="field-encryption keys")
    sub = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    c = sub.add_parser("rotate", help="re-encrypt every ID number under the newest key")
    c.add_argument("--batch-size", type=int, default=privacy.ROTATION_BATCH)
    c.set_defaults(func=cmd_keys_rotate)

    p = subparsers.add_parser("users", help="user accounts and the access review")
    sub = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    c = sub.add_parser("list", help="accounts, roles, last login and activity, dormant flag")
    c.set_defaults(func=cmd_users_list)
    c = sub.add_parser("add", help="create an account (password asked for, or C360_NEW_PASSWORD)")
    c.add_argument("username")
    c.add_argument("--name", required=True)
    c.add_argument("--roles", required=True, help="comma-separated: " + ",".join(auth.ROLES))
    c.add_argument("--email", default=None)
    c.set_defaults(func=cmd_users_add)
    c = sub.add_parser("roles", help="replace a user's roles")
    c.add_argument("username")
    c.add_argument("roles", help="comma-separated")
    c.set_defaults(func=cmd_users_roles)
    for name, helptext in (
        ("disable", "disable an account (its sessions end at once)"),
        ("enable", "re-enable an account"),
        ("unlock", "end a lockout after failed logins"),
        ("reset-password", "set a new password (asked for)"),
    ):
        c = sub.add_parser(name, help=helptext)
        c.add_argument("username")
        c.set_defaults(func=cmd_users_action, action=name)
    c = sub.add_parser("permissions", help="print the roles × actions table (docs/security.md)")
    c.set_defaults(func=cmd_users_permissions)

    p = subparsers.add_parser("privacy", help="data-subject requests")
    sub = p.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    c = sub.add_parser("export", help="everything held about one customer, as JSON")
    c.add_argument("customer_id")
    c.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    c.set_defaults(func=cmd_privacy_export)
    c = sub.add_parser("erase", help="anonymise one customer (orders and totals kept)")
    c.add_argument("customer_id")
    c.add_argument("--reason", required=True)
    c.add_argument("--yes", action="store_true")
    c.set_defaults(func=cmd_privacy_erase)


# ---------------------------------------------------------------- helpers


def _confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        print("error: not confirmed (pass --yes when running without a terminal)", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _new_password() -> str:
    value = os.environ.get("C360_NEW_PASSWORD")
    if value:
        return value
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise ValueError("The passwords differ.")
    return first


def _print_check(result: backup.CheckResult) -> int:
    for row in result.rows():
        mark = "ok  " if row["ok"] else "FAIL"
        print(f"  {mark} {row['table']:<28} rows {row['rows_found']!s:>10} / {row['rows_expected']!s:<10}")
    for name, ok in result.checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    for note in result.notes:
        print(f"  note: {note}")
    print(f"snapshot {result.snapshot_id}: {'PASS' if result.passed else 'FAIL'}")
    return 0 if result.passed else 1


def _latest() -> str:
    found = backup.snapshots()
    if not found:
        raise backup.BackupError("There is no snapshot yet: run `backup create` first.")
    return found[0]["id"]


# ---------------------------------------------------------------- backup


def cmd_backup_create(args) -> int:
    m = backup.create(auth.SYSTEM, note=args.note)
    rows = sum(t["rows"] for t in m["tables"].values())
    print(
        f"snapshot {m['id']}: {len(m['tables'])} tables, {rows:,} rows, "
        f"{m['file_bytes'] / 1e6:.1f} MB, {m['credentials']['users']} user account(s) "
        f"in {backup.backup_dir() / m['id']}"
    )
    return 0


def cmd_backup_list(args) -> int:
    rows = backup.list_snapshots(auth.SYSTEM)
    if not rows:
        print(f"no snapshots in {backup.backup_dir()}")
    for r in rows:
        print(
            f"{r['id']}  {r['kind']:<11} {r['created_by']:<10} {r['bytes'] / 1e6:8.1f} MB "
            f"{r['rows']:>12,} rows  {r['note'] or ''}"
        )
    return 0


def cmd_backup_verify(args) -> int:
    return _print_check(backup.verify(auth.SYSTEM, args.snapshot or _latest()))


def cmd_backup_drill(args) -> int:
    return _print_check(backup.drill(auth.SYSTEM, args.snapshot))


def cmd_backup_restore(args) -> int:
    if not _confirm(f"Replace the warehouse with snapshot {args.snapshot}?", args.yes):
        return 1
    result = backup.restore(auth.SYSTEM, args.snapshot)
    print(
        f"restored {result['restored']}; the state before it is snapshot "
        f"{result['pre_restore_snapshot']}; {result['audit_entries_carried']} audit "
        "entr(y/ies) since the snapshot were kept"
    )
    return 0


# ---------------------------------------------------------------- keys


def cmd_keys_rotate(args) -> int:
    result = privacy.rotate_keys(auth.SYSTEM, batch_size=args.batch_size)
    remaining = privacy.undecryptable_with_newest_key()
    print(
        f"re-encrypted {result['rows_rotated']:,} ID number(s) in {result['batches']} batch(es); "
        f"{result['rows_changed_meanwhile']} changed meanwhile (already under the new key); "
        f"{remaining} still need an older key"
    )
    if remaining == 0 and result["keys_configured"] > 1:
        print("every value now decrypts with the newest key: older keys may be removed from C360_FIELD_KEYS")
    return 0 if remaining == 0 else 1


# ---------------------------------------------------------------- users


def cmd_users_list(args) -> int:
    review = users.access_review(auth.SYSTEM)
    for r in review.to_dict("records"):
        flags = " ".join(
            f for f, on in (("DORMANT", r["dormant"]), ("disabled", r["disabled"]), ("locked", r["locked"])) if on
        )
        print(
            f"{r['username']:<12} {','.join(r['roles']):<24} last login {str(r['last_login'])[:16]:<16} "
            f"inactive {r['days_inactive']:>4} d  {flags}"
        )
    return 0


def _roles_arg(text: str) -> list[str]:
    return [r.strip() for r in text.split(",") if r.strip()]


def cmd_users_add(args) -> int:
    name = users.add_user(auth.SYSTEM, args.username, args.name, _roles_arg(args.roles), _new_password(), args.email)
    print(f"created {name}")
    return 0


def cmd_users_roles(args) -> int:
    users.set_roles(auth.SYSTEM, args.username, _roles_arg(args.roles))
    print(f"{args.username}: roles {args.roles}")
    return 0


def cmd_users_action(args) -> int:
    if args.action == "disable":
        users.disable_user(auth.SYSTEM, args.username)
    elif args.action == "enable":
        users.enable_user(auth.SYSTEM, args.username)
    elif args.action == "unlock":
        users.unlock(auth.SYSTEM, args.username)
    else:
        users.reset_password(auth.SYSTEM, args.username, _new_password())
    print(f"{args.username}: {args.action} done")
    return 0


def cmd_users_permissions(args) -> int:
    print(users.permissions_table())
    return 0


# ---------------------------------------------------------------- privacy


def cmd_privacy_export(args) -> int:
    data = privacy.export_subject(auth.SYSTEM, args.customer_id)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if args.out:
        from lib.security import exports

        exports.write_bytes(args.out, text.encode("utf-8"))  # 0600: the person's data, ID decrypted
        print(f"wrote {args.out} ({len(text):,} characters)")
    else:
        print(text)
    return 0


def cmd_privacy_erase(args) -> int:
    if not _confirm(f"Erase customer {args.customer_id}'s personal data? This cannot be undone.", args.yes):
        return 1
    result = privacy.erase_customer(auth.SYSTEM, args.customer_id, args.reason)
    print(f"erased customer {result['customer_id']} ({len(result['records'])} record(s))")
    return 0
