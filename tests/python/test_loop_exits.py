"""Counter-indexed scalar loops (issue #5): a Python int carried through a while loop and used
as an index is proved in bounds from the loop test, the counter's monotonic bounds and its
bounds before the loop (while_loops.cpp: refine_ranges, SlotFact; loops.cpp: bound-by-bound
widening), and the second operand of `j > 0 and a[j - 1] > key` reads in bounds whether or not
j > 0 holds (the compiled test evaluates both operands: the index is clamped where the first
does not hold). Every case is compared with eager NumPy and must run compiled."""
import numpy as np
import pytest

import tracejit
from conftest import assert_same


def ins_sort(a):
    for i in range(1, a.shape[0]):
        key = a[i]
        j = i
        while j > 0 and a[j - 1] > key:
            a[j] = a[j - 1]
            j -= 1
        a[j] = key
    return a


def bisect(a, v):
    lo, hi = 0, a.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


def gcds(p, q):
    out = np.empty_like(p)
    for k in range(p.shape[0]):
        a = p[k]
        b = q[k]
        while b != 0:
            a, b = b, a % b
        out[k] = a
    return out


def count_down_sum(x, start):
    # A counter from an argument, read below the test `j >= 0`.
    j = start
    s = 0.0
    while j >= 0:
        s += x[j]
        j -= 1
    return s, j


def scan_up(x, t):
    # A counter from 0 whose test bounds it above by the array's length.
    i = 0
    while i < x.shape[0] and x[i] < t:
        i += 1
    return i


def same(got, want):
    assert_same(want, got)  # conftest: type, dtype, shape, values (NaN == NaN, signed zeros)


def run(f, *args):
    """f jitted (compiled at once) and eagerly on copies of args: the same result and the same
    in-place updates of the arrays; returns the jitted function's stats."""
    j = tracejit.jit(f, sync=True, hot=0)
    copies = lambda: [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    ea, ja = copies(), copies()
    same(j(*ja), f(*ea))
    for a, b in zip(ja, ea):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
    return j.stats()


def compiled(stats):
    assert stats["fallback_calls"] == 0, stats["fallback_reasons"]
    assert stats["compiled_calls"] >= 1
    assert stats["graph_breaks"] == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32])
@pytest.mark.parametrize("n", [0, 1, 2, 9, 50])
def test_insertion_sort(dtype, n):
    rng = np.random.default_rng(n)
    a = (rng.standard_normal(n) * 100).astype(dtype)
    compiled(run(ins_sort, a))


@pytest.mark.parametrize("data", ["sorted", "reversed", "equal", "nan"])
def test_insertion_sort_shapes(data):
    a = {"sorted": np.arange(20.0), "reversed": np.arange(20.0)[::-1].copy(), "equal": np.ones(20),
         "nan": np.array([3.0, np.nan, 1.0, 2.0, np.nan, 0.5] * 3)}[data]
    compiled(run(ins_sort, a))


def test_insertion_sort_runs_again_compiled():
    j = tracejit.jit(ins_sort, sync=True, hot=0)
    rng = np.random.default_rng(1)
    for _ in range(3):
        a = rng.standard_normal(30)
        np.testing.assert_array_equal(j(a.copy()), np.sort(a))
    st = j.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0 and st["compiles"] == 1


@pytest.mark.parametrize("v", [-10.0, -0.3, 0.0, 0.25, 10.0, np.nan])
@pytest.mark.parametrize("n", [0, 1, 7, 100])
def test_bisect(v, n):
    a = np.sort(np.random.default_rng(n).standard_normal(n))
    compiled(run(bisect, a, v))


def test_bisect_int32_and_duplicates():
    a = np.array([1, 2, 2, 2, 3, 5, 8, 8, 9], dtype=np.int32)
    for v in [0, 2, 8, 9, 10]:
        compiled(run(bisect, a, v))


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_gcd_pairs(dtype):
    rng = np.random.default_rng(3)
    p = rng.integers(0, 1000, 40).astype(dtype)
    q = rng.integers(0, 1000, 40).astype(dtype)
    q[:3] = 0
    compiled(run(gcds, p, q))


