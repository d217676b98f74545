"""The server's Ed25519 signing key: kept in a file outside the database, so database access alone cannot sign.

Path: $REVIEW_DESK_SIGNING_KEY, else `<sqlite file>.signing-key` beside a SQLite store, else
`$XDG_CONFIG_HOME/review-desk/signing-key` (default ~/.config) for a server store. Created on the first write with
0600 permissions; verify and gate never create one (a missing key means nothing can be verified).
"""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import URL, make_url

from core.store.errors import StoreError

KEY_ENV = "REVIEW_DESK_SIGNING_KEY"
KEY_SUFFIX = ".signing-key"
EVENT_DOMAIN = "review-desk-audit/1:"
DECISION_DOMAIN = "review-desk-decision/1:"

_keys: dict[str, Ed25519PrivateKey] = {}
_keys_lock = threading.Lock()


def signing_key_path(url: str | URL) -> Path:
    """Where the signing key of the store at `url` lives (see the module docstring)."""
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV]).expanduser().resolve()
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        db = Path(parsed.database).expanduser().resolve()
        return db.with_name(db.name + KEY_SUFFIX)
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return (config / "review-desk" / "signing-key").resolve()


def _create_key_file(path: Path) -> None:
    """Write a new key to `path` atomically (0600); a concurrent creator wins and its key is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails when the file exists: never overwrite a key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _read_key_file(path: Path) -> Ed25519PrivateKey:
    """The key in `path`; StoreError when it is missing, readable by others or not an Ed25519 key."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise StoreError(f"signing key {path} does not exist (set ${KEY_ENV} to the server's key file)") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StoreError(f"signing key {path} is readable by other users; run chmod 600 on it")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise StoreError(f"signing key {path} cannot be read ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise StoreError(f"signing key {path} is not an Ed25519 private key")
    return key


def load_signing_key(url: str | URL, *, create: bool = False) -> Ed25519PrivateKey:
    """The signing key of the store at `url`, created (0600) when `create` and missing; cached per path."""
    path = signing_key_path(url)
    cache_key = str(path)
    with _keys_lock:
        if cache_key in _keys and path.exists():
            return _keys[cache_key]
        if create and not path.exists():
            _create_key_file(path)
        key = _read_key_file(path)
        _keys[cache_key] = key
        return key


def forget_keys() -> None:
    """Drop cached keys (tests that swap key files)."""
    with _keys_lock:
        _keys.clear()


def session_url(session: Any) -> URL:
    """The URL of the engine a session is bound to."""
    return session.get_bind().url


def sign_text(key: Ed25519PrivateKey, domain: str, text: str) -> str:
    """Hex Ed25519 signature of domain + text."""
    return key.sign((domain + text).encode("utf-8")).hex()


def signature_ok(public: Ed25519PublicKey, domain: str, text: str, signature: str | None) -> bool:
    """True when `signature` (hex) is the key's signature of domain + text."""
    if not signature:
        return False
    try:
        public.verify(bytes.fromhex(signature), (domain + text).encode("utf-8"))
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_fingerprint(key: Ed25519PrivateKey) -> str:
    """Hex of the raw public key (to name which key signed, never the secret)."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
