"""np.tensordot, recorded as the einsum it is (tracer/einsum.cpp): against NumPy over axes given
as an int and as pairs (negative, out of order, single ints), every float and a few integer
dtypes, 0-d results (every axis contracted: NumPy returns a 0-d array) and outer products
(axes=0); a shape mismatch raises NumPy's ValueError."""
import numpy as np
import pytest

from conftest import assert_same, jit_now, random_array, run_compiled

CASES = [
    ((3, 4, 5), (4, 5, 6), 2),
    ((3, 4, 5), (4, 3, 2), ([1, 0], [0, 1])),
    ((3, 4, 5), (5, 2), ([-1], [0])),
    ((3, 4), (4, 2), (1, 0)),
    ((3, 4), (3, 4), 2),
    ((3,), (2, 5), 0),
    ((2, 3, 4), (4, 3, 2), ([2, 1, 0], [0, 1, 2])),
    ((6, 1, 7), (7, 1), ([2, 1], [0, 1])),
]


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int8, np.int64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("sa, sb, axes", CASES)
def test_tensordot_against_numpy(sa, sb, axes, dt):
    a = random_array(dt, sa, seed=1, span=6)
    b = random_array(dt, sb, seed=2, span=6)
    fn = lambda x, y: np.tensordot(x, y, axes=axes)  # noqa: E731
    want = fn(a, b)
    got = run_compiled(fn, a, b)
    assert_same(want, got, rtol=1e-5 if dt == np.float32 else 1e-13 if dt == np.float64 else 0.0)


def test_tensordot_default_axes_fused_and_positional():
    a = random_array(np.float64, (5, 3, 4))
    b = random_array(np.float64, (3, 4, 2), seed=3)
    fn = lambda x, y: np.tanh(np.tensordot(x, y)) * 2  # noqa: E731  (axes=2 by default)
    assert_same(fn(a, b), run_compiled(fn, a, b), rtol=1e-13)
    fn2 = lambda x, y: np.tensordot(x, y, 1)  # noqa: E731
    c = random_array(np.float64, (4, 2), seed=4)
    assert_same(fn2(a, c), run_compiled(fn2, a, c), rtol=1e-13)


def test_tensordot_shape_mismatch_raises_numpys_error():
    fn = lambda x, y: np.tensordot(x, y, axes=([1], [0]))  # noqa: E731
    a, b = np.ones((2, 3)), np.ones((4, 2))
    with pytest.raises(ValueError, match="shape-mismatch"):
        fn(a, b)
    with pytest.raises(ValueError, match="shape-mismatch"):
        jit_now(fn)(a, b)
