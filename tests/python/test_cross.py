"""np.cross of 3-vectors (tracer/cross.cpp) against NumPy, bit for bit: NumPy's own formula in
the promoted dtype (products rounded, then differences), broadcast leading axes, integer
wrap-around, NaN and inf; other forms run eagerly with NumPy's answer."""
import warnings

import numpy as np
import pytest

from conftest import assert_same, jit_now, random_array, run_compiled


@pytest.mark.parametrize("da, db", [(np.float64, np.float64), (np.float32, np.float32), (np.float32, np.float64),
                                    (np.int8, np.int8), (np.int8, np.int16), (np.uint8, np.uint8),
                                    (np.int64, np.float64)], ids=str)
@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((50, 3), (50, 3)), ((4, 1, 3), (6, 3)), ((3,), (9, 3))])
def test_cross_against_numpy(da, db, sa, sb):
    a = random_array(da, sa, seed=1, span=100)
    b = random_array(db, sb, seed=2, span=100)
    fn = lambda x, y: np.cross(x, y)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = fn(a, b)
    assert_same(want, run_compiled(fn, a, b))


def test_cross_specials_and_fusion():
    a = np.array([[np.nan, 1.0, 2.0], [np.inf, 1.0, 0.0], [1e308, 1e308, 1.0]])
    b = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 2.0], [1e10, -1e10, 2.0]])
    fn = lambda x, y: np.cross(x, y) * 2 + 1  # noqa: E731
    with np.errstate(all="ignore"):
        want = fn(a, b)
        got = jit_now(fn)(a, b)
    assert_same(want, got)
    torque = lambda r, f: np.cross(r, f).sum(axis=0)  # noqa: E731
    r, f = random_array(np.float64, (1000, 3)), random_array(np.float64, (1000, 3), seed=5)
    np.testing.assert_allclose(run_compiled(torque, r, f), torque(r, f), rtol=1e-12)


def test_other_forms_run_eagerly():
    for fn, args in [(lambda x, y: np.cross(x, y, axis=0), (np.ones((3, 4)), np.ones((3, 4)))),
                     (lambda x, y: np.cross(x, y), (np.ones((5, 2)), np.ones((5, 3))))]:
        jf = jit_now(fn)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                want = fn(*args)
            except ValueError as e:  # NumPy >= 2.5: 2-vectors raise
                with pytest.raises(ValueError) as got:
                    jf(*args)
                assert str(got.value) == str(e)
                continue
            got = jf(*args)
        assert_same(want, got)
        s = jf.stats()
        assert s["graph_breaks"] or s["fallback_calls"], s
