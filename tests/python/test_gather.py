"""Integer-array indexing along one axis (x[idx], x[:, idx], x[..., idx]) and np.take, compiled
as a gather that fuses into its consumers (tracer/gather.cpp). Against eager NumPy: every x
dtype and every integer index dtype, negative indices, 1- to 3-d index arrays, axes by
position, after slices and after an Ellipsis, non-contiguous operands, np.take's axis=None and
its wrap/clip modes; an index out of bounds raises NumPy's own IndexError (the call re-runs
eagerly) and the next in-bounds call compiles again."""
import numpy as np
import pytest

from conftest import assert_same, jit_now, random_array, run_compiled

X_DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
            np.float32, np.float64]
IDX_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.intp]


def data(dtype, shape, seed=0):
    return random_array(dtype, shape, seed)


def indices(n, shape, dtype, seed=1, negative=True):
    rng = np.random.default_rng(seed)
    lo = -n if negative and np.issubdtype(dtype, np.signedinteger) else 0
    lo = max(lo, np.iinfo(dtype).min)
    hi = min(n, int(np.iinfo(dtype).max) + 1)
    return rng.integers(lo, hi, shape).astype(dtype)


def check(fn, *args):
    want = fn(*args)
    got = run_compiled(fn, *args)
    assert_same(want, got)
    return got


@pytest.mark.parametrize("xdt", X_DTYPES, ids=lambda d: np.dtype(d).name)
def test_rows_of_every_dtype(xdt):
    x = data(xdt, (50, 7))
    idx = indices(50, 300, np.int64)
    check(lambda a, i: a[i], x, idx)


@pytest.mark.parametrize("idt", IDX_DTYPES, ids=lambda d: np.dtype(d).name)
def test_every_index_dtype(idt):
    x = data(np.float32, (100, 5))
    idx = indices(100, (6, 9), idt)  # a 2-d index array: result [6, 9, 5]
    check(lambda a, i: a[i] * 2 + 1, x, idx)
    check(lambda a, i: np.take(a, i, axis=0), x, idx)


@pytest.mark.parametrize("key", ["col", "ellipsis_last", "ellipsis_mid", "slice_then", "step_slice"])
def test_axes_by_position(key):
    x = data(np.float64, (6, 40, 8))
    fns = {
        "col": lambda a, i: a[:, i],
        "ellipsis_last": lambda a, i: a[..., i],
        "ellipsis_mid": lambda a, i: a[..., i, :],
        "slice_then": lambda a, i: a[1:5, i, ::2],
        "step_slice": lambda a, i: a[::-2, i],
    }
    n = 8 if key == "ellipsis_last" else 40
    idx = indices(n, (3, 4), np.int32)
    check(fns[key], x, idx)


def test_fused_consumers_and_producers():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2000, 16)).astype(np.float32)
    c = rng.standard_normal((10, 16)).astype(np.float32)
    lab = rng.integers(0, 10, 2000)

    def kmeans_step(x, c, lab):
        d = x - c[lab]  # each point minus its centroid
        return (d * d).sum(axis=1)

    want = kmeans_step(x, c, lab)
    got = run_compiled(kmeans_step, x, c, lab)
    np.testing.assert_allclose(got, want, rtol=2e-6)
    assert got.dtype == want.dtype

    def labels_in_graph(x, c):
        dist = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        lab = dist.argmin(axis=1)
        return c[lab] * 0.5 + x  # an index array computed in the same graph

    want = labels_in_graph(x, c)
    got = run_compiled(labels_in_graph, x, c)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # A gather of an expression: (x * 2)[idx], read at the gathered rows.
    idx = rng.integers(-2000, 2000, 77)
    fn = lambda a, i: np.exp(a * 2)[i] - 1  # noqa: E731
    xd = x.astype(np.float64)
    assert_same(fn(xd, idx), run_compiled(fn, xd, idx), rtol=1e-14)


def test_non_contiguous_operands():
    x = data(np.float64, (30, 40))
    idx = indices(40, 50, np.int64)
    check(lambda a, i: a.T[i], x, idx)  # rows of a transposed input
    check(lambda a, i: a[::3][i], x, indices(10, 25, np.int64))  # a stepped input
    big = indices(30, 200, np.int64)
    check(lambda a, i: a[:, ::2][i[::2]], x, big)  # a stepped index array
    f = np.asfortranarray(x)
    check(lambda a, i: a[i] + 1, f, big)


def test_empty_and_size_one():
    x = data(np.float32, (5, 3))
    check(lambda a, i: a[i], x, np.zeros(0, np.int64))
    check(lambda a, i: a[i], x, np.zeros((2, 0), np.int32))
    check(lambda a, i: a[:, i], x, np.array([2, -1, 0]))
    one = data(np.int16, (1, 4))
    check(lambda a, i: a[i], one, np.zeros(6, np.int64))
    check(lambda a, i: a[:, i], data(np.float32, (0, 4)), np.array([3, 0]))  # zero rows gathered


