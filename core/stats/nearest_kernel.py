"""The fused C kernel of core.stats.nearest (nearest_kernel.c): compiled at first use with the machine's C compiler
(-O3 -march=native, so AVX-512 where the CPU has it), cached by source, compiler and CPU, loaded with ctypes.

When no compiler is found or the build fails, `load_kernel()` returns None and `kernel_status()` says why; the
search then uses torch's block products (core.stats.nearest). The compiled library lives in
$REVIEW_DESK_CACHE/native (else .cache/native beside the project); a file that cannot be written there is
built in the system's temporary folder instead.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("nearest_kernel.c")
FLAG_SETS = (("-O3", "-march=native"), ("-O3",))  # the second for compilers without -march=native
COMPILE_TIMEOUT_SECONDS = 120

_STATUS = {"text": "not loaded yet"}


@dataclass(frozen=True)
class Kernel:
    """A loaded kernel: panel width NR, query tile MR, whether it runs on AVX-512, and where it was built from."""

    library: ctypes.CDLL
    nr: int
    mr: int
    avx512: bool
    path: Path
    flags: tuple[str, ...]

    def scan(self, panels: np.ndarray, dims: int, query_m2: np.ndarray, value: np.ndarray, index: np.ndarray,
             threshold: np.ndarray, block_panels: int, box: np.ndarray | None = None,
             tile_box: np.ndarray | None = None, offset: np.ndarray | None = None, n_valid: int | None = None,
             seed_start: np.ndarray | None = None, seeds: int = 0, shrink: float = 1.0,
             slack: float = 0.0) -> int:
        """Update the running top-m (value, index, threshold: the kept maximum) of every query row against every
        reference panel; with `box`, skip the panels proven unable to enter (nearest_kernel.c's nearest_scan).
        Arrays are C-contiguous, the query rows a multiple of MR. Returns the (tile, panel) pairs scored."""
        n_box = 0 if box is None else len(box) // 2
        work = np.empty(block_panels)
        pruned = box is not None
        return int(self.library.nearest_scan(
            panels.ctypes.data, len(panels), dims, query_m2.ctypes.data, len(query_m2), value.shape[1],
            value.ctypes.data, index.ctypes.data, threshold.ctypes.data, block_panels,
            box.ctypes.data if pruned else None, n_box, tile_box.ctypes.data if pruned else None,
            offset.ctypes.data if pruned else None, len(query_m2) if n_valid is None else n_valid,
            seed_start.ctypes.data if pruned and seeds else None, seeds if pruned else 0, shrink, slack,
            work.ctypes.data))


def compiler() -> str | None:
    """$CC, else cc, else gcc, else None."""
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def _cpu_signature() -> str:
    """What -march=native depends on: the machine and, on Linux, the CPU's feature flags."""
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            flags = next((line for line in info if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()} {flags}"


def _library_dir() -> Path:
    """$REVIEW_DESK_CACHE/native (the demo files' cache), created if needed."""
    from core.demo import default_cache_dir

    return default_cache_dir() / "native"


def build(cc: str, flags: tuple[str, ...], source: Path = SOURCE, folder: Path | None = None) -> Path:
    """Compile `source` into a shared library named by its key (reused when present); raises on failure."""
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    key = hashlib.sha256("\0".join([source.read_text(), cc, version, " ".join(flags), _cpu_signature()])
                         .encode()).hexdigest()[:20]
    suffix = ".dll" if os.name == "nt" else ".so"
    folders = [folder] if folder is not None else [_library_dir(), Path(tempfile.gettempdir()) / "review-desk"]
    for where in folders:
        try:
            where.mkdir(parents=True, exist_ok=True)
            target = where / f"nearest_kernel-{key}{suffix}"
            if target.exists():
                return target
            handle, partial = tempfile.mkstemp(suffix=suffix, dir=where)  # then renamed: other processes
            os.close(handle)                                                # never load a half-written file
            break
        except OSError:
            continue
    else:
        raise OSError("no writable folder for the compiled kernel")
    try:
        done = subprocess.run([cc, *flags, "-shared", "-fPIC", "-o", partial, str(source)], capture_output=True,
                              text=True, timeout=COMPILE_TIMEOUT_SECONDS)
        if done.returncode != 0:
            raise RuntimeError(f"{cc} {' '.join(flags)} failed: {done.stderr.strip()[:500]}")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


def open_kernel(path: Path, flags: tuple[str, ...]) -> Kernel:
    """Load a built library and declare its functions."""
    library = ctypes.CDLL(str(path))
    for name in ("nearest_nr", "nearest_mr", "nearest_avx512"):
        getattr(library, name).restype = ctypes.c_int64
        getattr(library, name).argtypes = []
    pointer, integer, real = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
    library.nearest_scan.restype = integer
    library.nearest_scan.argtypes = [pointer, integer, integer, pointer, integer, integer, pointer, pointer, pointer,
                                     integer, pointer, integer, pointer, pointer, integer, pointer, integer, real,
                                     real, pointer]
    return Kernel(library, int(library.nearest_nr()), int(library.nearest_mr()), bool(library.nearest_avx512()),
                  path, flags)


@functools.lru_cache(maxsize=1)
def load_kernel() -> Kernel | None:
    """The kernel built for this machine (built once, then cached on disk), or None when it cannot be built."""
    cc = compiler()
    if cc is None:
        _STATUS["text"] = "no C compiler found ($CC, cc, gcc): torch block products are used"
        return None
    problems = []
    for flags in FLAG_SETS:
        try:
            kernel = open_kernel(build(cc, flags), flags)
        except (OSError, RuntimeError, subprocess.SubprocessError, AttributeError) as error:
            problems.append(str(error))
            continue
        _STATUS["text"] = (f"fused C kernel ({cc} {' '.join(flags)}; "
                           f"{'AVX-512' if kernel.avx512 else 'generic vectors'}, tile {kernel.mr} x {kernel.nr})")
        return kernel
    _STATUS["text"] = "the C kernel could not be built (" + "; ".join(problems) + "): torch block products are used"
    return None


def kernel_status() -> str:
    """How the last `load_kernel()` went, in one line."""
    return _STATUS["text"]
