"""Data-dependent indices in compiled loop regions (tracer/loops.cpp checked_index): an index
read from an array (`counts[labels[i]] += 1`, `y[i] = table[idx[i]]`, `A[row[k], col[k]] +=
val[k]`), or a runtime int that cannot be proved in bounds, is checked at run time by an
IndexCheck effect: negative indices wrap as in NumPy, and an index out of bounds stops the loop
there and raises eager's exception (type and message), with the arguments' in-place state as the
eager run leaves it.

Every case compares with the eager run (results, arguments afterwards, exceptions) and asserts
from stats() that the calls ran compiled (no fallback reason)."""
import copy

import numpy as np
import pytest

import tracejit

from conftest import assert_same

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


def outcome(fn, args):
    """(result, args afterwards, (exception type, message) or None) of fn on copies of args."""
    a = copy.deepcopy(args)
    try:
        return fn(*a), a, None
    except Exception as e:  # noqa: BLE001 - compared with eager
        return None, a, (type(e), str(e))


def check(f, args, calls=2, native=None):
    """Runs f eagerly and jitted (hot=0, `calls` times) on copies of args; everything equal, and
    every jitted call compiled. Returns the eager outcome and the jitted function."""
    want = outcome(f, args)
    j = tracejit.jit(f, sync=True, hot=0)
    for _ in range(calls):
        got = outcome(j, args)
        assert got[2] == want[2]
        if want[2] is None:
            assert_same(want[0], got[0])
        assert len(got[1]) == len(want[1])
        for x, y in zip(want[1], got[1]):
            if isinstance(x, np.ndarray):
                assert_same(x, y)
    s = j.stats()
    assert s["fallback_reasons"] == [] and s["fallback_calls"] == 0, s["fallback_reasons"]
    assert s["compiled_calls"] == calls, s
    assert s["graph_breaks"] == 0, s["graph_break_reasons"]  # a bounds check is no graph break
    if native is not None:
        (entry,) = j.cache_info()
        assert entry["loops"]["native"] == native, entry["loops"]
    return want, j


def hist(labels, k):
    counts = np.zeros(k, dtype=np.int64)
    for i in range(labels.shape[0]):
        counts[labels[i]] += 1
    return counts


def test_histogram_counts_repeated_labels():
    labels = np.random.default_rng(0).integers(0, 7, 1000)
    (want, _, _), _ = check(hist, (labels, 7), native=1)
    assert_same(np.bincount(labels, minlength=7), want)


def gather(table, idx, y):
    for i in range(idx.shape[0]):
        y[i] = table[idx[i]]
    return y


def test_gather_into_argument():
    rng = np.random.default_rng(1)
    check(gather, (rng.standard_normal(50), rng.integers(0, 50, 300), np.zeros(300)), native=1)


def scatter_add(out, idx, v):
    for i in range(idx.shape[0]):
        out[idx[i]] += v[i]


def test_scatter_add_repeated_indices_in_place():
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 5, 200)
    (_, args, _), _ = check(scatter_add, (np.zeros(5), idx, np.arange(200.0)))
    want = np.zeros(5)
    np.add.at(want, idx, np.arange(200.0))
    assert_same(want, args[0])


def coo(A, row, col, val):
    for k in range(row.shape[0]):
        A[row[k], col[k]] += val[k]
    return A


def test_coo_accumulate_2d():
    rng = np.random.default_rng(3)
    check(coo, (np.zeros((6, 4)), rng.integers(0, 6, 300), rng.integers(0, 4, 300), rng.standard_normal(300)), native=1)


def test_negative_indices_wrap():
    rng = np.random.default_rng(4)
    labels = rng.integers(-10, 10, 500)
    check(hist, (labels, 10))
    check(gather, (np.arange(10.0), rng.integers(-10, 10, 40), np.zeros(40)))
    check(coo, (np.zeros((3, 5)), rng.integers(-3, 3, 100), rng.integers(-5, 5, 100), rng.standard_normal(100)))


