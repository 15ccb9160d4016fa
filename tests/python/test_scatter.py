"""Assignment through integer-array indexing along one axis (x[idx] = v, x[:, idx] = v,
x[..., idx] = v, x[idx] += v, x[k] = v with k known only at run time), compiled as a scatter
(tracer/gather.cpp store_by_array, ir/ops.def). Against eager NumPy: every x dtype and every
integer index dtype, repeated indices (the last value stays; `+=` adds once), negative indices,
value broadcasting and conversion, the array updated in place for the caller, inside an if
arm; an index out of bounds raises NumPy's own IndexError (the call re-runs eagerly)."""
import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now, random_array

X_DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
            np.float32, np.float64]
IDX_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.intp]


def indices(n, shape, dtype, seed=1):
    rng = np.random.default_rng(seed)
    lo = max(-n if np.issubdtype(dtype, np.signedinteger) else 0, np.iinfo(dtype).min)
    hi = min(n, int(np.iinfo(dtype).max) + 1)
    return rng.integers(lo, hi, shape).astype(dtype)


def check(fn, *args, rtol=0.0):
    """fn's result and its in-place effect on the arguments, eager vs compiled (one call)."""
    want_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    want = fn(*want_args)
    jf = jit_now(fn)
    got = jf(*got_args)
    assert_compiled(jf)
    assert_same(want, got, rtol)
    for w, g in zip(want_args, got_args):
        if isinstance(w, np.ndarray):
            assert_same(w, g)
    return got


@pytest.mark.parametrize("xdt", X_DTYPES, ids=lambda d: np.dtype(d).name)
def test_rows_of_every_dtype(xdt):
    x = random_array(xdt, (50, 7))
    v = random_array(xdt, (30, 7), seed=2)

    def fn(a, i, v):
        y = a.copy()
        y[i] = v
        return y

    check(fn, x, indices(50, 30, np.int64), v)


@pytest.mark.parametrize("idt", IDX_DTYPES, ids=lambda d: np.dtype(d).name)
def test_every_index_dtype(idt):
    x = random_array(np.float32, (100, 5))

    def fn(a, i):
        y = a * 2
        y[i] = -1.0  # a 2-d index array: indexing result [6, 9, 5], the value broadcast
        return y + 1

    check(fn, x, indices(100, (6, 9), idt))


def test_repeated_indices_keep_the_last_value_and_add_once():
    x = np.zeros(6)
    idx = np.array([1, 4, 1, 1, -2, 0])
    v = np.arange(6.0) + 10

    def assign(a, i, v):
        y = a + 0
        y[i] = v
        return y

    def add(a, i, v):
        y = a + 1
        y[i] += v  # NumPy's buffered update: a repeated index adds once (its last value)
        return y

    def sub_scalar(a, i):
        y = a * 3
        y[i] -= 2
        return y

    got = check(assign, x, idx, v)
    assert got[1] == 13.0 and got[4] == 14.0  # the last of 10/12/13 and of 11/14
    check(add, x, idx, v)
    check(sub_scalar, x, idx)
    m = random_array(np.int32, (5, 8))
    cols = np.array([0, 3, 3, 7, 0])

    def columns(a, c, v):
        a[:, c] = v  # per row, the last of each repeated column
        return a

    check(columns, m, cols, np.arange(25, dtype=np.int32).reshape(5, 5))


@pytest.mark.parametrize("key", ["col", "ellipsis_last", "ellipsis_mid", "full_slices"])
def test_axes_by_position(key):
    x = random_array(np.float64, (6, 40, 8))

    def col(a, i, v):
        a[:, i] = v
        return a.sum()

    def ellipsis_last(a, i, v):
        a[..., i] = v
        return a

    def ellipsis_mid(a, i, v):
        a[..., i, :] = v
        return a

    def full_slices(a, i, v):
        a[:, :, i] = v * 2
        return a

    fn = {"col": col, "ellipsis_last": ellipsis_last, "ellipsis_mid": ellipsis_mid, "full_slices": full_slices}[key]
    n = 8 if key in ("ellipsis_last", "full_slices") else 40
    idx = indices(n, (3, 4), np.int32)
    shape = {"col": (6, 3, 4, 8), "ellipsis_last": (6, 40, 3, 4), "ellipsis_mid": (6, 3, 4, 8),
             "full_slices": (4,)}[key]
    check(fn, x, idx, random_array(np.float64, shape, seed=7), rtol=1e-15)


