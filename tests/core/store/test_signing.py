"""The server signing key: where it lives, created once with 0600, refused when others can read it."""
from __future__ import annotations

import os
import stat
import threading

import pytest

from core.store.errors import StoreError
from core.store.signing import (
    EVENT_DOMAIN,
    KEY_ENV,
    forget_keys,
    load_signing_key,
    public_key_fingerprint,
    sign_text,
    signature_ok,
    signing_key_path,
)


@pytest.fixture(autouse=True)
def _no_cached_keys(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    forget_keys()
    yield
    forget_keys()


def test_key_path_rules(tmp_path, monkeypatch):
    assert signing_key_path(f"sqlite:///{tmp_path}/desk.sqlite3") == tmp_path / "desk.sqlite3.signing-key"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert signing_key_path("postgresql+psycopg://u:p@h/db") == tmp_path / "cfg" / "review-desk" / "signing-key"
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "server.key"))
    assert signing_key_path(f"sqlite:///{tmp_path}/desk.sqlite3") == tmp_path / "server.key"


def test_created_once_with_0600_and_never_by_a_reader(tmp_path):
    url = f"sqlite:///{tmp_path}/desk.sqlite3"
    with pytest.raises(StoreError, match="does not exist"):
        load_signing_key(url)  # verify and gate never create a key
    keys = []
    threads = [threading.Thread(target=lambda: keys.append(load_signing_key(url, create=True))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    path = tmp_path / "desk.sqlite3.signing-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len({public_key_fingerprint(k) for k in keys}) == 1  # concurrent first writers agree on one key
    forget_keys()
    again = load_signing_key(url, create=True)
    assert public_key_fingerprint(again) == public_key_fingerprint(keys[0])
    assert [p.name for p in tmp_path.iterdir()] == ["desk.sqlite3.signing-key"]  # no temp files left


def test_readable_key_is_refused_and_signatures_bind_the_text(tmp_path):
    url = f"sqlite:///{tmp_path}/desk.sqlite3"
    key = load_signing_key(url, create=True)
    signature = sign_text(key, EVENT_DOMAIN, "a" * 64)
    assert signature_ok(key.public_key(), EVENT_DOMAIN, "a" * 64, signature)
    assert not signature_ok(key.public_key(), EVENT_DOMAIN, "b" * 64, signature)
    assert not signature_ok(key.public_key(), "other-domain:", "a" * 64, signature)
    assert not signature_ok(key.public_key(), EVENT_DOMAIN, "a" * 64, None)
    os.chmod(tmp_path / "desk.sqlite3.signing-key", 0o644)
    forget_keys()
    with pytest.raises(StoreError, match="readable by other users"):
        load_signing_key(url)