@pytest.mark.parametrize("dt", INT_DTYPES)
def test_every_integer_index_dtype(dt):
    lo = -12 if np.issubdtype(dt, np.signedinteger) else 0
    labels = np.random.default_rng(5).integers(lo, 12, 300).astype(dt)
    check(hist, (labels, 12), native=1)


@pytest.mark.parametrize("dt", INT_DTYPES)
@pytest.mark.parametrize("where", [0, 150, 299])
def test_out_of_bounds_first_middle_last_iteration(dt, where):
    # scatter_add updates `out` in place: the eager run raises with the iterations before the
    # bad index done; the compiled one must leave exactly that.
    idx = (np.arange(300) % 10).astype(dt)
    idx[where] = 10
    (_, args, exc), _ = check(scatter_add, (np.zeros(10), idx, np.arange(300.0)))
    assert exc == (IndexError, "index 10 is out of bounds for axis 0 with size 10")
    assert args[0].sum() == np.arange(where).sum()


@pytest.mark.parametrize("bad", [-11, -128, 2**31 - 1])
def test_out_of_bounds_negative_and_large(bad):
    dt = np.int32 if bad > 127 or bad < -128 else np.int8
    idx = np.zeros(40, dtype=dt)
    idx[20] = bad
    (_, _, exc), _ = check(scatter_add, (np.zeros(10), idx, np.ones(40)))
    assert exc == (IndexError, f"index {bad} is out of bounds for axis 0 with size 10")


def test_uint64_beyond_int64_is_eager_overflow_error():
    idx = np.arange(30, dtype=np.uint64) % 5
    idx[7] = 2**64 - 1
    (_, args, exc), _ = check(scatter_add, (np.zeros(5), idx, np.ones(30)))
    assert exc[0] is OverflowError
    assert args[0].sum() == 7.0


def test_out_of_bounds_second_axis_message():
    row = np.zeros(20, dtype=np.int64)
    col = np.ones(20, dtype=np.int64)
    col[9] = -6
    (_, args, exc), _ = check(coo, (np.zeros((3, 5)), row, col, np.ones(20)))
    assert exc == (IndexError, "index -6 is out of bounds for axis 1 with size 5")
    assert args[0][0, 1] == 9.0


def test_out_of_bounds_read_after_earlier_statements_of_the_iteration():
    def f(out, idx, table):
        for i in range(idx.shape[0]):
            out[i] = i  # done for the failing iteration too, as eagerly
            out[i] += table[idx[i]]

    idx = np.zeros(20, dtype=np.int64)
    idx[13] = 99
    (_, args, exc), _ = check(f, (np.zeros(20), idx, np.arange(4.0)))
    assert exc == (IndexError, "index 99 is out of bounds for axis 0 with size 4")
    assert args[0][13] == 13.0 and args[0][14] == 0.0


def test_zero_length_loop():
    check(hist, (np.zeros(0, dtype=np.int64), 4))
    check(scatter_add, (np.zeros(3), np.zeros(0, dtype=np.int64), np.zeros(0)))


def test_index_in_branch_arm_not_taken_does_not_raise():
    def f(idx, table, out):
        for i in range(idx.shape[0]):
            if idx[i] >= 0:
                out[i] = table[idx[i]]
        return out

    idx = np.random.default_rng(6).integers(-100, 8, 200)  # negatives out of bounds, never read
    check(f, (idx, np.arange(8.0), np.zeros(200)))
    idx[50] = 8
    (_, args, exc), _ = check(f, (idx, np.arange(8.0), np.zeros(200)))
    assert exc == (IndexError, "index 8 is out of bounds for axis 0 with size 8")
    assert args[2][50:].sum() == 0.0 and args[2][:50].sum() > 0