def test_value_broadcast_and_conversion():
    x = random_array(np.float32, (20, 6))
    idx = np.array([3, 0, 19, -1])

    def row_value(a, i, r):
        a[i] = r  # [6] broadcast to [4, 6]
        return a

    def leading_ones(a, i, r):
        a[i] = r.reshape(1, 1, 6)  # NumPy drops the leading length-1 axes
        return a

    def column_value(a, i, c):
        a[i] = c[:, None]
        return a

    def python_scalars(a, i):
        a[i] = 3
        b = a.astype(np.int16)
        b[i] = 7
        b[i[:2]] = True
        return a, b

    def int_into_float(a, i, k):
        a[i] = k  # int64 array into float32: NumPy's unsafe cast
        return a

    r = random_array(np.float32, 6, seed=3)
    check(row_value, x, idx, r)
    check(leading_ones, x, idx, r)
    check(column_value, x, idx, random_array(np.float32, 4, seed=4))
    check(python_scalars, x, idx)
    check(int_into_float, x, idx, random_array(np.int64, (4, 6), seed=5))


def test_updates_the_callers_array_and_fuses():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100_000)
    idx = rng.integers(-100_000, 100_000, 5000)

    def clamp_some(a, i):
        a[i] = 0.0  # the caller's array, updated in place
        return np.tanh(a) * 2

    check(clamp_some, x, idx, rtol=1e-15)

    def counts(lab, k):
        c = np.zeros(k)
        c[lab] = 1.0  # which labels occur
        return c.sum()

    check(counts, rng.integers(0, 64, 1000), 64)


def test_inside_an_if_arm():
    def fn(a, i, flag):
        y = a * 1
        if flag > 0:
            y[i] = -7.0
        return y

    x = random_array(np.float64, 30)
    idx = np.array([2, 5, -1])
    check(fn, x, idx, 1.0)
    check(fn, x, idx, -1.0)


def test_runtime_integer_index():
    x = random_array(np.float64, (10, 4))
    s = random_array(np.float64, 10, seed=3)

    def zero_best_row(a, s):
        y = a + 0
        y[np.argmax(s)] = 0.0
        return y

    def bump_best(a, s):
        v = a[:, 0] * 1
        v[np.argmin(s)] += 100.0
        return v

    def bump_best_row(a, s):
        y = a * 2
        y[np.argmax(s)] += 1.0  # a row view, updated and stored back
        return y

    check(zero_best_row, x, s)
    check(bump_best, x, s)
    check(bump_best_row, x, s)


def test_empty_indices_and_size_one():
    x = random_array(np.float32, (5, 3))

    def fn(a, i):
        y = a + 0
        y[i] = 1.0
        return y

    check(fn, x, np.zeros(0, np.int64))
    check(fn, x, np.zeros((2, 0), np.int32))

    def int_fn(a, i):
        y = a + 0
        y[i] = 1
        return y

    check(int_fn, random_array(np.int16, (1, 4)), np.zeros(6, np.int64))


@pytest.mark.parametrize("idt", [np.int64, np.int8, np.uint16, np.uint64])
def test_out_of_bounds_raises_numpys_index_error(idt):
    x = random_array(np.float32, (20, 3))

    def fn(a, i):
        a[i] = 5.0
        return a * 2

    jf = jit_now(fn)
    good = indices(20, 10, idt)
    want_x, got_x = x.copy(), x.copy()
    assert_same(fn(want_x, good), jf(got_x, good))
    assert_same(want_x, got_x)
    for bad_value in ([20] if not np.issubdtype(idt, np.signedinteger) else [20, -21, 100]):
        bad = good.copy()
        bad[7] = bad_value
        want_x, got_x = x.copy(), x.copy()
        with pytest.raises(IndexError) as want:
            fn(want_x, bad)
        with pytest.raises(IndexError) as got:
            jf(got_x, bad)
        assert str(got.value) == str(want.value)
        assert_same(want_x, got_x)  # nothing written that NumPy does not write
    s = jf.stats()
    assert s["fp_reruns"] >= 1 and any("error-rerun" in r and "test_scatter.py" in r for r in s["fallback_reasons"]), s


