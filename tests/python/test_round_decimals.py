"""np.round / np.around / ndarray.round with decimals compiled as NumPy computes them
(PyArray_Round: multiply by 10**decimals -- a Python float, so float32 arrays round in float32
-- rint, divide; negative decimals divide first), bit for bit against eager NumPy."""
import numpy as np
import pytest

from conftest import jit_now

rng = np.random.default_rng(7)
DATA = {
    "f64": rng.standard_normal(1000) * 100,
    "f32": (rng.standard_normal(1000) * 100).astype(np.float32),
    "ties": np.array([2.675, 1.005, 0.125, -0.5, 0.5, 1.5, 2.5, -2.5, -0.0, 5e-324, np.inf, np.nan, 1e300]),
    "f32_ties": np.float32([0.125, 2.5, -0.375, 1.0005, 3.4e38, -0.0]),
}
FORMS = ["np.round(x, {d})", "np.around(x, decimals={d})", "x.round({d})", "np.round(x[3], {d})"]


@pytest.mark.parametrize("d", [1, 2, 3, 9, 12, -1, -2, -5])
@pytest.mark.parametrize("data", sorted(DATA))
def test_matches_numpy_bit_for_bit(d, data):
    x = DATA[data]
    for form in FORMS:
        ns = {"np": np}
        exec(f"def f(x):\n    return {form.format(d=d)}\n", ns)
        f = ns["f"]
        jf = jit_now(f)
        with np.errstate(all="ignore"):
            want, got = f(x), jf(x)
        assert type(got) is type(want) and got.dtype == want.dtype and np.shape(got) == np.shape(want)
        assert np.array_equal(np.atleast_1d(got).view(np.uint8), np.atleast_1d(want).view(np.uint8)), (form, got, want)
        s = jf.stats()
        assert s["compiled_calls"] == 1 and not s["fallback_reasons"] and not s["graph_break_reasons"], (form, s)


def test_integer_arrays():
    x = np.arange(-50, 50, 7)
    f = jit_now(lambda x: np.round(x, 2) + 0)  # a copy, as NumPy
    assert np.array_equal(f(x), x) and f.stats()["compiled_calls"] == 1
    g = jit_now(lambda x: np.round(x, -1) + 0)  # through float64 in NumPy: runs eagerly here
    assert np.array_equal(g(x), np.round(x, -1)) and g.stats()["graph_breaks"] == 1
