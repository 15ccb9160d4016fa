"""Loops over arrays: `for row in x`, enumerate(x) and zip(x, y) unroll over the rows, each row
x[i] made when the loop takes it (as eager NumPy's iterator reads it), compared with eager NumPy.
Longer loops, 0-d arrays and graph breaks inside such a loop run eagerly with the reason."""
import numpy as np
import pytest

from conftest import assert_compiled, assert_same, eager_sort, jit_now, random_array


def row_sums(x):
    best = x[0].sum()
    for row in x:
        best = np.maximum(best, row.sum())
    return best


def weighted(x, w):
    acc = np.zeros(x.shape[1:], x.dtype)
    for i, row in enumerate(x):
        acc = acc + row * w[i]
    return acc


def zipped(x, y):
    total = 0.0
    for a, b in zip(x, y):
        total = total + (a * b).sum()
    return total


def scalars(v):
    s = v[0] * 0
    for e in v:  # a 1-d array's items are NumPy scalars
        s = s + e * e
    return s


def unpack_rows(p):
    a, b, c = p
    return a * 2 + b - c


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32, np.uint8], ids=str)
@pytest.mark.parametrize("shape", [(5, 3), (1, 4), (0, 3), (4, 2, 3), (7,)], ids=str)
def test_loops_over_rows(dtype, shape):
    x = random_array(dtype, shape, seed=1)
    w = random_array(dtype, shape[:1], seed=2)
    cases = [(scalars, (x,))] if len(shape) == 1 else [(weighted, (x, w)), (zipped, (x, x[::-1].copy()))]
    if shape[0] > 0 and len(shape) > 1:
        cases.append((row_sums, (x,)))
    # Sums of floats: the compiled reduction adds in another order (within the stated bounds).
    rtol = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}.get(np.dtype(dtype), 0.0)
    for fn, args in cases:
        with np.errstate(all="ignore"):
            want = fn(*args)
            jf = jit_now(fn)
            got = jf(*args)
        assert_same(want, got, rtol=rtol)
        assert_compiled(jf)


def test_rows_of_views_and_transposes():
    x = random_array(np.float64, (6, 4), seed=3)
    for arg in (x[::2], x.T, x[1:, ::-1]):
        want = weighted(arg, np.arange(arg.shape[0], dtype=np.float64))
        jf = jit_now(weighted)
        assert_same(want, jf(arg, np.arange(arg.shape[0], dtype=np.float64)), rtol=1e-12)
        assert_compiled(jf)


def test_update_in_the_body_is_seen_by_later_rows():
    def f(v):
        for e in v:
            v[-1] += e  # eager reads v[-1] after the updates before it
        return v

    def g(x):
        total = np.zeros(x.shape[1])
        for i, row in enumerate(x):
            total = total + row
            if i + 1 < x.shape[0]:
                x[i + 1] = x[i + 1] * 2  # the next row, read after this update
        return total

    for fn, x in ((f, np.arange(5.0)), (g, random_array(np.float64, (4, 3), seed=4))):
        want = fn(x.copy())
        x2 = x.copy()
        jf = jit_now(fn)
        got = jf(x2)
        assert_same(want, got)
        want_x = x.copy()
        fn(want_x)
        assert_same(want_x, x2)  # the caller's array updated as eager updates it
        if fn is f:
            assert_compiled(jf)
        else:  # g writes x while `row`, a view of x, is alive: eager, with the reason
            assert "view of it is alive" in " ".join(jf.stats()["fallback_reasons"])


def test_zip_stops_at_the_shortest():
    x = random_array(np.float32, (5, 2), seed=5)
    y = random_array(np.float32, (3, 2), seed=6)
    jf = jit_now(zipped)
    assert_same(zipped(x, y), jf(x, y))
    assert_compiled(jf)


def test_unpacking_rows():
    for p in (random_array(np.float64, (3, 8), seed=7), random_array(np.int32, (3,), seed=8),
              random_array(np.float32, (8, 3), seed=9).T):
        jf = jit_now(unpack_rows)
        assert_same(unpack_rows(p), jf(p))
        assert_compiled(jf)
    for bad, exc in ((np.ones((2, 8)), "not enough values to unpack"), (np.ones((4, 8)), "too many values to unpack"),
                     (np.array(1.0), "0-d array")):
        with pytest.raises((TypeError, ValueError), match=exc):
            unpack_rows(bad)
        with pytest.raises((TypeError, ValueError), match=exc):
            jit_now(unpack_rows)(bad)


def test_eager_with_reason_where_not_traced():
    def over_0d(x):
        t = 0
        for e in x:
            t += e
        return t

    jf = jit_now(over_0d)
    with pytest.raises(TypeError, match="0-d array"):
        jf(np.array(2.0))

    long_x = np.ones((300, 2))
    jf = jit_now(row_sums)
    assert_same(row_sums(long_x), jf(long_x))
    reasons = " ".join(str(r) for r in jf.stats()["fallback_reasons"])
    assert "too long to unroll" in reasons, jf.stats()


def test_graph_break_inside_a_loop_over_rows():
    def f(x):
        t = x[0] * 0
        for row in x:
            t = t + eager_sort(row)  # an untraced call: a graph break inside the loop
        return t

    x = random_array(np.float64, (4, 5), seed=10)
    jf = jit_now(f)
    assert_same(f(x), jf(x))
    reasons = " ".join(jf.stats()["fallback_reasons"] + jf.stats()["graph_break_reasons"])
    assert "loop over an array's rows" in reasons, jf.stats()