def test_shape_mismatch_raises_numpys_value_error():
    def fn(a, i, v):
        a[i] = v
        return a

    x = random_array(np.float64, (6, 3))
    with pytest.raises(ValueError, match="shape mismatch"):
        fn(x.copy(), np.array([1, 2]), np.ones((3, 3)))
    with pytest.raises(ValueError, match="shape mismatch"):
        jit_now(fn)(x.copy(), np.array([1, 2]), np.ones((3, 3)))


def test_left_to_eager_with_the_reason():
    x = random_array(np.float64, (8, 8))

    def two_arrays(a, i):
        a[i, i] = 1.0
        return a

    def int_and_array(a, i):
        a[0, i] = 1.0
        return a

    def partial_slice(a, i):
        a[1:3, i] = 1.0
        return a

    def float_into_int(a, i):
        b = a.astype(np.int32)
        b[i] = 2.5  # NumPy truncates; not compiled
        return b

    for fn in (two_arrays, int_and_array, partial_slice, float_into_int):
        want_x, got_x = x.copy(), x.copy()
        idx = np.array([1, 2])
        want = fn(want_x, idx)
        jf = jit_now(fn)
        assert_same(want, jf(got_x, idx))
        assert_same(want_x, got_x)
        s = jf.stats()
        assert s["graph_breaks"] or s["fallback_calls"], s


def test_explain_shows_the_scatter():
    import tracejit

    def fn(a, i):
        y = a * 2
        y[i] = 0
        return y

    text = tracejit.explain(fn, random_array(np.float32, (5, 2)), np.array([1, 4]))
    assert "scatter" in text, text


def test_out_of_bounds_index_in_an_arm():
    # Both arms run compiled (as selects): an out-of-bounds index in the arm not taken is moot
    # (no re-run), in the arm taken NumPy's IndexError; a gather in an arm alike.
    def store(a, i, flag):
        y = a * 1
        if flag > 0:
            y[i] = -7.0
        return y

    def load(a, i, flag):
        s = a[0] * 0
        if flag > 0:
            s = a[i].sum()
        return s

    x = random_array(np.float64, 30)
    bad = np.array([2, 40])
    for fn in (store, load):
        jf = jit_now(fn)
        assert_same(fn(x, bad, -1.0), jf(x, bad, -1.0))
        assert_same(fn(x, bad[:1], 1.0), jf(x, bad[:1], 1.0))
        s = jf.stats()
        assert s["fp_reruns"] == 0 and not s["graph_breaks"] and not s["fallback_reasons"], s
        with pytest.raises(IndexError) as want:
            fn(x, bad, 1.0)
        with pytest.raises(IndexError) as got:
            jf(x, bad, 1.0)
        assert str(got.value) == str(want.value)


@pytest.mark.parametrize("layout", ["c", "rows_stepped", "fortran", "transposed"])
def test_sgd_row_update_written_into_the_callers_array(layout):
    # `w[idx] -= lr * g` updating only the rows named (the write-back writes them into the
    # caller's array, through its own strides), repeated rows included (NumPy's buffered
    # update: the last one counts), then a later call sees the update.
    def sgd(w, idx, g, lr):
        w[idx] -= lr * g
        return w

    rng = np.random.default_rng(4)
    idx = rng.integers(-300, 300, 64)
    idx[5] = idx[9]
    g = rng.standard_normal((64, 16)).astype(np.float32)

    def make():
        base = np.random.default_rng(3).standard_normal((600, 32)).astype(np.float32)
        if layout == "c":
            return base, base[:300, :16]
        if layout == "rows_stepped":
            return base, base[::2, 5:21]
        if layout == "fortran":
            f = np.asfortranarray(base[:300, :16])
            return f, f
        t = np.ascontiguousarray(base.T[:16, :300]).T
        return t, t

    want_base, want_w = make()
    got_base, got_w = make()
    jf = jit_now(sgd)
    for _ in range(2):
        r_want = sgd(want_w, idx, g, 0.5)
        r_got = jf(got_w, idx, g, 0.5)
        assert r_got is got_w
        assert_same(want_base, got_base)
    assert jf.stats()["compiled_calls"] == 2, jf.stats()
    # The kernel computes the updated rows only; the write-back scatters them.
    assert " = scatter " not in jf.cache_info()[0]["ir"], jf.cache_info()[0]["ir"]