@pytest.mark.parametrize("start", [0, 3, 9])
def test_count_down(start):
    compiled(run(count_down_sum, np.arange(10.0), start))


@pytest.mark.parametrize("t", [-1.0, 0.5, 4.5, 100.0, np.nan])
def test_scan_up(t):
    compiled(run(scan_up, np.arange(10.0), t))
    compiled(run(scan_up, np.arange(0.0), t))


def wrap_read(x, k):
    # j - 1 is -1 when j == 0: eager reads the last element (Python's wraparound).
    j = k
    s = 0.0
    while j >= 0:
        s += x[j - 1]
        j -= 1
    return s


def next_sum(x):
    # x[i + 1] is in bounds only in the arm where i < n - 1 (the branch narrows i there).
    n = x.shape[0]
    i = 0
    s = 0.0
    while i < n:
        if i < n - 1:
            s += x[i + 1]
        else:
            s -= 1.0
        i += 1
    return s


def past_end(x, k):
    # x[j + 3] runs past the end when j > n - 4: the same IndexError as eager.
    j = k
    s = 0.0
    while j >= 0:
        s += x[j + 3]
        j -= 1
    return s


@pytest.mark.parametrize("k", [0, 1, 5, 9])
def test_negative_index_wraps_like_python(k):
    x = np.arange(10.0) ** 2
    compiled(run(wrap_read, x, k))


@pytest.mark.parametrize("n", [1, 2, 10])
def test_branch_narrows_counter(n):
    compiled(run(next_sum, np.arange(float(n)) + 1))


@pytest.mark.parametrize("k", [0, 6, 7, 9])
def test_index_out_of_range_same_error(k):
    x = np.arange(10.0)
    j = tracejit.jit(past_end, sync=True, hot=0)
    try:
        want = past_end(x, k)
    except IndexError as e:
        with pytest.raises(IndexError) as got:
            j(x, k)
        assert str(got.value) == str(e)
    else:
        assert j(x, k) == want


def test_short_circuit_test_reads_only_when_guarded():
    # j reaches 0: the test's `a[j - 1]` must not be read then (eager never evaluates it; the
    # compiled test evaluates it at a clamped index and discards it).
    a = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    compiled(run(ins_sort, a))
    a = np.array([1.0, np.nan, 0.0])
    compiled(run(ins_sort, a))


# --- early exits: a `break` on array data or runtime ints leaves a for region (traced as a
# while region then: the iteration number counts, the loop variable is start + k * step) or a
# while region, with the locals as eager leaves them.
# 3.12+ compile a `break` followed by the function's return (and a while loop's break whose exit
# block is short) as a copy of the code after the loop placed after the back edge (for loops:
# POP_TOP of the iterator; LOAD_FAST; RETURN_VALUE): region_break takes that copy as the loop's
# exit, so these compile on 3.11, 3.12 and 3.13 alike.


def first_above(x, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            break
    return i


def first_above_idx(x, t):
    idx = -1
    for i in range(x.shape[0]):
        if x[i] > t:
            idx = i
            break
    return idx


def first_nan_step(x):
    # A range with a start and a step; the break tests np.isnan.
    k = -1
    for i in range(1, x.shape[0], 2):
        if np.isnan(x[i]):
            k = i
            break
    return k, i


def acc_until(x, t):
    # Stores after the break point run only while no break was taken. (s starts as an array
    # scalar: a Python float would stay one when the first iteration breaks, a type the
    # compiled code cannot know in advance: that loop is not compiled.)
    s = x[0] * 0.0
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] > t:
            break
        s += x[i]
        out[i] = s
    return s, out, i


def converge(x, tol):
    # A convergence loop: `if err < tol: break` in the middle of the body.
    y = x.copy()
    for it in range(200):
        z = 0.5 * (y + x / y)
        err = np.abs(z - y).max()
        if err < tol:
            break
        y = z
    return y, it


