"""Encryption at rest and the keyed signature of warehouse snapshots (used by lib/admin/backup.py).

File format (``.enc``), streamed so that a multi-GB warehouse never sits in memory::

    header  = b"C360SNAP" | version (1 byte) | key id (16 bytes) | salt (32 bytes)
    records = [length (4 bytes, big-endian) | AES-256-GCM ciphertext + tag] ...

* The file key is HKDF-SHA256(newest field key, salt, info) — a fresh key per file, so the
  counter nonces below never repeat under one key. The key id (an HMAC of a constant under the
  field key) names which configured field key decrypts the file after a rotation.
* Each 4 MiB chunk is sealed with nonce = chunk counter (11 bytes) | last-chunk flag (1 byte)
  and the header as associated data: chunks cannot be reordered, dropped, or the file cut
  short or extended, and the header cannot be swapped, without the tag check failing.
* The manifest's signature is HMAC-SHA256 under HKDF-SHA256(hash key, info): the hash key is
  never rotated, so every snapshot stays verifiable, and it is a different secret from the
  field keys (someone holding only the encryption key still cannot re-sign a manifest).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lib.core import config

MAGIC = b"C360SNAP"
VERSION = 1
CHUNK = 4 << 20
_HEADER = len(MAGIC) + 1 + 16 + 32
_LENGTH = struct.Struct(">I")
_FILE_INFO = b"c360 snapshot file v1"
_KEY_ID_INFO = b"c360 snapshot key id v1"
_MAC_INFO = b"c360 snapshot manifest mac v1"
ALGORITHM = "AES-256-GCM, 4 MiB chunks, key HKDF-SHA256(newest C360_FIELD_KEYS key, per-file salt)"
MAC_ALGORITHM = "HMAC-SHA256, key HKDF-SHA256(C360_HASH_KEY)"


class SnapshotCryptoError(ValueError):
    """A snapshot cannot be decrypted (wrong or missing key, altered or truncated file)."""


def _hkdf(secret: bytes, info: bytes, salt: bytes | None = None) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def _field_secret(key: bytes) -> bytes:
    return base64.urlsafe_b64decode(key)  # the Fernet key's 32 bytes


def key_id(key: bytes) -> bytes:
    return hmac.new(_field_secret(key), _KEY_ID_INFO, hashlib.sha256).digest()[:16]


def current_key_id() -> str:
    return key_id(config.field_keys()[0]).hex()


def _key_for(wanted: bytes) -> bytes:
    for key in config.field_keys():
        if hmac.compare_digest(key_id(key), wanted):
            return key
    raise SnapshotCryptoError(
        f"The snapshot is encrypted with a field key that is not configured (key id "
        f"{wanted.hex()}): put that key back in C360_FIELD_KEYS (after the newest) to read it."
    )


def private_file(path: Path):
    """Open a new file for writing, created 0600 (fails if it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def encrypt_file(source: Path, target: Path) -> int:
    """Encrypt `source` into a new file `target` (0600), chunk by chunk; returns its size."""
    key = config.field_keys()[0]
    salt = secrets.token_bytes(32)
    header = MAGIC + bytes([VERSION]) + key_id(key) + salt
    aead = AESGCM(_hkdf(_field_secret(key), _FILE_INFO, salt))
    with source.open("rb") as src, private_file(target) as out:
        out.write(header)
        counter = 0
        chunk = src.read(CHUNK)
        while True:
            following = src.read(CHUNK) if chunk else b""
            last = not following
            sealed = aead.encrypt(_nonce(counter, last), chunk, header)
            out.write(_LENGTH.pack(len(sealed)))
            out.write(sealed)
            if last:
                break
            chunk, counter = following, counter + 1
        out.flush()
        os.fsync(out.fileno())
    return target.stat().st_size


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def decrypt_file(source: Path, target: Path) -> None:
    """Decrypt `source` into a new file `target` (0600); SnapshotCryptoError if anything is off."""
    try:
        with source.open("rb") as src, private_file(target) as out:
            header = src.read(_HEADER)
            if len(header) != _HEADER or not header.startswith(MAGIC) or header[8] != VERSION:
                raise SnapshotCryptoError("The snapshot file is not an encrypted snapshot (unknown header).")
            aead = AESGCM(_hkdf(_field_secret(_key_for(header[9:25])), _FILE_INFO, header[25:]))
            counter = 0
            record = _read_record(src)
            while record is not None:
                following = _read_record(src)
                try:
                    out.write(aead.decrypt(_nonce(counter, following is None), record, header))
                except InvalidTag:
                    raise SnapshotCryptoError(
                        "The snapshot file was altered, truncated or extended (chunk "
                        f"{counter} fails its authentication tag)."
                    ) from None
                record, counter = following, counter + 1
            if counter == 0:
                raise SnapshotCryptoError("The snapshot file holds no data.")
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _read_record(src) -> bytes | None:
    raw = src.read(_LENGTH.size)
    if not raw:
        return None
    if len(raw) != _LENGTH.size:
        raise SnapshotCryptoError("The snapshot file is truncated.")
    (size,) = _LENGTH.unpack(raw)
    if size > CHUNK + 16:
        raise SnapshotCryptoError("The snapshot file is damaged (a chunk is too large).")
    data = src.read(size)
    if len(data) != size:
        raise SnapshotCryptoError("The snapshot file is truncated.")
    return data


# ---------------------------------------------------------------- manifest signature


def _canonical(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "mac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(manifest: dict) -> dict:
    """The manifest with its `mac` (over every other field)."""
    mac = hmac.new(_hkdf(config.hash_key(), _MAC_INFO), _canonical(manifest), hashlib.sha256)
    return {**manifest, "mac": {"algorithm": MAC_ALGORITHM, "value": mac.hexdigest()}}


def signature_ok(manifest: dict) -> bool:
    found = (manifest.get("mac") or {}).get("value")
    if not isinstance(found, str):
        return False
    return hmac.compare_digest(sign(manifest)["mac"]["value"], found)