def test_scatter_write_back_with_other_readers():
    # The updated array read again in the same call (sum), the old rows read after the update,
    # an update under an if arm: the whole array is computed as before.
    def read_after(w, idx, v):
        old = w[idx] * 1
        w[idx] = v
        return w.sum(), old.sum()

    def in_arm(w, idx, v, flag):
        if flag > 0:
            w[idx] = v
        return w

    rng = np.random.default_rng(6)
    w = rng.standard_normal((40, 3))
    idx = np.array([3, 7, 3, -1])
    v = rng.standard_normal((4, 3))
    check(read_after, w, idx, v, rtol=1e-13)
    jf = jit_now(read_after)
    jf(w.copy(), idx, v)
    assert " = scatter " in jf.cache_info()[0]["ir"]
    check(in_arm, w, idx, v, 1.0)
    check(in_arm, w, idx, v, -1.0)


def test_a_long_chain_of_scatters_runs_eagerly():
    # Each scatter copies its array: ten in a row into one array (an unrolled loop) would copy
    # it ten times where eager writes ten elements: from the eighth on the store runs eagerly.
    def few(y, idx):
        for k in (0, 1, 2):
            y[idx[k]] = k
        return y

    def many(y, idx):
        for k in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9):
            y[idx[k]] = k
        return y

    idx = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])
    check(few, np.zeros(20), idx)
    want_y, got_y = np.zeros(20), np.zeros(20)
    jf = jit_now(many)
    assert_same(many(want_y, idx), jf(got_y, idx))
    assert_same(want_y, got_y)
    s = jf.stats()
    assert s["graph_breaks"] or s["fallback_calls"], s


# ufunc.at: NumPy's unbuffered in-place update, a combining scatter.

AT_DTYPES = [np.int8, np.uint16, np.int32, np.int64, np.float32, np.float64]


