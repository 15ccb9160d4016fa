"""sum/prod/any/all with where= (np.* and methods): the reduction of where(mask, a, identity),
compiled, against eager NumPy over dtypes, masks that broadcast, axes and keepdims; signed zeros
included. mean/std/var/max/min with where= and masks that do not broadcast to the array run
eagerly with NumPy's result or exception."""
import numpy as np
import pytest

from conftest import assert_same, check_same_outcome, run_compiled

DTYPES = [np.bool_, np.int8, np.int32, np.uint64, np.float32, np.float64]


def make(shape, dtype, seed):
    r = np.random.default_rng(seed)
    if dtype == np.bool_:
        return r.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return r.integers(0, 4, shape).astype(dtype)
    x = (r.standard_normal(shape) * 2).astype(dtype)
    x.flat[::5] = -0.0
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mshape", [(4, 6), (6,), (1, 6), (4, 1)], ids=str)
def test_matches_numpy(mshape, dtype):
    x = make((4, 6), dtype, 1)
    m = np.random.default_rng(2).random(mshape) < 0.6
    for axis in [None, 0, 1, (0, 1)]:
        def f(a, w):
            return (np.sum(a, axis=axis, where=w), a.prod(axis, where=w), np.any(a, axis, where=w),
                    np.all(a, axis=axis, keepdims=True, where=w))
        with np.errstate(all="ignore"):
            want = f(x, m)
            got = run_compiled(f, x, m)
        for w, g in zip(want, got):
            if np.asarray(w).dtype.kind == "f":
                assert type(g) is type(w) and g.dtype == w.dtype and np.shape(g) == np.shape(w)
                np.testing.assert_allclose(g, w, rtol=1e-6, atol=0)
            else:
                assert_same(w, g)


def test_all_false_mask_gives_the_identity():
    x = np.array([[-0.0, 2.0], [3.0, -0.0]])
    m = np.zeros((2, 2), bool)
    f = lambda a, w: (np.sum(a, where=w), np.prod(a, 0, where=w), np.any(a, where=w), np.all(a, 1, where=w))
    assert_same(f(x, m), run_compiled(f, x, m))


@pytest.mark.parametrize("call", [
    lambda a, w: np.mean(a, where=w),                # warns on an empty selection: eager
    lambda a, w: np.max(a, where=w, initial=0.0),
    lambda a, w: np.sum(a[0], where=w),              # mask larger than the array: NumPy raises
    lambda a, w: np.sum(a, where=w.astype(float)),   # a float mask: NumPy's TypeError
    # Positional initial/where/out (they used to be dropped: a wrong sum): eager.
    lambda a, w: a.sum(None, None, None, False, 5.0),
    lambda a, w: np.sum(a, None, None, None, False, 5.0),
    lambda a, w: a.max(None, None, False, 9.0),
    lambda a, w: np.prod(a, 0, None, np.empty(6)),
    lambda a, w: (np.min(a, 1, None), np.argmax(a, 0, None), np.std(a, 0, None, None, 1, True)),
])
def test_other_forms_are_numpys(call):
    x = np.random.default_rng(3).standard_normal((4, 6))
    m = np.random.default_rng(4).random((4, 6)) < 0.5
    check_same_outcome(call, x, m)
