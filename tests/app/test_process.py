"""The app's process settings: no full garbage collection after each run; long-lived objects frozen once."""
from __future__ import annotations

import gc
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_streamlit_does_not_collect_garbage_after_every_run():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_freeze_only_after_new_modules(monkeypatch):
    from components import process

    monkeypatch.setattr(process, "_modules_at_freeze", len(sys.modules))
    assert not process.freeze_long_lived_objects()  # nothing imported since
    monkeypatch.setattr(process, "_modules_at_freeze", len(sys.modules) - process.FREEZE_AFTER_NEW_MODULES)
    before = gc.get_freeze_count()
    try:
        assert process.freeze_long_lived_objects()
        assert gc.get_freeze_count() > before
        assert not process.freeze_long_lived_objects()
    finally:
        gc.unfreeze()  # this test process keeps collecting as usual
