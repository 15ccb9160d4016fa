"""np.linspace and float np.arange compiled: NumPy's own formula (i * step + start in the
computing precision, arange's first two values and linspace's endpoint stored), kept only where
it reproduces NumPy's values bit for bit -- otherwise a graph break runs the call eagerly."""
import numpy as np
import pytest

from conftest import jit_now

COMPILED = [
    "np.linspace(0, 1, 8)",
    "np.linspace(0, 1, 8, endpoint=False)",
    "np.linspace(-3.5, 7.25, 1000)",
    "np.linspace(0.1, 0.7, 100)",
    "np.linspace(1, 0, 7)",
    "np.linspace(0, 1, 1)",
    "np.linspace(0, 1, 0)",
    "np.linspace(0, 1, num=5, dtype=np.float32)",
    "np.linspace(np.float32(0), np.float32(1), 9)",
    "np.linspace(0, 10, 11, dtype=int)",
    "np.linspace(-1e300, 1e300, 5)",
    "np.linspace(0, 1e-320, 4)",
    "np.linspace(-0.0, 0.0, 1)",
    "np.arange(0, 1, 0.1)",
    "np.arange(0.5, 10.0)",
    "np.arange(5.0)",
    "np.arange(0, 1, 0.1, dtype=np.float32)",
    "np.arange(1e16, 1e16 + 10)",
    "np.arange(-1, 1, 0.3)",
    "np.arange(0, -1, -0.07)",
    "np.arange(3, dtype=float)",
    "np.arange(0.0, 2**25, 1.0, dtype=np.float32)[-5:]",
]

# NumPy computes these another way (a zero step divides first; retstep returns a tuple).
BREAKS = ["np.linspace(2, 2, 5)", "np.linspace(0, 1, 5, retstep=True)[0]"]


def run(expr, x):
    ns = {"np": np}
    exec(f"def f(x):\n    return {expr} + x\n", ns)
    f = ns["f"]
    jf = jit_now(f)
    want, got = f(x), jf(x)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8)), (got, want)  # bit for bit
    return jf.stats()


@pytest.mark.parametrize("expr", COMPILED)
def test_compiled_bit_exact(expr):
    s = run(expr, 0.0)
    assert s["compiled_calls"] == 1 and not s["graph_break_reasons"] and not s["fallback_reasons"], s


@pytest.mark.parametrize("expr", BREAKS)
def test_other_formulas_run_eagerly(expr):
    s = run(expr, 0.0)
    assert s["graph_breaks"] == 1 and "linspace" in s["graph_break_reasons"][0]


def test_used_in_a_kernel():
    def f(x, n):
        t = np.linspace(0.0, 2.0, 256, dtype=x.dtype)
        return np.sin(t * x) + np.arange(0.0, 1.0, 1 / 256)[:, None] * n

    jf = jit_now(f)
    for dt in (np.float32, np.float64):
        x = np.linspace(-1, 1, 256).astype(dt)[:, None]
        want, got = f(x, 3), jf(x, 3)
        np.testing.assert_allclose(got, want, rtol=2e-6 if dt == np.float32 else 1e-14, atol=1e-6)
        assert got.dtype == want.dtype
    assert jf.stats()["fallback_reasons"] == [] and jf.stats()["graph_break_reasons"] == []