def count_runs(x):
    c = 0
    for i in range(1, x.shape[0]):
        if x[i] != x[i - 1]:
            c += 1
    return c


def sum_until_negative(x):
    # A break on a runtime int inside a while region (in the middle of the body).
    i = 0
    s = x[0] * 0.0
    while i < x.shape[0] - 1 and x[i] >= 0:
        s += x[i]
        if s > 30.0:
            break
        i += 1
    return i, s


@pytest.mark.parametrize("t", [-1.0, 0.0, 5.5, 18.5, 19.0, 100.0, np.nan])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_break_first_above(t, dtype):
    x = np.arange(20).astype(dtype)
    compiled(run(first_above, x, t))
    compiled(run(first_above_idx, x, t))


def test_break_nan_data():
    x = np.array([np.nan] * 12)
    compiled(run(first_above, x, 0.0))
    compiled(run(first_above_idx, x, 0.0))


@pytest.mark.parametrize("where", [None, 1, 3, 9, 39])
def test_break_range_with_step(where):
    x = np.arange(40.0)
    if where is not None:
        x[where] = np.nan
    compiled(run(first_nan_step, x))


@pytest.mark.parametrize("t", [-1.0, 0.5, 7.5, 18.5, 100.0])
def test_break_guards_later_stores(t):
    compiled(run(acc_until, np.arange(20.0), t))
    compiled(run(acc_until, np.arange(20, dtype=np.float32), t))


@pytest.mark.parametrize("tol", [1e-3, 1e-12, 0.0])
def test_break_convergence(tol):
    compiled(run(converge, np.linspace(1.0, 4.0, 16), tol))


@pytest.mark.parametrize("n", [200, 1000])  # (unrolled, and a for region carrying the counter)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float64])
def test_count_runs(n, dtype):
    x = np.random.default_rng(n).integers(0, 2, n).astype(dtype)
    compiled(run(count_runs, x))
    compiled(run(count_runs, np.zeros(n, dtype=dtype)))


def count_down_in_for(x):
    # A Python-int counter in a for region that goes down and up with the data.
    c = 0
    for i in range(x.shape[0]):
        if x[i] > 0.5:
            c += 3
        else:
            c -= 1
    return c


def test_for_region_counter_both_ways():
    compiled(run(count_down_in_for, np.random.default_rng(5).random(1000)))


@pytest.mark.parametrize("t", [np.arange(20.0), np.r_[np.arange(5.0), -1.0, np.arange(14.0)], -np.ones(10)])
def test_break_in_while_region(t):
    compiled(run(sum_until_negative, t))


def return_in_for_body(x, t):
    # A return in a for body computes its value before it pops the iterator (LOAD_FAST i; SWAP;
    # POP_TOP; RETURN_VALUE): no copy of the exit block even where the code after the loop is
    # `return i` (the same results, however it runs).
    for i in range(x.shape[0]):
        if x[i] > t:
            return i
    return i


def return_from_inner_loop(x, t):
    # `return i` from the inner loop pops both iterators before the outer loop's exit code: not
    # the inner loop's exit (the same results, however it runs).
    for j in range(2):
        for i in range(x.shape[0]):
            if x[i] > t + j:
                return i
    return i


def while_return_copy(x, t):
    # A while loop's break copying the exit block (`return k, s`), with a counter and a sum.
    k = 0
    s = x[0] * 0.0
    while k < x.shape[0]:
        s = s + x[k]
        if s > t:
            break
        k += 1
    return k, s


def sum_until(x, t):
    # The function ends after the loop: the break's copy is the implicit `return None`.
    s = x[0] * 0.0
    for i in range(x.shape[0]):
        if x[i] > t:
            break
        s += x[i]


@pytest.mark.parametrize("t", [-1.0, 0.0, 7.5, 100.0, np.nan])
def test_break_copies_and_returns(t):
    x = np.arange(20.0)
    compiled(run(while_return_copy, x, t))
    compiled(run(sum_until, x, t))
    run(return_in_for_body, x, t)
    run(return_from_inner_loop, x, t)