@pytest.mark.parametrize("mode", ["raise", "wrap", "clip"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_take(mode, axis):
    x = data(np.float64, (9, 11))
    n = x.size if axis is None else x.shape[axis]
    if mode == "raise":
        idx = indices(n, (4, 5), np.int64)
    else:
        idx = np.random.default_rng(3).integers(-3 * n, 3 * n, (4, 5))
        # (NumPy's wrap steps by n in a loop: no int64 extremes, which it would take ages on)
        idx = np.concatenate([idx.ravel(), [-10**6 - 7, 10**6 + 3, -1, n]])
    check(lambda a, i: np.take(a, i, axis=axis, mode=mode), x, idx)
    check(lambda a, i: a.take(i, axis=axis, mode=mode) * 3, x, idx)


def test_take_unsigned_wrap_and_clip():
    x = data(np.int32, 13)
    idx = np.array([0, 12, 13, 200, 255], np.uint8)
    check(lambda a, i: np.take(a, i, mode="wrap"), x, idx)
    check(lambda a, i: np.take(a, i, mode="clip"), x, idx)
    # NumPy converts uint64 indices to intp: 2**64 - 1 is -1 (the last element; clipped: 0).
    big = np.array([0, 5, 2**64 - 1, 2**63], np.uint64)
    check(lambda a, i: np.take(a, i, mode="clip"), x, big)
    check(lambda a, i: a[i], x, np.array([3, 2**64 - 1, 2**64 - 13], np.uint64))
    with pytest.raises(IndexError) as want:
        x[np.array([2**63], np.uint64)]
    with pytest.raises(IndexError) as got:
        jit_now(lambda a, i: a[i])(x, np.array([2**63], np.uint64))
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("idt", [np.int64, np.int8, np.uint16, np.uint64])
def test_out_of_bounds_raises_numpys_index_error(idt):
    x = data(np.float32, (20, 3))
    fn = lambda a, i: a[i] * 2  # noqa: E731
    jf = jit_now(fn)
    good = indices(20, 10, idt)
    assert_same(fn(x, good), jf(x, good))
    for bad_value in ([20] if not np.issubdtype(idt, np.signedinteger) else [20, -21, 100]):
        bad = good.copy()
        bad[7] = bad_value
        with pytest.raises(IndexError) as want:
            fn(x, bad)
        with pytest.raises(IndexError) as got:
            jf(x, bad)
        assert str(got.value) == str(want.value)
    s = jf.stats()
    assert s["fp_reruns"] >= 1 and any("error-rerun" in r for r in s["fallback_reasons"]), s
    assert any("test_gather.py" in r for r in s["fallback_reasons"]), s
    # Back in bounds: compiled again, no new re-run.
    reruns = s["fp_reruns"]
    assert_same(fn(x, good), jf(x, good))
    assert jf.stats()["fp_reruns"] == reruns


def test_take_out_of_bounds_and_bad_mode():
    x = data(np.float64, 10)
    jf = jit_now(lambda a, i: np.take(a, i))
    with pytest.raises(IndexError) as want:
        np.take(x, np.array([3, 10]))
    with pytest.raises(IndexError) as got:
        jf(x, np.array([3, 10]))
    assert str(got.value) == str(want.value)
    bad_mode = jit_now(lambda a, i: np.take(a, i, mode="nope"))
    with pytest.raises(ValueError):
        bad_mode(x, np.array([1]))


def test_in_place_after_the_gather_does_not_reach_it():
    # The gather is a copy: writing the source afterwards leaves it alone, and writing the
    # result leaves the source alone.
    def fn(a, i):
        rows = a[i]
        a[0] = -1.0
        rows[0] = 99.0
        return rows, a.sum()

    x = data(np.float64, (6, 4))
    idx = np.array([0, 0, 3])
    want_x, got_x = x.copy(), x.copy()
    want = fn(want_x, idx)
    got = jit_now(fn)(got_x, idx)
    assert_same(want, got)
    assert_same(want_x, got_x)


def test_left_to_eager_with_the_reason():
    x = data(np.float64, (8, 8))
    for fn, args in [(lambda a: a[a > 0], (x,)),  # a boolean mask
                     (lambda a, i: a[i, i], (x, np.array([1, 2]))),  # two arrays
                     (lambda a, i: a[0, i], (x, np.array([1, 2]))),  # an int with an array
                     (lambda a, i: a[i], (x, np.array([1.0])))]:  # float indices: NumPy raises
        jf = jit_now(fn)
        try:
            want = fn(*args)
        except IndexError as e:
            with pytest.raises(IndexError, match=str(e)[:20]):
                jf(*args)
            continue
        assert_same(want, jf(*args))
        s = jf.stats()
        assert s["graph_breaks"] or s["fallback_calls"], s


def test_explain_shows_the_gather():
    import tracejit
    text = tracejit.explain(lambda a, i: a[i] + 1, data(np.float32, (5, 2)), np.array([1, 4]))
    assert "gather" in text, text


# Integers known only at run time: NumPy's integer indexing (a view, or an element).

def test_runtime_integer_index_element_and_row():
    x = data(np.float32, (30, 6))
    s = data(np.float64, 30, seed=4)
    check(lambda a, sc: a[np.argmax(sc)] * 2, x, s)  # a row (a view, then a new array)
    check(lambda a, sc: a[np.argmin(sc), 3] + 1, x, s)  # an element
    check(lambda a, sc: a[:, np.argmax(sc[:6])] * 1, x, s)  # a column
    v = data(np.int16, 30)
    got = check(lambda a, sc: a[np.argmax(sc)], v, s)  # an element of a 1-d array: a NumPy scalar
    assert isinstance(got, np.int16)
    check(lambda a, sc: a[..., np.argmax(sc[:6])] * 1, x, s)
    m3 = data(np.float64, (4, 5, 6))
    check(lambda a, sc: a[np.argmax(sc[:4]), :, np.argmin(sc[:6])] - 1, m3, s)


def test_runtime_integer_index_negative_and_out_of_bounds():
    x = data(np.float64, (10, 3))
    fn = lambda a, k: a[k - 12] * 1.0  # noqa: E731  (k - 12 is negative: from the end)
    jf = jit_now(fn)
    assert_same(fn(x, np.int64(5)), jf(x, np.int64(5)))
    for k in (np.int64(1), np.int64(30)):  # -11 and 18: out of bounds
        with pytest.raises(IndexError) as want:
            fn(x, k)
        with pytest.raises(IndexError) as got:
            jf(x, k)
        assert str(got.value) == str(want.value)


def test_runtime_integer_index_view_semantics_stay_numpys():
    # A row taken by a runtime index is a view: writing through it, or to the array while it
    # lives, must reach the other (runs eagerly, as for any view); the answers are NumPy's.
    def write_through(a, sc):
        row = a[np.argmax(sc)]
        row[0] = -5.0
        return a.sum()

    def write_under(a, sc):
        row = a[np.argmax(sc)]
        a[...] = 1.0
        return row.sum()

    s = data(np.float64, 8, seed=2)
    for fn in (write_through, write_under):
        want_x, got_x = data(np.float64, (8, 3)), data(np.float64, (8, 3))
        want = fn(want_x, s)
        got = jit_now(fn)(got_x, s)
        assert_same(want, got)
        assert_same(want_x, got_x)
    # Returned, the view runs eagerly too: the caller gets NumPy's view of its array.
    x = data(np.float64, (8, 3))
    jf = jit_now(lambda a, sc: a[np.argmax(sc)])
    r = jf(x, s)
    assert np.shares_memory(r, x)


# np.take_along_axis: one gather from the flattened array at computed flat indices.

@pytest.mark.parametrize("xdt", [np.bool_, np.int8, np.uint64, np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("idt", [np.int8, np.uint16, np.int64], ids=lambda d: np.dtype(d).name)
def test_take_along_axis_every_axis(xdt, idt):
    x = data(xdt, (5, 6, 7))
    for axis in (0, 1, 2, -1):
        n = x.shape[axis]
        shape = list(x.shape)
        shape[axis] = 4
        idx = indices(n, tuple(shape), idt)
        check(lambda a, i: np.take_along_axis(a, i, axis=axis), x, idx)


def test_take_along_axis_broadcast_none_and_patterns():
    x = data(np.float64, (8, 9))
    check(lambda a, i: np.take_along_axis(a, i, axis=1), x, indices(9, (1, 3), np.int64))  # rows broadcast
    check(lambda a, i: np.take_along_axis(a, i, axis=0), x[:1], indices(1, (4, 9), np.int64))  # arr broadcast
    check(lambda a, i: np.take_along_axis(a, i, axis=None) + 1, x, indices(72, 30, np.int32))
    check(lambda a: np.take_along_axis(a, np.argmax(a, axis=1, keepdims=True), axis=1), x)  # the max per row
    check(lambda a, i: np.take_along_axis(a.T, i, 1) * 2, x, indices(8, (9, 2), np.int64))  # a transposed input


def test_take_along_axis_out_of_bounds_raises_numpys_index_error():
    x = data(np.float32, (4, 5))
    fn = lambda a, i: np.take_along_axis(a, i, axis=1)  # noqa: E731
    jf = jit_now(fn)
    for bad in (np.array([[5]] * 4), np.array([[-6]] * 4)):
        with pytest.raises(IndexError) as want:
            fn(x, bad)
        with pytest.raises(IndexError) as got:
            jf(x, bad)
        assert str(got.value) == str(want.value)
