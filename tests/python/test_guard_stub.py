"""Guard stubs end to end: compiled dispatch gives the same answers with stubs on and off."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tracejit

SCRIPT = r"""
import numpy as np, tracejit

@tracejit.jit
def f(a, b, s):
    return a * b + s

def run():
    out = []
    x32 = np.arange(4, dtype=np.float32)
    x64 = np.arange(4, dtype=np.float64)
    swapped = x32.astype(x32.dtype.newbyteorder())
    strided = np.arange(8, dtype=np.float32)[::2]
    unaligned = np.zeros(17, np.uint8)[1:].view(np.float32)
    calls = [(x32, x32, 1.0), (x32, x32, 2.0), (x64, x64, 1.0), (x32, x32, 3),
             (swapped, x32, 1.0), (strided, x32, 1.0), (unaligned, x32, 1.0),
             (x32.reshape(2, 2), x32.reshape(2, 2), 0.5), (x32, x32, 1.0)]
    for _ in range(3):
        for a, b, s in calls:
            r = f(a, b, s)
            assert np.array_equal(r, a * b + s), (a, b, s)
            out.append(repr(r))
    st = f.stats() if hasattr(f, "stats") else None
    return out

print("\n".join(run()))
"""


def run_with(stubs: str) -> str:
    env = dict(os.environ, TRACEJIT_GUARD_STUBS=stubs)
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_stubs_on_and_off_agree():
    assert run_with("1") == run_with("0")


def test_stub_logging_shows_machine_code():
    env = dict(os.environ, TRACEJIT_LOG="stubs")
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "guard stub:" in r.stderr and "cmp" in r.stderr
