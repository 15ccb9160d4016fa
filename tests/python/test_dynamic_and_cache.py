"""Dynamic shapes end to end (automatic, jit(dynamic=...), mark_dynamic) and the persistent
object cache across processes. Every result is compared with eager NumPy."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np

import tracejit
from conftest import assert_same


def _poly(a, b):
    return np.maximum(a * b, b) - 0.5 * a + b * b / (a * a + 1.0)


def test_hundred_batch_sizes_compile_at_most_twice():
    f = tracejit.jit(_poly, hot=0, sync=True)
    rng = np.random.default_rng(0)
    for n in range(2, 102):
        a = rng.standard_normal((n, 8)).astype(np.float32)
        b = rng.standard_normal((n, 8)).astype(np.float32)
        assert_same(_poly(a, b), f(a, b))
    s = f.stats()
    assert s["compiles"] <= 2, s
    assert s["compiled_calls"] >= 98, s
    assert s["fallback_calls"] <= 2, s


def test_sizes_zero_and_one_stay_specialized():
    f = tracejit.jit(_poly, hot=0, sync=True)
    for n in (3, 5, 7):
        a, b = np.ones((n, 4)), np.full((n, 4), 2.0)
        assert_same(_poly(a, b), f(a, b))
    compiles = f.stats()["compiles"]
    for n in (0, 1):
        a, b = np.ones((n, 4)), np.full((n, 4), 2.0)
        assert_same(_poly(a, b), f(a, b))
    # s >= 2 guards: sizes 0 and 1 do not match the dynamic version; each gets its own compile.
    assert f.stats()["compiles"] == compiles + 2, f.stats()


def test_broadcast_against_static_dims():
    f = tracejit.jit(lambda x, row, col: x * row + col, hot=0, sync=True)
    for n in (4, 9, 31, 100):
        x = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
        row = np.array([[1.0, -2.0, 0.5]])
        col = np.arange(n, dtype=np.float64).reshape(n, 1)
        assert_same(x * row + col, f(x, row, col))
    assert f.stats()["compiles"] <= 2


def test_jit_dynamic_true_compiles_once():
    f = tracejit.jit(_poly, hot=0, sync=True, dynamic=True)
    for n in (2, 3, 50, 1000, 123457):
        a = np.linspace(-1, 1, n)
        b = np.linspace(2, -3, n)
        assert_same(_poly(a, b), f(a, b))
    assert f.stats()["compiles"] == 1, f.stats()


def test_dynamic_false_keeps_static():
    f = tracejit.jit(_poly, hot=0, sync=True, dynamic=False)
    for n in (2, 3, 4, 5):
        a, b = np.ones(n), np.arange(n, dtype=np.float64)
        assert_same(_poly(a, b), f(a, b))
    assert f.stats()["compiles"] == 4, f.stats()


def test_mark_dynamic():
    f = tracejit.jit(lambda a: a * 2.0 + 1.0, hot=0, sync=True, dynamic=False)
    g = tracejit.jit(lambda a: a * 2.0 + 1.0, hot=0, sync=True)
    for n in (5, 6, 70):
        a = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
        tracejit.mark_dynamic(a, 0)
        assert_same(a * 2.0 + 1.0, g(a))
    assert g.stats()["compiles"] == 1, g.stats()
    del f


def test_dynamic_reductions_compile_once():
    # Reductions go through the scheduler, which takes runtime sizes too: one version serves
    # every batch size (the reduced axis is static here, the batch axis a runtime size).
    f = tracejit.jit(lambda a: (a * 2.0).sum(axis=1), hot=0, sync=True, dynamic=True)
    for n in (4, 5, 6, 17):  # never 3: equal sizes would share one symbol (and be guarded equal)
        a = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
        assert_same((a * 2.0).sum(axis=1), f(a))
    assert f.stats()["compiles"] == 1, f.stats()


_CHILD = textwrap.dedent(
    """
    import json
    import numpy as np
    import tracejit

    def g(a, b):
        return np.maximum(a * b, b) - 0.5 * a + np.tanh(b) * 3.0 - a / (b * b + 1.0)

    f = tracejit.jit(g, hot=0, sync=True)
    a = np.linspace(-2, 2, 1000)
    b = np.linspace(3, -1, 1000)
    r = f(a, b)
    s = f.stats()
    print(json.dumps({"cache_hits": s["cache_hits"], "compiles": s["compiles"],
                      "sum": float(np.sum(r)), "ok": bool(np.allclose(r, g(a, b), rtol=1e-14, atol=0))}))
    """
)


def _run_child(cache_dir, **env_overrides):
    env = dict(os.environ, TRACEJIT_CACHE_DIR=str(cache_dir), TRACEJIT_SYNC="1", **env_overrides)
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_hits_the_cache(tmp_path):
    first = _run_child(tmp_path)
    assert first["compiles"] == 1 and first["cache_hits"] == 0, first
    assert any(p.suffix == ".tjo" for p in tmp_path.iterdir())
    second = _run_child(tmp_path)
    assert second["compiles"] == 1 and second["cache_hits"] == 1, second
    assert second["sum"] == first["sum"]
    assert first["ok"] and second["ok"]


def test_empty_cache_dir_disables(tmp_path):
    for _ in range(2):
        r = _run_child("", HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path))
        assert r["cache_hits"] == 0 and r["ok"], r
    assert not any(tmp_path.rglob("*.tjo"))
