"""np.sort, np.argsort, ndarray.sort / .argsort and np.median on the `sort` op (tracer/sort.cpp,
backends/cpu/sort_rt.cpp) against NumPy, bit for bit: NumPy's own sort functions order ties,
-0.0 / +0.0 and NaNs as eager NumPy does; a median meeting mixed-sign zeros or a negative NaN
re-runs eagerly; other forms run eagerly with NumPy's answer or exception."""
import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now, random_array

DTYPES = [np.float64, np.float32, np.int64, np.int32, np.int8, np.uint8, np.uint64, np.bool_]


def bits_equal(want, got):
    """Same type, dtype, shape and bytes (the sign of zeros and the bits of NaNs included)."""
    assert type(got) is type(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.ascontiguousarray(want).tobytes() == np.ascontiguousarray(got).tobytes(), (want, got)


def tricky(dtype, shape, seed):
    """Data with many ties; floats with -0.0, +0.0, NaN and infinities too."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        pool = np.array([0.0, -0.0, np.nan, 1.0, -1.0, np.inf, -np.inf, 2.5, 1e-3], dtype)
        return rng.choice(pool, shape)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(0, 5, shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("fn", [
    lambda a: np.sort(a),
    lambda a: np.sort(a, axis=0),
    lambda a: np.sort(a, axis=None),
    lambda a: np.sort(a, kind="stable"),
    lambda a: np.sort(a, kind="heapsort", axis=-2),
    lambda a: np.argsort(a),
    lambda a: np.argsort(a, axis=0),
    lambda a: np.argsort(a, axis=None),
    lambda a: np.argsort(a, kind="stable"),
    lambda a: np.argsort(a, stable=True),
    lambda a: np.argsort(a, kind="mergesort", axis=0),
    lambda a: a.argsort(),
    lambda a: np.argsort(a, kind="heapsort"),
    lambda a: np.sort(a[:, ::-2]),
    lambda a: np.sort(a.T, axis=1),
], ids=["sort", "sort-axis0", "sort-flat", "sort-stable", "sort-heap", "argsort", "argsort-axis0",
        "argsort-flat", "argsort-stable", "argsort-stable-kw", "argsort-merge-axis0", "method-argsort", "argsort-heap",
        "stepped", "transposed"])
@pytest.mark.parametrize("shape", [(4, 9), (3, 200), (1, 1), (5, 0), (0, 3)], ids=str)
def test_sort_and_argsort_bit_exact(fn, dtype, shape):
    for seed in range(3):
        x = tricky(dtype, shape, seed)
        want = fn(x)
        jf = jit_now(fn)
        got = jf(x)
        bits_equal(want, got)
        assert_compiled(jf)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 1000])
def test_one_dimensional(n):
    for dtype in (np.float64, np.float32, np.int16):
        x = tricky(dtype, (n,), 3)
        for fn in (lambda a: np.sort(a), lambda a: np.argsort(a), lambda a: np.sort(a) * 2):
            bits_equal(fn(x), jit_now(fn)(x))


def test_fused_producer_and_consumer():
    fn = lambda a, b: np.sort(a * b + 1, axis=1)[:, -3:].sum(axis=1)  # noqa: E731  (top-3 sum per row)
    a, b = random_array(np.float32, (300, 64)), random_array(np.float32, (300, 64), seed=1)
    jf = jit_now(fn)
    assert_same(fn(a, b), jf(a, b), rtol=1e-6)
    assert_compiled(jf)
    top = lambda s: np.argsort(-s, axis=1, kind="stable")[:, :5]  # noqa: E731  (top-5 indices)
    s = random_array(np.float64, (100, 50), seed=2)
    bits_equal(top(s), jit_now(top)(s))


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_in_place_sort(axis):
    def f(a):
        a.sort(axis=axis)
        return a[0].sum()

    x = random_array(np.float64, (6, 7), seed=4)
    xe, xj = x.copy(), x.copy()
    want = f(xe)
    jf = jit_now(f)
    got = jf(xj)
    assert_same(want, got, rtol=1e-12)
    bits_equal(xe, xj)
    assert_compiled(jf)

    def g(a):
        b = a * 2
        b.sort()
        return b

    bits_equal(g(x), jit_now(g)(x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int8, np.uint16, np.bool_], ids=str)
@pytest.mark.parametrize("fn", [
    lambda a: np.median(a),
    lambda a: np.median(a, axis=0),
    lambda a: np.median(a, axis=1),
    lambda a: np.median(a, axis=-1, keepdims=True),
    lambda a: np.median(a, keepdims=True),
    lambda a: np.median(a * 3, axis=0) + 1,
], ids=["flat", "axis0", "axis1", "keepdims", "flat-keepdims", "fused"])
@pytest.mark.parametrize("shape", [(5, 7), (4, 6), (1, 1), (2, 3001)], ids=str)
def test_median(fn, dtype, shape):
    x = random_array(dtype, shape, seed=5, span=100)
    with np.errstate(all="ignore"):
        want = fn(x)
        jf = jit_now(fn)
        got = jf(x)
    assert_same(want, got)
    assert_compiled(jf)


def test_median_nan_and_signed_zeros():
    fn = lambda a: np.median(a, axis=1)  # noqa: E731
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0], [np.inf, -np.inf, 0.5]])
    jf = jit_now(fn)
    with np.errstate(invalid="ignore"):
        assert_same(fn(x), jf(x))
    assert jf.stats()["fp_reruns"] == 0
    # -0.0 and +0.0 in the data: which one np.partition puts in the middle is its algorithm's,
    # so the call re-runs eagerly; a NaN with its sign bit set as well.
    for z in (np.array([[0.0, -0.0, 1.0, -0.0, 0.0]]), np.array([[1.0, -np.nan, 2.0]])):
        jf = jit_now(fn)
        bits_equal(fn(z), jf(z))
        assert jf.stats()["fp_reruns"] == 1, jf.stats()


def test_median_bit_exact_on_ties():
    for seed in range(20):
        x = tricky(np.float64, (3, 41), seed)
        x[x == 0] = 0.0  # only +0.0: compiled
        x[np.isnan(x)] = np.nan
        for fn in (lambda a: np.median(a, axis=1), lambda a: np.median(a)):
            with np.errstate(invalid="ignore"):
                want = fn(x)
                jf = jit_now(fn)
                got = jf(x)
            assert_same(want, got)
            assert jf.stats()["fp_reruns"] == 0 or np.isnan(want).any()


@pytest.mark.parametrize("fn, exc", [
    (lambda a: np.sort(a, axis=2), np.exceptions.AxisError),
    (lambda a: np.argsort(a, axis=-3), np.exceptions.AxisError),
    (lambda a: np.sort(a, kind="bogus"), ValueError),
    (lambda a: np.argsort(a, kind="stable", stable=True), ValueError),
    (lambda a: np.median(a, axis=2), np.exceptions.AxisError),
], ids=["sort-axis", "argsort-axis", "kind", "kind-and-stable", "median-axis"])
def test_numpy_exceptions(fn, exc):
    x = np.ones((3, 4))
    with pytest.raises(exc):
        fn(x)
    with pytest.raises(exc):
        jit_now(fn)(x)


def test_other_forms_give_numpy_results():
    x = tricky(np.float64, (4, 6), 9)
    forms = [lambda a: np.argsort(a, order="x"), lambda a: np.median(a, axis=(0, 1)),
             lambda a: np.median(a[:, :0], axis=1), lambda a: np.sort(a[0, 0])]
    for fn in forms:
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning) if fn is forms[2] else _nothing():
            try:
                want = fn(x)
            except Exception as e:  # noqa: BLE001
                with pytest.raises(type(e)):
                    jit_now(fn)(x)
                continue
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning) if fn is forms[2] else _nothing():
            got = jit_now(fn)(x)
        bits_equal(np.asarray(want), np.asarray(got))


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


# np.percentile / np.quantile (method 'linear'): NumPy's virtual index, gamma and _lerp, bit for bit.
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int16, np.uint8], ids=str)
@pytest.mark.parametrize("fn", [
    lambda a: np.percentile(a, 90),
    lambda a: np.percentile(a, 50, axis=1),
    lambda a: np.percentile(a, [10, 50, 99.5], axis=0),
    lambda a: np.percentile(a, 100),
    lambda a: np.percentile(a, 0, axis=0, keepdims=True),
    lambda a: np.quantile(a, 0.25),
    lambda a: np.quantile(a, [0.0, 0.5, 1.0], axis=-1),
    lambda a: np.quantile(a, (0.1, 0.9), keepdims=True),
    lambda a: np.percentile(a * 2, 33.3, axis=1, keepdims=True),
    lambda a: np.clip(a, np.percentile(a, 1), np.percentile(a, 99)),
], ids=["p90", "p50-axis1", "list-axis0", "p100", "p0-keepdims", "q25", "q-list", "q-tuple-keepdims",
        "fused", "clip"])
@pytest.mark.parametrize("shape", [(7,), (5, 9), (1, 1), (3, 100)], ids=str)
def test_percentile_quantile(fn, dtype, shape):
    x = random_array(dtype, shape, seed=6, span=100)
    try:
        want = fn(x)
    except Exception as e:  # noqa: BLE001  (np.clip of ints by float bounds: NumPy's own rules)
        with pytest.raises(type(e)):
            jit_now(fn)(x)
        return
    jf = jit_now(fn)
    got = jf(x)
    bits_equal(np.asarray(want), np.asarray(got))
    assert type(got) is type(want)
    if "clip" not in fn.__code__.co_names or np.dtype(dtype).kind == "f":  # (np.clip of ints by float bounds: eager)
        assert_compiled(jf)


def test_percentile_nan_inf_and_reruns():
    x = np.array([[np.nan, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, np.inf], [0.0, -0.0, 1.0, 2.0]])
    for fn in (lambda a: np.percentile(a, 90, axis=1), lambda a: np.quantile(a[:2], [0.3, 0.7], axis=1)):
        with np.errstate(invalid="ignore"):
            want = fn(x)
            got = jit_now(fn)(x)
        bits_equal(want, got)


@pytest.mark.parametrize("fn, exc", [
    (lambda a: np.percentile(a, 101), ValueError),
    (lambda a: np.quantile(a, [0.5, -0.1]), ValueError),
    (lambda a: np.percentile(a, 50, axis=3), np.exceptions.AxisError),
], ids=["p101", "q-negative", "axis"])
def test_percentile_exceptions(fn, exc):
    x = np.ones((3, 4))
    with pytest.raises(exc):
        fn(x)
    with pytest.raises(exc):
        jit_now(fn)(x)


def test_percentile_other_forms_give_numpy_results():
    x = random_array(np.float64, (4, 6), seed=8)
    for fn in (lambda a: np.percentile(a, 50, method="nearest"), lambda a: np.quantile(a, 1),
               lambda a: np.percentile(a, np.float32(50)), lambda a: np.percentile(a, 50, axis=(0, 1))):
        bits_equal(np.asarray(fn(x)), np.asarray(jit_now(fn)(x)))


@pytest.mark.parametrize("shape", [(20001,), (3, 5000), (4000, 2)], ids=str)
def test_long_rows_partitioned_bit_exact(shape):
    """Rows past 256 elements are partitioned at the positions read (np.median: the middle;
    np.percentile: each q's floor and next, and the last for the NaN check) by the AVX-512
    quickselect where the CPU has it, else nth_element."""
    for seed, dtype in ((1, np.float64), (2, np.float32), (3, np.int32)):
        x = random_array(dtype, shape, seed=seed, span=50)  # ints: many ties
        if x.dtype.kind == "f":
            x.flat[::997] = np.nan if seed == 1 else x.flat[::997]
        for fn in (lambda a: np.median(a, axis=-1), lambda a: np.percentile(a, [1, 37.5, 50, 99.9], axis=-1),
                   lambda a: np.quantile(a, 0.3, axis=0), lambda a: np.median(a)):
            want = fn(x)
            jf = jit_now(fn)
            got = jf(x)
            bits_equal(np.asarray(want), np.asarray(got))
            assert_compiled(jf)


def long_rows(kind, dtype, shape, seed):
    rng = np.random.default_rng(seed)
    if kind == "random":
        x = random_array(dtype, shape, seed=seed, span=1 << 30)
    elif kind == "ties":
        x = random_array(dtype, shape, seed=seed, span=3)
    elif kind == "sorted":
        x = np.sort(random_array(dtype, shape, seed=seed), axis=-1)
    elif kind == "reversed":
        x = np.sort(random_array(dtype, shape, seed=seed), axis=-1)[..., ::-1].copy()
    elif kind == "constant":
        x = np.full(shape, 3, dtype)
    else:  # floats: one sign of zero, both signs (NumPy's order), NaNs, infinities
        x = rng.standard_normal(shape).astype(dtype)
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size, flat.size // 5)] = -0.0
        if kind in ("zeros", "nan"):
            flat[rng.integers(0, flat.size, flat.size // 5)] = 0.0
        if kind == "nan":
            flat[rng.integers(0, flat.size, flat.size // 9)] = np.nan
            flat[rng.integers(0, flat.size, 7)] = -np.inf
    return x


LONG_CASES = [(d, k) for d in (np.float64, np.float32, np.int64, np.int32, np.uint64, np.uint32, np.int16)
              for k in ("random", "ties", "sorted", "reversed", "constant", "negzero", "zeros", "nan")
              if np.dtype(d).kind == "f" or k not in ("negzero", "zeros", "nan")]


@pytest.mark.parametrize("dtype,kind", LONG_CASES, ids=[f"{np.dtype(d)}-{k}" for d, k in LONG_CASES])
def test_long_rows_sorted_bit_exact(dtype, kind):
    """Rows past 2 KiB of 32- and 64-bit dtypes are sorted by the AVX-512 quicksort down to ranges
    NumPy's quicksort finishes, when the result cannot depend on the algorithm (integers; floats
    without NaNs and without both signs of zero), and argsorted by a quicksort of (key, position)
    pairs (stable: any row without NaNs; other kinds: rows without ties); other rows by NumPy's
    own functions."""
    for shape, seed in (((70001,), 1), ((3, 4099), 2), ((1000, 2), 3)):
        x = long_rows(kind, dtype, shape, seed)
        for fn in (lambda a: np.sort(a), lambda a: np.sort(a, kind="stable"), lambda a: np.sort(a, axis=0),
                   lambda a: np.sort(a, axis=None) * 2, lambda a: np.median(a, axis=-1),
                   lambda a: np.argsort(a), lambda a: np.argsort(a, kind="stable"), lambda a: np.argsort(a, axis=0)):
            want = fn(x)
            jf = jit_now(fn)
            got = jf(x)
            bits_equal(np.asarray(want), np.asarray(got))
