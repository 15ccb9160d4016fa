"""Shared set-up of the benchmark scripts: synchronous compiles, and the developer build when
python/tracejit/ holds one for this Python (`_tracejit.<abi>.so`), else the installed package."""
import importlib.machinery
import os
import pathlib
import sys

os.environ.setdefault("TRACEJIT_SYNC", "1")
_SRC = pathlib.Path(__file__).resolve().parents[1] / "python"
#: python/ when it holds a developer build for this Python (subprocesses need it too), else None.
#: An explicit PYTHONPATH entry holding a tracejit package (a private developer build) wins.
_EXPLICIT = any(d and (pathlib.Path(d) / "tracejit" / "__init__.py").exists()
                for d in os.environ.get("PYTHONPATH", "").split(os.pathsep))
DEV_PATH = None if _EXPLICIT else str(_SRC) if any((_SRC / "tracejit" / ("_tracejit" + sfx)).exists()
                            for sfx in importlib.machinery.EXTENSION_SUFFIXES) else None
if DEV_PATH:
    sys.path.insert(0, DEV_PATH)


def time_alternating(first, second, runs):
    """Median ms of `first()` and of `second()` over `runs` rounds of first then second, each
    call of `second` right after one of `first` (NumPy's call, then tracejit's)."""
    import statistics
    import time
    t_first, t_second = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        first()
        t1 = time.perf_counter()
        second()
        t2 = time.perf_counter()
        t_first.append(t1 - t0)
        t_second.append(t2 - t1)
    return statistics.median(t_first) * 1e3, statistics.median(t_second) * 1e3
