"""Large results come from the result-buffer pool (jit/buffer_pool.cpp): freed blocks are reused
by later calls. The arrays must stay ordinary NumPy arrays that own their data, and no two live
results may share memory."""
import gc
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import tracejit

N = 1 << 19  # 4 MiB of float64: above the pool's 1 MiB threshold


def chain(a, b):
    return a * b + a


@pytest.fixture
def jchain():
    return tracejit.jit(chain, hot=0, sync=True)


def test_results_are_owned_and_correct(jchain):
    a = np.linspace(-3, 3, N)
    b = np.cos(a)
    r = jchain(a, b)
    np.testing.assert_array_equal(r, chain(a, b))
    assert r.flags.owndata and r.flags.writeable and r.flags.c_contiguous
    assert r.base is None


def test_freed_block_is_reused_and_live_results_are_distinct(jchain):
    a = np.arange(N, dtype=np.float64)
    b = np.full(N, 2.0)
    r1 = jchain(a, b)
    r2 = jchain(a, b)
    assert not np.shares_memory(r1, r2)
    r2[:] = -1  # writing one result leaves the other alone
    np.testing.assert_array_equal(r1, chain(a, b))
    before = tracejit.memory_info()
    del r2
    gc.collect()
    after_free = tracejit.memory_info()
    assert after_free["cached_blocks"] >= 1
    r3 = jchain(a, b)
    after = tracejit.memory_info()
    assert after["pool_hits"] == before["pool_hits"] + 1
    np.testing.assert_array_equal(r3, chain(a, b))  # a reused block holds this call's values
    assert not np.shares_memory(r1, r3)


def test_resize_and_pickle(jchain):
    a = np.ones(N)
    r = jchain(a, a)
    r.resize(2 * N, refcheck=False)  # NumPy reallocates through the array's own handler
    assert r.shape == (2 * N,)
    np.testing.assert_array_equal(r[:N], 2.0)
    np.testing.assert_array_equal(r[N:], 0.0)
    r.resize(10, refcheck=False)
    np.testing.assert_array_equal(r, 2.0)
    s = jchain(a, a)
    t = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(t, s)


def test_small_results_and_release(jchain):
    small = jchain(np.ones(8), np.ones(8))  # below the threshold: NumPy's allocator
    np.testing.assert_array_equal(small, 2.0)
    r = jchain(np.ones(N), np.ones(N))
    del r
    gc.collect()
    assert tracejit.memory_info()["cached_bytes"] > 0
    tracejit.release_memory()
    info = tracejit.memory_info()
    assert info["cached_bytes"] == 0 and info["cached_blocks"] == 0


def test_pool_can_be_turned_off():
    code = (
        "import gc, numpy as np, tracejit\n"
        "f = tracejit.jit(lambda a: a * 2.0, hot=0, sync=True)\n"
        f"a = np.ones({N})\n"
        "for _ in range(3):\n"
        "    r = f(a); assert (r == 2.0).all(); del r; gc.collect()\n"
        "i = tracejit.memory_info()\n"
        "print(i['limit_bytes'], i['pool_hits'], i['pool_misses'], i['cached_bytes'])\n"
    )
    env = dict(os.environ, TRACEJIT_POOL_MB="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["0", "0", "0", "0"]


def test_pooled_result_shares_the_inputs_page_offset(jchain):
    # The kernel aligns its (non-temporal) stores to the output: an output at the inputs' offset
    # within a 64-byte line keeps the input loads from splitting lines, and at their offset
    # within a 4 KiB page no input load falsely waits on an output store (4K aliasing).
    base = np.empty(N + 1024, dtype=np.float64)
    for shift in (0, 2, 5, 100, 511):
        a = base[shift:shift + N]
        a[:] = 1.5
        r = jchain(a, a)
        assert r.ctypes.data % 4096 == a.ctypes.data % 4096
        np.testing.assert_array_equal(r, chain(a, a))
