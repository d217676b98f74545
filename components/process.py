"""Process-wide tuning of the app's Python process (shared by every session, not session state)."""
from __future__ import annotations

import gc
import sys
import threading

FREEZE_AFTER_NEW_MODULES = 25  # freeze again once this many modules were imported since the last freeze

_lock = threading.Lock()
_modules_at_freeze = 0


def freeze_long_lived_objects() -> bool:
    """After new modules were imported (pandas, scipy, torch, SDV: ~400,000 objects), move every object alive
    into the garbage collector's permanent generation, so later collections scan only what runs create; returns
    True when it froze.

    Frozen objects are still freed by reference counting; only a reference cycle among them is never
    collected, and freezes happen a few times per process (when a page first imports a library), so what can
    be kept that way is bounded."""
    global _modules_at_freeze
    if len(sys.modules) - _modules_at_freeze < FREEZE_AFTER_NEW_MODULES:
        return False
    with _lock:
        if len(sys.modules) - _modules_at_freeze < FREEZE_AFTER_NEW_MODULES:
            return False
        gc.collect(1)  # the young generations' garbage is not worth keeping (cheap: old objects are not scanned)
        gc.freeze()
        _modules_at_freeze = len(sys.modules)
        return True
