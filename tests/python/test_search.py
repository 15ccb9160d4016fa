"""np.searchsorted / ndarray.searchsorted, np.digitize and np.interp (tracer/search.cpp) against
NumPy: both sides, NaNs (sorted last), repeated values, mixed dtypes compared in NumPy's common
dtype, 0-d and n-d keys, empty and one-element arrays; unsorted arrays, decreasing bins and
sample points with NaNs or repeats re-run eagerly; NumPy's exceptions; np.polyval inlined."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, assert_same, check_compiled, check_same_outcome, jit_now, random_array

DTYPES = [np.float64, np.float32, np.int64, np.int32, np.uint8, np.int8, np.uint64, np.bool_]


def sorted_array(dtype, n, seed):
    return np.sort(random_array(dtype, (n,), seed=seed, span=50))


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64, 1000])
def test_searchsorted_dtypes_sizes(side, dtype, n):
    a = sorted_array(dtype, n, seed=n)
    v = random_array(dtype, (5, 7), seed=n + 1, span=60)
    check_compiled(lambda a, v: np.searchsorted(a, v, side=side), a, v)
    check_compiled(lambda a, v: a.searchsorted(v, side), a, v[0])


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_nans_and_zeros(side):
    a = np.array([-np.inf, -1.0, -0.0, 0.0, 0.0, 2.5, np.inf, np.nan, np.nan])
    v = np.array([np.nan, -np.inf, np.inf, 0.0, -0.0, 2.5, 3.0, -7.0, -np.nan])
    check_compiled(lambda a, v: np.searchsorted(a, v, side=side), a, v)
    a32 = np.sort(random_array(np.float32, (300,), seed=4))
    a32[-5:] = np.nan
    v32 = random_array(np.float32, (200,), seed=5)
    v32[::6] = np.nan
    check_compiled(lambda a, v: np.searchsorted(a, v, side=side), a32, v32)


@pytest.mark.parametrize("adt, v", [
    (np.float32, 0.1),               # a Python float: compared in float64, not float32
    (np.float32, np.float64(0.1)),
    (np.int8, 300),                  # a Python int beyond int8
    (np.int64, 2.5),
    (np.uint64, -1),
    (np.int32, np.float32(3.5)),
    (np.uint8, True),
], ids=str)
@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_mixed_dtypes(adt, v, side):
    a = np.array([0.1, 1, 2, 3, 5, 120], dtype=adt) if np.dtype(adt).kind == "f" else np.array([0, 1, 3, 5, 120], dtype=adt)
    check_same_outcome(lambda a: np.searchsorted(a, v, side=side), a)
    check_same_outcome(lambda a: np.searchsorted(a, np.array([v, v]), side=side), a)


def test_searchsorted_array_dtype_pairs():
    rng = np.random.default_rng(7)
    for adt in (np.float32, np.int16, np.uint32, np.int64):
        for vdt in (np.float64, np.int8, np.uint64, np.float32):
            a = np.sort(rng.integers(0, 100, 50).astype(adt))
            v = (rng.integers(-10, 110, 40) + 0.5 * (np.dtype(vdt).kind == "f")).astype(vdt)
            check_compiled(lambda a, v: np.searchsorted(a, v), a, v)


def test_searchsorted_scalar_list_and_fused():
    a = sorted_array(np.float64, 100, seed=8)
    x = random_array(np.float64, (40,), seed=9)
    for fn, args in (
        (lambda a: np.searchsorted(a, 0.25), (a,)),                    # np.int64 scalar
        (lambda a: np.searchsorted(a, np.float64(0.25), "right"), (a,)),
        (lambda x: np.searchsorted([0.0, 0.5, 1.0], x), (x,)),         # a list as the array
        (lambda a, x: np.searchsorted(a, [0.1, -2.0, 7.0]), (a, x)),
        (lambda a, x: a[np.clip(np.searchsorted(a, x * 2) - 1, 0, 99)] + x, (a, x)),
        (lambda a, x: (np.searchsorted(a, x) == np.searchsorted(a, x, side="right")).sum(), (a, x)),
    ):
        check_compiled(fn, *args)


def test_searchsorted_unsorted_reruns_eagerly():
    """NumPy's answer on an unsorted array is its algorithm's: such calls run eagerly, every call."""
    a = random_array(np.float64, (50,), seed=10)
    v = random_array(np.float64, (30,), seed=11)
    fn = lambda a, v: np.searchsorted(a, v) + 1  # noqa: E731
    jf = jit_now(fn)
    for _ in range(2):
        assert_same(fn(a, v), jf(a, v))
    s = jf.stats()
    assert s["fp_reruns"] == 2 and any("algorithm-rerun" in r and "not sorted" in r for r in s["fallback_reasons"]), s
    b = np.sort(a)
    assert_same(fn(b, v), jf(b, v))  # sorted data: compiled again
    assert jf.stats()["fp_reruns"] == 2


@pytest.mark.parametrize("call", [
    lambda a, v: np.searchsorted(a.reshape(5, 2), v),       # 2-d array: NumPy raises ValueError
    lambda a, v: np.searchsorted(a, v, side="middle"),      # ValueError
    lambda a, v: np.searchsorted(a, v, sorter=np.argsort(a)),
    lambda a, v: np.searchsorted(a, v.astype(np.complex128)),
])
def test_searchsorted_other_forms(call):
    a = np.sort(random_array(np.float64, (10,), seed=12))
    v = random_array(np.float64, (6,), seed=13)
    check_same_outcome(call, a, v)


@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("bins", [
    [-1.0, 0.0, 0.5, 1.0],
    [0.0, 0.0, 1.0, 1.0, 2.0],         # repeats: still increasing to NumPy
    [3.0],
    [2.0, 2.0],
    [1.0, 0.5, 0.0, -1.0],             # decreasing: eager
    [0.0, 1.0, 0.5],                   # not monotonic: NumPy's ValueError
    [0.0, np.nan, 1.0],                # NaN: eager
], ids=str)
def test_digitize(bins, right):
    x = random_array(np.float64, (50,), seed=14)
    x[::9] = np.nan
    b = np.array(bins)
    fn = lambda x, b: np.digitize(x, b, right=right)  # noqa: E731
    check_same_outcome(fn, x, b)
    increasing = not np.isnan(b).any() and (np.diff(b) >= 0).all()
    if increasing:
        jf = jit_now(fn)
        assert_same(fn(x, b), jf(x, b))
        assert_compiled(jf)


def test_digitize_ints_and_scalars():
    x = random_array(np.int32, (7, 6), seed=15, span=20)
    check_compiled(lambda x: np.digitize(x, np.array([-10, 0, 10])), x)
    check_compiled(lambda x: np.digitize(x, [-5.5, 0.5, 5.5], right=True), x)
    check_compiled(lambda: np.digitize(0.2, np.array([0.0, 0.5, 1.0])))


def interp_args(n, size, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    xp = np.sort(rng.uniform(-2, 2, n)).astype(dtype)
    fp = np.cos(xp).astype(dtype)
    x = rng.uniform(-3, 3, size).astype(dtype)
    return x, xp, fp


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 17, 500])
@pytest.mark.parametrize("size", [1, 9, 1000])
def test_interp_sizes(n, size):
    x, xp, fp = interp_args(n, size, seed=n * 7 + size)
    x[::5] = np.nan
    if size >= 9:
        x[1], x[2], x[3] = xp[0], xp[-1], xp[n // 2]  # at sample points, both ends included
    check_compiled(lambda x, xp, fp: np.interp(x, xp, fp), x, xp, fp)


@pytest.mark.parametrize("left, right", [(None, None), (-9.0, 9.0), (np.nan, 0), (1, None)], ids=str)
def test_interp_left_right(left, right):
    x, xp, fp = interp_args(20, 300, seed=16)
    check_compiled(lambda x, xp, fp: np.interp(x, xp, fp, left=left, right=right), x, xp, fp)
    check_compiled(lambda x, xp, fp: np.interp(x, xp, fp, left, right), x, xp, fp)


def test_interp_dtypes_and_shapes():
    x, xp, fp = interp_args(30, 200, seed=17)
    check_compiled(lambda x, xp, fp: np.interp(x, xp, fp), x.astype(np.float32), xp.astype(np.float32), fp.astype(np.float32))
    check_compiled(lambda x: np.interp(x, [0, 10, 20], [1, 3, 2]), random_array(np.int64, (40,), seed=18, span=30))
    check_compiled(lambda x, xp, fp: np.interp(x, xp, fp), x.reshape(10, 20), xp, fp)
    check_compiled(lambda x, xp, fp: np.interp(x[::3].T, xp, fp) * 2, x.reshape(20, 10), xp, fp)
    check_compiled(lambda xp, fp: np.interp(0.3, xp, fp), xp, fp)   # a np.float64 scalar
    check_compiled(lambda x: np.interp(x, np.linspace(0, 1, 11), np.linspace(0, 1, 11) ** 2), x)


def test_interp_non_finite_fp_reruns_exactly():
    """Infinite values and repeated sample points: NumPy's loop ignores the flags its divisions
    raise; the compiled code sees them and re-runs the call eagerly (same answer, no warning)."""
    x = np.linspace(-1, 6, 57)
    for xp, fp in (([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 1.0, 5.0, np.inf, -np.inf, 2.0]),
                   ([0.0, 1.0, 1.0, 2.0, 3.0, 3.0], [0.0, 0.0, 1.0, 1.0, 2.0, 5.0]),
                   ([0.0, 0.0, 1.0], [3.0, 0.0, 1.0])):
        fn = lambda x, xp=np.array(xp), fp=np.array(fp): np.interp(x, xp, fp)  # noqa: E731
        jf = jit_now(fn)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            want = fn(x)
            got = jf(x)
        assert_same(want, got)


@pytest.mark.parametrize("xp", [
    [0.0, 2.0, 1.0, 3.0],        # not sorted: NumPy's own (meaningless) answer, eagerly
    [0.0, np.nan, 1.0, 2.0],
    [np.nan],
], ids=str)
def test_interp_unsorted_points(xp):
    x, _, _ = interp_args(4, 50, seed=19)
    xp = np.array(xp)
    fp = np.arange(len(xp), dtype=np.float64) ** 2
    jf = jit_now(lambda x, xp, fp: np.interp(x, xp, fp))
    assert_same(np.interp(x, xp, fp), jf(x, xp, fp))


@pytest.mark.parametrize("call", [
    lambda x, xp, fp: np.interp(x, xp, fp[:-1]),                 # ValueError: lengths
    lambda x, xp, fp: np.interp(x, xp[:0], fp[:0]),              # ValueError: empty
    lambda x, xp, fp: np.interp(x, xp, fp, period=2.0),
    lambda x, xp, fp: np.interp(x, xp, fp.astype(np.complex128)),
    lambda x, xp, fp: np.interp(x, xp.reshape(2, -1), fp.reshape(2, -1)),
])
def test_interp_other_forms(call):
    x, xp, fp = interp_args(8, 20, seed=20)
    check_same_outcome(call, x, xp, fp)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64], ids=str)
def test_polyval_inlined(dtype):
    x = random_array(dtype, (6, 5), seed=21, span=5)
    check_compiled(lambda x: np.polyval(np.array([1.0, -2.0, 0.5]), x), x)
    check_compiled(lambda x: np.polyval([3, 0, 1], x), x)
    check_compiled(lambda x: np.polyval(x[0], x) + 1, x)