def test_empty_range_leaves_name_unbound():
    # range(0): the loop variable is never bound: reading it raises as in eager.
    j = tracejit.jit(first_above, sync=True, hot=0)
    with pytest.raises(UnboundLocalError) as want:
        first_above(np.zeros(0), 0.0)
    with pytest.raises(UnboundLocalError) as got:
        j(np.zeros(0), 0.0)
    assert str(got.value) == str(want.value)


def while_sum(x):
    i = 0
    s = x[0] * 0.0
    while i < x.shape[0] and x[i] >= 0:
        s += x[i]
        i += 1
    return s


def test_long_while_loop_is_hot_after_its_first_call():
    # hot_loop: a cold call with while loops is timed (its iterations are unknown before it
    # runs); one as long as hot_loop iterations compiles at the next call.
    x = np.arange(20000.0)
    j = tracejit.jit(while_sum, sync=True)  # default hot, hot_loop
    assert j(x) == while_sum(x)
    assert j.stats()["fallback_calls"] == 1
    assert j(x) == while_sum(x)
    st = j.stats()
    assert st["compiled_calls"] == 1 and st["fallback_calls"] == 1, st


def test_short_while_loop_stays_cold():
    # The cold call is timed against hot_loop x 1 us; hot_loop is large here so that a
    # 3-iteration call preempted under load (CI) cannot count as long.
    x = np.arange(3.0)
    j = tracejit.jit(while_sum, sync=True, hot=3, hot_loop=100_000)
    for _ in range(2):
        assert j(x) == while_sum(x)
    assert j.stats()["compiled_calls"] == 0 and j.stats()["fallback_calls"] == 2


def break_in_first_iteration(x, t):
    # The test `i < n` is static in the first iteration (i is 0), which already meets the
    # break on array data: the loop is traced again as a region from its test.
    i = 0
    s = x[0] * 0.0
    while i < x.shape[0]:
        if x[i] > t:
            break
        s += x[i]
        i += 1
    return i, s


def python_float_accumulator(x, t):
    # s stays a Python float when the first iteration breaks, else becomes a NumPy float: a type
    # that depends on the data, so this runs eagerly (with the same result).
    i = 0
    s = 0.0
    while i < x.shape[0]:
        if x[i] > t:
            break
        s += x[i]
        i += 1
    return i, s


@pytest.mark.parametrize("t", [-1.0, 0.5, 4.5, 8.5, 100.0, np.nan])
def test_break_in_first_iteration_of_while(t):
    compiled(run(break_in_first_iteration, np.arange(10.0), t))
    compiled(run(break_in_first_iteration, np.arange(10, dtype=np.int32), t))


def test_python_float_accumulator_with_break_is_exact():
    for t in (-1.0, 4.5):
        st = run(python_float_accumulator, np.arange(10.0), t)
        assert st["compiled_calls"] == 0 or st["graph_breaks"] > 0


def counter_reset_by_constant(x, y):
    # k's exit is not only k + step (k = 200 in one arm): its bound after the loop must not be
    # derived from steps alone (k + 1 over 10 iterations would claim k <= 10, so that int8 + k
    # fits; NumPy raises OverflowError for int8 + 200).
    k = 0
    for i in range(x.shape[0]):
        k = 200 if x[i] > 0.5 else k + 1
    return y + k


def test_counter_bounds_after_for_region_are_sound():
    y = np.zeros(3, dtype=np.int8)
    for x in (np.zeros(10), np.ones(10), np.r_[np.ones(9), 0.0]):
        j = tracejit.jit(counter_reset_by_constant, sync=True, hot=0)
        try:
            want = counter_reset_by_constant(x, y)
        except OverflowError as e:
            with pytest.raises(OverflowError) as got:
                j(x, y)
            assert str(got.value) == str(e)
        else:
            same(j(x, y), want)
