"""np.array, np.asarray, np.asanyarray, np.ascontiguousarray (tracer/array_ctor.cpp) against
NumPy: the same object where NumPy returns its argument (writes through one name seen through the
other), a copy where NumPy copies, lists of scalars and arrays stacked with NumPy's discovered
dtypes (a Python float is float64 in a list, not a weak scalar), constants built by NumPy at
trace time and copied at each call, and NumPy's exceptions."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, assert_same, check_compiled, jit_now, random_array


DTYPES = [np.float64, np.float32, np.int64, np.int32, np.int8, np.uint8, np.uint64, np.bool_]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("fn", [
    lambda x: np.asarray(x) * 2,
    lambda x: np.asanyarray(x) + 1,
    lambda x: np.array(x) - 3,
    lambda x: np.asarray(x, dtype=np.float64) / 3,
    lambda x: np.array(x, dtype=np.float32) * 1.5,
    lambda x: np.asarray(x, np.int64) + 1,
    lambda x: np.array(x, ndmin=3),
    lambda x: np.ascontiguousarray(x),
    lambda x: np.array([x.sum(), x.max(), x.min()]),
    lambda x: np.array([x[0], x[1]]) * 2,
    lambda x: np.array((x[0] * 2, x[1] + 1), dtype=np.float32),
], ids=["asarray", "asanyarray", "array", "asarray-f64", "array-f32", "asarray-i64-pos", "ndmin",
        "contiguous", "list-of-reductions", "list-of-rows", "tuple-dtype"])
def test_against_numpy(fn, dtype):
    x = random_array(dtype, (5, 4), seed=3, span=50)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        want = fn(x)
        jf = jit_now(fn)
        got = jf(x)
    # A sum in the list: within an ulp of NumPy's pairwise sum.
    assert_same(want, got, rtol=1e-6 if np.dtype(dtype).kind == "f" else 0)
    assert_compiled(jf)


@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (3, 0), (2, 1, 3)])
def test_shapes(shape):
    x = random_array(np.float32, shape)
    check_compiled(lambda a: np.asarray(a) + np.array(a) * 2, x)
    check_compiled(lambda a: np.array(a, ndmin=4), x)


def test_same_object_and_copies():
    def same(x):
        y = np.asarray(x)
        y += 1  # x itself, as eager
        return y

    def copied(x):
        y = np.array(x)
        y += 1  # a copy: x unchanged
        return y

    for fn in (same, copied):
        x, xe = np.arange(6.0), np.arange(6.0)
        want = fn(xe)
        jf = jit_now(fn)
        got = jf(x)
        assert_same(want, got)
        assert (got is x) == (want is xe)
        assert_same(xe, x)
        assert_compiled(jf)


def test_asarray_of_a_view_is_the_view():
    def f(x):
        v = np.asarray(x[1:4])
        v[:] = 0  # writes into x, as eager
        return x.sum()

    x, xe = np.arange(8.0), np.arange(8.0)
    assert f(xe) == jit_now(f)(x)
    assert_same(xe, x)


@pytest.mark.parametrize("make", [lambda: np.arange(6.0).reshape(2, 3),
                                  lambda: np.arange(6.0).reshape(3, 2).T,
                                  lambda: np.arange(12.0)[::2],
                                  lambda: np.arange(12.0).reshape(3, 4)[:, 1:3]],
                         ids=["c", "transposed", "stepped", "column-slice"])
def test_ascontiguousarray_copies_exactly_when_numpy_does(make):
    def f(x):
        y = np.ascontiguousarray(x)
        y[0] = -1.0  # into x when NumPy returned x itself
        return y

    xe, xj = make(), make()
    want = f(xe)
    got = jit_now(f)(xj)
    assert_same(want, got)
    assert_same(xe, xj)


def test_ascontiguousarray_of_a_stepped_slice_copies():
    def f(x):
        y = np.ascontiguousarray(x[::2])
        y[0] = 100.0  # a copy in eager NumPy: x is unchanged
        return x.sum() + y.sum()

    x = np.arange(10.0)
    want = f(x.copy())
    jf = jit_now(f)
    assert jf(x) == want
    assert_same(np.arange(10.0), x)


@pytest.mark.parametrize("fn", [
    lambda x: np.array([1.0, 2.0, 3.0]) * x[:3],
    lambda x: np.array([[1, 2], [3, 4]], dtype=np.float32) @ x[:4].reshape(2, 2),
    lambda x: np.array([]) .sum() + x[0],
    lambda x: np.array([[1, 2, 3]]) + x[:3],
    lambda x: np.array(2.5) * x,
    lambda x: np.array(7) + x,
    lambda x: np.array(True) & (x > 0),
    lambda x: np.array([1.7, -1.7], dtype=np.int64) * x[:2],
    lambda x: np.array([x[0], 2.0, 3]),
    lambda x: np.array([x[0], 2]),
    lambda x: np.array([[x[0], 1.0], [2.0, x[1]]]),
    lambda x: np.array([x[:2], (1.0, 2.0)]),
    lambda x: np.array([x.sum() > 0, True]),
    lambda x: np.asarray([np.float32(1.5), x[0]]),
], ids=["floats", "nested-f32", "empty", "2d-ints", "0d-float", "0d-int", "0d-bool", "float-to-int",
        "mixed", "mixed-int", "nested-mixed", "array-and-tuple", "bools", "np-scalar-const"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32], ids=str)
def test_lists_and_constants(fn, dtype):
    x = random_array(dtype, (6,), seed=4, span=20)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        want = fn(x)
        jf = jit_now(fn)
        got = jf(x)
        got2 = jf(x)
    assert_same(want, got)
    assert_same(want, got2)
    assert_compiled(jf, 2)


def test_runtime_python_scalars_are_float64_and_int64():
    fn = lambda x, f, i: np.array([x.sum(), f, i]) * 1  # noqa: E731
    x = np.ones(4, np.float32)
    jf = jit_now(fn)
    for f, i in ((0.5, 3), (1e300, -7)):
        with np.errstate(all="ignore"):
            assert_same(fn(x, f, i), jf(x, f, i))
    assert jf.stats()["compiled_calls"] == 2
    stack = lambda x, f: np.stack([x.sum(), f])  # noqa: E731  (np.stack converts items the same way)
    assert_same(stack(x, 2.5), jit_now(stack)(x, 2.5))


def test_constant_is_copied_at_each_call():
    def f(x):
        w = np.array([1.0, 2.0, 3.0])
        w[0] += x[0]
        return w

    jf = jit_now(f)
    x = np.array([10.0])
    for _ in range(3):
        assert_same(np.array([11.0, 2.0, 3.0]), jf(x))
    assert_compiled(jf, 3)


@pytest.mark.parametrize("fn, exc", [
    (lambda x: np.array([300, x[0]], dtype=np.int8), OverflowError),
    (lambda x: np.array([x[:2], x[:3]]), ValueError),
    (lambda x: np.array([x[0], x[:2]]), ValueError),
    (lambda x: np.asarray(x, dtype=np.float32, copy=False), ValueError),
    (lambda x: np.array([x[0], 1.0], copy=False), ValueError),
    (lambda x: np.array(x, dtype="nope"), TypeError),
], ids=["overflow", "ragged", "ragged-scalar", "copy-false", "copy-false-list", "bad-dtype"])
def test_numpy_exceptions(fn, exc):
    x = np.arange(4, dtype=np.int64)
    with pytest.raises(exc):
        fn(x)
    with pytest.raises(exc):
        jit_now(fn)(x)


def test_other_forms_give_numpy_results():
    x = np.arange(6.0).reshape(2, 3)
    for fn in (lambda a: np.array(a, order="F") + 0, lambda a: np.ascontiguousarray(a * 2).sum(),
               lambda a: np.ascontiguousarray(a.T) + 0,
               lambda a: np.array(a.tolist()), lambda a: np.array([a, [1.0, 2.0]])):
        try:
            want = fn(x)
        except ValueError:
            with pytest.raises(ValueError):
                jit_now(fn)(x)
            continue
        got = jit_now(fn)(x)
        assert_same(want, got)
