"""The runtime: background compilation, threads, logging and cache introspection."""
import logging
import threading
import time

import numpy as np

import tracejit
from conftest import assert_same


def test_background_compilation_switches_to_compiled_code():
    f = tracejit.jit(lambda a, b: a * b + 1.0, hot=0, sync=False)
    a, b = np.arange(1000.0), np.full(1000, 2.0)
    deadline = time.time() + 60
    while f.stats()["compiled_calls"] == 0 and time.time() < deadline:
        assert_same(a * b + 1.0, f(a, b))   # eager while LLVM works in the background
        time.sleep(0.001)
    s = f.stats()
    assert s["compiled_calls"] > 0 and s["compiles"] == 1, s
    assert s["calls"] == s["compiled_calls"] + s["fallback_calls"]


def test_threads_share_one_function_under_changing_signatures():
    f = tracejit.jit(lambda a, b: np.maximum(a * b, b) - 0.5 * a, hot=1, recompile_limit=12)
    shapes = [(7,), (64,), (3, 5), (40_000,)]
    dtypes = [np.float32, np.float64, np.int32]
    errors = []

    def worker(seed):
        rng = np.random.default_rng(seed)
        try:
            for i in range(60):
                shape = shapes[rng.integers(len(shapes))]
                dt = dtypes[rng.integers(len(dtypes))]
                a = rng.standard_normal(shape).astype(dt)
                b = rng.standard_normal(shape).astype(dt)
                got = f(a, b)
                want = np.maximum(a * b, b) - 0.5 * a
                assert got.dtype == want.dtype and got.shape == want.shape
                assert np.array_equal(got, want), (shape, dt)
        except Exception as e:  # collected: asserting in threads is invisible to pytest
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    s = f.stats()
    assert s["calls"] == 8 * 60
    assert s["calls"] == s["compiled_calls"] + s["fallback_calls"], s
    assert s["compiles"] <= 12 and s["compiled_calls"] > 0, s


def test_cache_info_lists_versions_with_guards():
    f = tracejit.jit(lambda a: a + 1, hot=0)
    f(np.ones(3))
    f(np.ones(4, np.float32))
    info = f.cache_info()
    assert len(info) == 2
    assert any("shape (3,)" in g for g in info[0]["guards"])
    assert info[1]["hits"] == 1 and info[1]["compile_ms"] > 0 and "func @" in info[1]["ir"]


def test_recompile_reasons_go_to_the_tracejit_logger(monkeypatch, caplog):
    monkeypatch.setenv("TRACEJIT_LOG", "recompiles")
    f = tracejit.jit(lambda a: a * 2, hot=0)
    with caplog.at_level(logging.INFO, logger="tracejit"):
        f(np.ones(4))
        f(np.ones(8))
    assert any("shape[0]: expected 4, got 8" in r.getMessage() for r in caplog.records), caplog.text


def test_hundred_learning_rates_compile_once():
    f = tracejit.jit(lambda w, g, lr: w - lr * g, hot=0)
    w, g = np.ones(16), np.full(16, 0.5)
    for i in range(100):
        lr = 0.001 * (i + 1)
        assert_same(w - lr * g, f(w, g, lr))
    assert f.stats()["compiles"] == 1


def test_dropping_a_function_while_it_compiles_in_the_background():
    # The compile thread then holds the last reference to the cache entry (which owns Python
    # references); it must release it safely.
    for i in range(20):
        f = tracejit.jit(lambda a, b: np.tanh(a * b) + float(i), hot=0, sync=False)
        a = np.ones(64)
        assert_same(np.tanh(a * a) + float(i), f(a, a), rtol=1e-14)
        if i % 2:
            f.reset()
        del f
    tracejit.wait_for_compiles()