@pytest.mark.parametrize("dt", AT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("uf", ["add", "subtract", "multiply", "maximum", "minimum"])
def test_ufunc_at_every_op_and_dtype(uf, dt):
    ufunc = getattr(np, uf)

    def fn(a, i, v):
        y = a * 1
        ufunc.at(y, i, v)  # repeated indices apply each time, in order
        return y

    a = random_array(dt, 40, seed=1, span=20)
    v = random_array(dt, 300, seed=2, span=5)
    if np.issubdtype(dt, np.floating) and uf not in ("maximum", "minimum"):
        v[[3, 77]] = np.nan  # (maximum/minimum with NaN: test_ufunc_at_nan_warns_as_numpy)
    idx = indices(40, 300, np.int64, seed=3)
    check(fn, a, idx, v)


def test_ufunc_at_rows_columns_scalars_and_the_callers_array():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((500, 4))
    lab = rng.integers(0, 7, 500)

    def centroids(x, lab):
        sums = np.zeros((7, 4))
        np.add.at(sums, lab, x)  # rows
        cnt = np.zeros(7)
        np.add.at(cnt, lab, 1)  # a Python scalar
        return sums / np.maximum(cnt, 1)[:, None]

    check(centroids, x, lab, rtol=1e-15)

    def columns(m, c):
        np.maximum.at(m, (slice(None), c), 0.5)  # into the caller's array, columns repeated
        return None

    check(columns, rng.standard_normal((6, 9)), np.array([1, 1, -1, 4]))

    def float32_scalar(a, i):
        np.subtract.at(a, i, 0.1)  # a weak Python float: float32 arithmetic
        return a

    check(float32_scalar, rng.standard_normal(10).astype(np.float32), np.array([2, 2, 2, 7]))


def test_ufunc_at_left_to_eager_and_out_of_bounds():
    def into_int(a, i):
        np.add.at(a, i, 1.5)  # float values into an int array: another loop dtype
        return a

    def into_bool(a, i):
        np.logical_or.at(a, i, True)
        return a

    for fn, a in ((into_int, np.zeros(5, np.int64)), (into_bool, np.zeros(5, bool))):
        want_a, got_a = a.copy(), a.copy()
        jf = jit_now(fn)
        assert_same(fn(want_a, np.array([1, 1, 3])), jf(got_a, np.array([1, 1, 3])))
        assert_same(want_a, got_a)
        s = jf.stats()
        assert s["graph_breaks"] or s["fallback_calls"], s

    def add(a, i):
        np.add.at(a, i, 1.0)
        return a

    jf = jit_now(add)
    want_a, got_a = np.zeros(5), np.zeros(5)
    with pytest.raises(IndexError) as want:
        add(want_a, np.array([1, 5]))
    with pytest.raises(IndexError) as got:
        jf(got_a, np.array([1, 5]))
    assert str(got.value) == str(want.value)
    assert_same(want_a, got_a)


@pytest.mark.parametrize("uf", ["maximum", "minimum"])
def test_ufunc_at_nan_warns_as_numpy(uf):
    # NumPy's maximum.at/minimum.at warn "invalid value" on a NaN operand (np.maximum does not):
    # the compiled call notes the flag, and the call re-runs eagerly for NumPy's warning.
    ufunc = getattr(np, uf)

    def fn(a, i, v):
        ufunc.at(a, i, v)
        return a

    a = np.array([1.0, np.nan, 3.0, 4.0])
    v = np.array([2.0, 0.5, np.nan])
    idx = np.array([0, 1, 2])
    want_a, got_a = a.copy(), a.copy()
    with pytest.warns(RuntimeWarning, match=f"invalid value encountered in {uf}"):
        want = fn(want_a, idx, v)
    jf = jit_now(fn)
    with pytest.warns(RuntimeWarning, match=f"invalid value encountered in {uf}"):
        got = jf(got_a, idx, v)
    assert_same(want, got)
    assert_same(want_a, got_a)
    assert jf.stats()["fp_reruns"] == 1, jf.stats()
    clean = np.array([5.0, 1.0, 2.0])  # no NaN: compiled, no warning
    want_a, got_a = a[[0, 2, 3]].copy(), a[[0, 2, 3]].copy()
    assert_same(fn(want_a, idx, clean), jf(got_a, idx, clean))
    assert jf.stats()["fp_reruns"] == 1 and jf.stats()["compiled_calls"] == 1, jf.stats()


def test_ufunc_methods_compile_once():
    # np.add.at / np.add.reduce are new bound-method objects at every lookup: the guard on them
    # must accept the same method of the same ufunc (it recompiled at every call).
    def at(s, i, x):
        np.add.at(s, i, x)
        return s

    def reduce(x):
        return np.add.reduce(x) * 2

    ja, jr = jit_now(at), jit_now(reduce)
    for _ in range(3):
        assert_same(at(np.zeros(3), np.array([0, 1, 1]), np.ones(3)), ja(np.zeros(3), np.array([0, 1, 1]), np.ones(3)))
        assert_same(reduce(np.arange(4.0)), jr(np.arange(4.0)))
    for jf in (ja, jr):
        s = jf.stats()
        assert s["compiles"] == 1 and s["compiled_calls"] == 3 and not s["recompile_reasons"], s


# np.put_along_axis: a scatter into the flattened array at take_along_axis's flat indices.

@pytest.mark.parametrize("dt", [np.int16, np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_put_along_axis(dt, axis):
    x = random_array(dt, (5, 6, 4))
    shape = list(x.shape)
    shape[axis] = 3
    idx = indices(x.shape[axis], tuple(shape), np.int64)
    vals = random_array(dt, tuple(shape), seed=9)

    def fn(a, i, v):
        np.put_along_axis(a, i, v, axis=axis)  # the caller's array, repeated positions: the last
        return a.sum()

    check(fn, x, idx, vals, rtol=1e-6)

    def zero_row_max(a):
        y = a * 1
        np.put_along_axis(y, np.argmax(y, axis=axis, keepdims=True), 0, axis=axis)
        return y

    check(zero_row_max, x)


def test_put_along_axis_out_of_bounds():
    def fn(a, i):
        np.put_along_axis(a, i, 1.0, axis=1)
        return a

    jf = jit_now(fn)
    want_x, got_x = np.zeros((3, 4)), np.zeros((3, 4))
    with pytest.raises(IndexError) as want:
        fn(want_x, np.array([[4]] * 3))
    with pytest.raises(IndexError) as got:
        jf(got_x, np.array([[4]] * 3))
    assert str(got.value) == str(want.value)
    assert_same(want_x, got_x)