def test_counter_not_proved_in_bounds():
    def compact(x, out):
        j = 0
        for i in range(x.shape[0]):
            if x[i] > 0:
                out[j] = x[i]
                j += 1
        return j

    x = np.random.default_rng(7).standard_normal(100)
    check(compact, (x, np.zeros(100)))
    (_, args, exc), _ = check(compact, (x, np.zeros(10)))  # too small: eager raises part-way
    assert exc == (IndexError, "index 10 is out of bounds for axis 0 with size 10")


def test_loop_variable_out_of_bounds_in_late_iterations():
    def f(x, out):
        for i in range(out.shape[0]):
            out[i] = x[i + 5]
        return out

    check(f, (np.arange(20.0), np.zeros(12)))
    (_, args, exc), _ = check(f, (np.arange(20.0), np.zeros(16)))
    assert exc == (IndexError, "index 20 is out of bounds for axis 0 with size 20")
    assert_same(np.arange(5.0, 20.0), args[1][:15])


def test_union_find_roots_while_loop():
    def roots(parent, q, out):
        for k in range(q.shape[0]):
            x = q[k]
            while parent[x] != x:
                x = parent[x]
            out[k] = x
        return out

    parent = np.array([0, 0, 1, 2, 3, 5, 5, 6, 7, 8])
    check(roots, (parent, np.arange(10), np.zeros(10, dtype=np.int64)))
    bad = parent.copy()
    bad[4] = 42
    (_, _, exc), _ = check(roots, (bad, np.arange(10), np.zeros(10, dtype=np.int64)))
    assert exc == (IndexError, "index 42 is out of bounds for axis 0 with size 10")


def test_bool_and_float_indices_run_eagerly():
    # NumPy treats a bool scalar index as a mask and refuses a float: the tracer does not guess
    # (the subscript runs eagerly at a graph break, NumPy's IndexError included).
    def f(x, idx):
        s = 0.0
        for i in range(idx.shape[0]):
            s += x[idx[i]]
        return s

    for idx in (np.ones(20, dtype=bool), np.ones(20)):
        want = outcome(f, (np.arange(3.0), idx))
        j = tracejit.jit(f, sync=True, hot=0)
        got = outcome(j, (np.arange(3.0), idx))
        assert got[2] == want[2]
        if want[2] is None:
            assert_same(want[0], got[0])
        st = j.stats()
        assert any("indexing arg 'x'" in r for r in st["graph_break_reasons"]), st


def test_effect_before_the_loop_runs_eagerly_with_the_reason(capsys):
    # A failed check stops the program; after a deferred print outside the loop it could not stop
    # it in time: refused (the subscript, and the rest after it, run eagerly; the reason names
    # the check).
    def f(labels, k):
        print("start")
        counts = np.zeros(k, dtype=np.int64)
        for i in range(labels.shape[0]):
            counts[labels[i]] += 1
        return counts

    labels = np.random.default_rng(9).integers(0, 5, 100)
    j = tracejit.jit(f, sync=True, hot=0)
    assert_same(f(labels, 5), j(labels, 5))
    s = j.stats()
    assert any("deferred effect" in r for r in s["fallback_reasons"] + s["graph_break_reasons"]), s


def test_print_in_loop_then_out_of_bounds(capsys):
    def f(labels, k):
        counts = np.zeros(k, dtype=np.int64)
        for i in range(labels.shape[0]):
            print(i)
            counts[labels[i]] += 1
        return counts

    labels = np.zeros(30, dtype=np.int64)
    labels[17] = 5
    with pytest.raises(IndexError) as e1:
        f(labels, 5)
    eager_out = capsys.readouterr().out
    j = tracejit.jit(f, sync=True, hot=0)
    with pytest.raises(IndexError) as e2:
        j(labels, 5)
    assert str(e1.value) == str(e2.value) and capsys.readouterr().out == eager_out
    assert j.stats()["compiled_calls"] == 1 and j.stats()["fallback_calls"] == 0
