"""Scalar work inside loop bodies (issue #5): merges of scalars whose Python type differs
(`x[i] if c else 0.0`), Python int arithmetic on the loop variable (`i // 2`, `i % 2 == 0`),
branches whose arms store into arrays, reductions over windows of runtime extent. Every case
is compared with eager NumPy (type, dtype, bits, in-place updates of arguments), runs several
times, and is asserted compiled (or, where the answer would depend on the data's type, to fall
back with the reason)."""
import re

import numpy as np
import pytest

import tracejit
from conftest import assert_same


def jit(f, **kw):
    return tracejit.jit(f, hot=0, sync=True, **kw)


def copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def check(f, *args, compiled=True, calls=3, native=None):
    """f eagerly and jitted (`calls` times): same results and same in-place updates of array
    arguments. compiled: every call ran compiled (or, False, none did and a reason is given).
    native: how many loop regions must be native loop nests."""
    want_args = copies(args)
    want = f(*want_args)
    jf = jit(f)
    for _ in range(calls):
        got_args = copies(args)
        got = jf(*got_args)
        assert_same(want, got)
        for w, g in zip(want_args, got_args):
            if isinstance(w, np.ndarray):
                assert_same(w, g)
    st = jf.stats()
    if compiled:
        assert st["compiled_calls"] == calls and st["fallback_calls"] == 0, st
    else:
        # Not compiled as one graph: the whole call ran eagerly, or (where the statement is in
        # the function's own frame) the trace ended there with a graph break; either way a reason.
        assert (st["compiled_calls"] == 0 and st["fallback_reasons"]) or st["graph_breaks"] > 0, st
    if native is not None:
        (entry,) = jf.cache_info()
        loops = entry["loops"]
        assert loops["native"] == native and loops["not_native"] == [], loops
    return jf


def reasons(jf):
    st = jf.stats()
    return " ".join(st["fallback_reasons"] + st["graph_break_reasons"])


RNG = np.random.default_rng(11)


# --- 1. merges of scalars of different kinds


def relu_expr(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        v = x[i] if x[i] > 0 else 0.0  # a NumPy scalar or a Python float
        out[i] = v
    return out


def relu_scaled(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        v = x[i] if x[i] > 0 else 0.0
        out[i] = v * 2.0 + 1.0  # weak Python floats: x's dtype either way (NEP 50)
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_scalar_or_python_float_flows_into_stores(dtype):
    x = RNG.standard_normal(300).astype(dtype)
    x[5] = np.nan  # NaN > 0 is False: the Python float arm
    x[7] = -0.0
    check(relu_expr, x, native=1)
    check(relu_scaled, x, native=1)


def test_int_element_or_python_number_stored_into_arrays():
    def int_or_float(a):
        out = np.zeros(a.shape[0])  # float64
        for i in range(a.shape[0]):
            out[i] = a[i] if a[i] > 3 else 0.5  # NumPy int64 or a Python float
        return out

    def int_or_int(a):
        out = np.zeros(a.shape[0], dtype=a.dtype)
        for i in range(a.shape[0]):
            v = a[i] if a[i] > 3 else 0  # NumPy int or a Python int
            out[i] = v + 1
        return out

    def narrow_or_float(a):
        out = np.zeros(a.shape[0], dtype=np.float32)
        for i in range(a.shape[0]):
            v = a[i] if a[i] > 3 else 0.25
            out[i] = v * 2  # int16 * 2 is int16, 0.25 * 2 a Python float: both stored as float32
        return out

    a = RNG.integers(-9, 9, 200)
    check(int_or_float, a, native=1)
    for dt in (np.int64, np.int32, np.uint8):
        check(int_or_int, np.abs(a).astype(dt), native=1)
    check(narrow_or_float, a.astype(np.int16), native=1)


def test_mixed_scalar_times_an_array_merges_arrays_of_one_dtype():
    def scale(x):
        v = x[0] if x[0] > 0 else 0.5
        return x * v  # float32 array times np.float32 or a weak Python float: float32 both

    for x in (np.array([1.5, 2.0], np.float32), np.array([-1.5, 2.0], np.float32), np.array([-1.5, 2.0])):
        check(scale, x)


def test_conditions_and_negation_of_mixed_scalars():
    def f(x):
        out = np.zeros_like(x)
        for i in range(x.shape[0]):
            v = x[i] if x[i] > 0 else 0
            out[i] = -v + 1 if v else v * 3  # the truth of whichever arm ran
        return out

    check(f, RNG.integers(-3, 3, 100).astype(np.float64))


def test_mixed_scalars_whose_type_shows_fall_back_with_the_right_answer():
    def returned(x):
        return x[0] if x[0] > 0 else 0.0

    def formatted(x):
        v = x[0] if x[0] > 0 else 0.0
        return f"{v}"

    def typed(x):
        v = x[0] if x[0] > 0 else 0.0
        return isinstance(v, float)

    def promoted(x, y):
        v = y[0] if y[0] > 0 else 0.5  # np.float64 is strong against a float32 array, 0.5 weak
        return x * v

    def summed(x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + (x[i] if x[i] > 0 else 0.0)  # stays a Python float while every x[i] <= 0
        return s

    for x in (np.array([1.5, 2.0]), np.array([-1.5, 2.0])):
        # Returned, the type shows no more: the kernel gives the condition and both values, the
        # caller gets the one that ran (OutputNode Choice).
        check(returned, x)
        check(formatted, x, compiled=False)
        check(typed, x, compiled=False)
        jf = check(promoted, np.ones(3, np.float32), x, compiled=False)
        assert "float32" in reasons(jf) or "array in one arm" in reasons(jf), reasons(jf)
    # A loop region carries it as a float64 and whether it is still the Python float.
    check(summed, -np.ones(20))
    check(summed, np.r_[-np.ones(10), np.ones(10)])


# --- 2. Python int arithmetic on the loop variable and values derived from it


def python_int_ops(x):
    out = np.zeros((x.shape[0], 8), dtype=np.int64)
    for i in range(x.shape[0]):
        k = i - 37  # negative for the first iterations: floor rules matter
        out[i, 0] = k // 4
        out[i, 1] = k % 4
        out[i, 2] = k // -3 + k % -3
        out[i, 3] = (k & 12) | (i ^ 5)
        out[i, 4] = (i << 3) + (k >> 2) + ~k
        out[i, 5] = k ** 2 + abs(k) - (-k)
        out[i, 6] = (i > 40) + (k <= 0) * 10 + (i % 2 == 0) * 100
        out[i, 7] = min(i, 50) + max(k, -3)
    return out


def test_python_int_operators_on_the_loop_variable_are_a_native_loop():
    x = np.zeros(300)
    jf = check(python_int_ops, x, native=1)
    assert "unrolled" not in tracejit.explain(python_int_ops, x)


def test_derived_ints_index_and_compare():
    def halves(x):
        out = np.zeros_like(x)
        for i in range(x.shape[0]):
            j = i // 2
            out[i] = x[j] if i > j else x[i] * 2.0  # i > j except at i = 0
        return out

    def parity(x):
        out = np.zeros_like(x)
        for i in range(x.shape[0]):
            out[i] = x[i] if i % 2 == 0 else -x[x.shape[0] - 1 - i]
        return out

    def floats(x):
        out = np.zeros_like(x)
        for i in range(x.shape[0]):
            out[i] = i / 3 + (i - 5) * 0.5 + (1.0 if i / 7 > 2.5 else 0.0)
        return out

    def two_loops(A):
        out = np.zeros(A.shape[0] * A.shape[1])
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                out[i * A.shape[1] + j] = A[i, j] if i > j else -A[i, j]  # i * n: a runtime product
        return out

    x = RNG.standard_normal(201)
    check(halves, x, native=1)
    check(parity, x, native=1)
    check(floats, x, native=1)
    check(two_loops, RNG.standard_normal((30, 20)), native=1)  # (a nest counts once)


def test_division_by_a_value_that_may_be_zero_falls_back_and_raises_like_python():
    def div(x):
        out = np.zeros(x.shape[0], dtype=np.int64)
        for i in range(x.shape[0]):
            out[i] = 100 // (i - 150)
        return out

    def mod(x):
        out = np.zeros(x.shape[0], dtype=np.int64)
        for i in range(x.shape[0]):
            out[i] = 100 % (i - 150)
        return out

    def truediv(x):
        out = np.zeros(x.shape[0])
        for i in range(x.shape[0]):
            out[i] = 1 / (i - 150)
        return out

    def safe(x):  # the divisor's range excludes 0: compiled
        out = np.zeros(x.shape[0], dtype=np.int64)
        for i in range(x.shape[0]):
            out[i] = 1000 // (i + 1) + 1000 % (i - 300) + (1 / (i + 1) > 0.01)
        return out

    for f in (div, mod, truediv):
        with pytest.raises(ZeroDivisionError) as eager:
            f(np.zeros(200))
        jf = jit(f)
        with pytest.raises(ZeroDivisionError) as jitted:
            jf(np.zeros(200))
        assert str(jitted.value) == str(eager.value)
        assert jf.stats()["compiled_calls"] == 0
        check(f, np.zeros(100))  # a range without 0: compiled
    check(safe, np.zeros(200), native=1)


def test_python_ints_beyond_int64_are_not_wrapped():
    def big(x):
        out = np.zeros(x.shape[0])
        for i in range(x.shape[0]):
            out[i] = float((i + 2) ** 40 % 1000)  # (i + 2) ** 40 leaves int64: Python's big ints
        return out

    def shifted(x):
        out = np.zeros(x.shape[0])
        for i in range(x.shape[0]):
            out[i] = (i << 60) / 3.0  # beyond int64 for i >= 8
        return out

    for f in (big, shifted):
        # Short: unrolled, every value a constant Python computes exactly; the region says why not.
        check(f, np.zeros(50))
        assert "int64 range" in tracejit.explain(f, np.zeros(50))
        jf = check(f, np.zeros(300), compiled=False)  # too long to unroll: eager
        assert "int64 range" in reasons(jf), reasons(jf)


# --- 3. branches whose arms store into arrays


def relu_loop(x):
    for i in range(x.shape[0]):
        if x[i] < 0:
            x[i] = 0
    return x


def abs_in_place(x):
    for i in range(x.shape[0]):
        if x[i] < 0:
            x[i] = -x[i]
    return x


def threshold(a, m):
    out = np.zeros_like(a)
    for i in range(a.shape[0]):
        if a[i] > m:
            out[i] = a[i]
        else:
            out[i] = 0
    return out


def split_pos_neg(a):
    pos = np.zeros_like(a)
    neg = np.zeros_like(a)
    for i in range(a.shape[0]):
        if a[i] >= 0:
            pos[i] = a[i]  # different arrays in the two arms
        else:
            neg[a.shape[0] - 1 - i] = a[i]  # ... at different indices
    return pos, neg


def prefix_max(x):
    out = np.empty_like(x)
    m = x[0]
    for i in range(x.shape[0]):
        if x[i] > m:
            m = x[i]
        out[i] = m
    return out


def bubble_pass(x):
    # one pass of bubble sort: a conditional swap of neighbours (the second store reads what
    # the first one wrote only when the swap happens)
    for i in range(x.shape[0] - 1):
        if x[i] > x[i + 1]:
            t = x[i]
            x[i] = x[i + 1]
            x[i + 1] = t
    return x


def lcs_if(a, b):
    n, m = a.shape[0], b.shape[0]
    L = np.zeros((n + 1, m + 1), dtype=np.int64)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if a[i - 1] == b[j - 1]:
                L[i, j] = L[i - 1, j - 1] + 1
            else:
                L[i, j] = max(L[i - 1, j], L[i, j - 1])
    return L[n, m], L


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int16])
def test_arms_storing_elements_are_native_loops(dtype):
    x = (RNG.standard_normal(500) * 10).astype(dtype)
    if x.dtype.kind == "f":
        x[3], x[9] = np.nan, -0.0
    check(relu_loop, x, native=1)
    check(abs_in_place, x, native=1)
    check(threshold, x, dtype(1) if x.dtype.kind == "i" else 0.5, native=1)
    check(split_pos_neg, x, native=1)
    check(prefix_max, x, native=1)
    check(bubble_pass, x, native=1)


def test_arms_storing_in_a_nest():
    rng = np.random.default_rng(9)
    a, b = rng.integers(0, 4, 120), rng.integers(0, 4, 90)
    ir = tracejit.explain(lcs_if, a, b)
    assert "dyn_update" in ir and "unrolled" not in ir, ir
    check(lcs_if, a, b, native=1)


def test_nested_branches_and_stores_in_both_arms():
    def classify(a, out, counts):
        for i in range(a.shape[0]):
            if a[i] > 0:
                if a[i] > 1:
                    out[i] = 2
                    counts[2] += 1
                else:
                    out[i] = 1
                    counts[1] += 1
            elif a[i] < -1:
                out[i] = -2
            else:
                counts[0] = counts[0] + 1
        return out, counts

    a = RNG.standard_normal(400) * 1.5
    check(classify, a, np.zeros(400, dtype=np.int8), np.zeros(3, dtype=np.int64), native=1)


def test_stores_in_arms_of_unrolled_code_and_windows():
    def short(x):  # 5 iterations: unrolled, static indices
        for i in range(5):
            if x[i] > x[i + 1]:
                x[i], x[i + 1] = x[i + 1], x[i]
        return x

    def windows(A):
        for k in range(A.shape[0]):
            if A[k, k] < 0:
                A[k, k:] = -A[k, k:]  # a window of runtime extent, negated when the pivot is
        return A

    def outside(x, y):
        if x.sum() > y.sum():
            x[1:3] = y[:2]
        else:
            y[0] = 7
        return x, y

    for x in (RNG.standard_normal(6), np.arange(6.0)[::-1].copy()):
        check(short, x)
    check(windows, RNG.standard_normal((40, 40)), native=1)
    check(outside, np.arange(4.0), np.ones(4))
    check(outside, np.zeros(4), np.ones(4))


def test_stores_in_arms_that_still_fall_back():
    def into_list(x, acc):
        for i in range(x.shape[0]):
            if x[i] > 0:
                acc[0] = i  # a Python list: a container store
        return acc

    def view_alive(x):
        v = x[2:]
        if x[0] > 0:
            x[0] = 5.0
        return v

    # A container store in an arm inside a loop region is a deferred effect under the arm's
    # condition (tests/python/test_loop_effects.py): compiled, performed per iteration.
    jf = check(into_list, RNG.standard_normal(300), [0])
    assert "performed per iteration" in reasons(jf), reasons(jf)
    for x in (np.arange(4.0), -np.arange(4.0) - 1):
        check(view_alive, x, compiled=False)


# --- 4. reductions over windows of runtime extent


def row_prefix_sums(A):
    out = np.zeros(A.shape[0], dtype=A.dtype)
    for i in range(A.shape[0]):
        out[i] = A[i, :i].sum()  # 0 for the empty window at i = 0
    return out


def column_tail_sums(A):
    out = np.zeros(A.shape[1], dtype=A.dtype)
    for k in range(A.shape[1]):
        out[k] = A[k:, k].sum()  # a strided window
    return out


def tail_extremes(A):
    n = A.shape[0]
    out = np.zeros((n - 1, 4), dtype=A.dtype)
    idx = np.zeros((n - 1, 2), dtype=np.int64)
    for k in range(n - 1):
        out[k, 0] = A[k + 1:, k].max()
        out[k, 1] = A[k, k + 1:].min()
        out[k, 2] = np.abs(A[k:, k]).max()
        out[k, 3] = A[k, :k + 1].max()
        idx[k, 0] = np.abs(A[k:, k]).argmax()
        idx[k, 1] = A[k, k:].argmin() + k
    return out, idx


def int_dots(A, x):
    out = np.zeros(A.shape[0], dtype=A.dtype)
    for i in range(A.shape[0]):
        out[i] = np.dot(A[i, :i], x[:i]) + A[i, i:] @ x[i:]
    return out


def lu_pivot(A):
    # LU with partial pivoting: the pivot search is an argmax over the column's tail, the row
    # swap element by element at the runtime pivot row (an index bounded by the window: k..n-1)
    n = A.shape[0]
    perm = np.arange(n)
    for k in range(n - 1):
        p = np.abs(A[k:, k]).argmax() + k
        for j in range(n):
            t = A[k, j]
            A[k, j] = A[p, j]
            A[p, j] = t
        t = perm[k]
        perm[k] = perm[p]
        perm[p] = t
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
    return A, perm


@pytest.mark.parametrize("n", [9, 40, 200, 300])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_float_window_sums_are_numpys_pairwise_sums_bit_for_bit(n, dtype):
    A = RNG.standard_normal((n, n)).astype(dtype) * 10
    check(row_prefix_sums, A, native=1)
    check(column_tail_sums, A, native=1)


@pytest.mark.filterwarnings("ignore:overflow encountered")  # (eager uint8 dots wrap, warning)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_window_sums_and_dots_are_exact(dtype):
    A = RNG.integers(0, 200, (60, 60)).astype(dtype)
    def into(A, out):  # .sum() of small ints is int64 / uint64 (NumPy's dtype): stored as such
        for i in range(A.shape[0]):
            out[i] = A[i, :i].sum() + A[i:, i].sum()
        return out

    check(into, A, np.zeros(60, dtype=A.sum().dtype), native=1)
    # The uint8 scalar sums wrap; NumPy's scalar math reports that (a warning by default: the
    # compiled call then re-runs eagerly, see test_scalar_overflow.py). Ignored here, both ways.
    with np.errstate(over="ignore"):
        check(int_dots, A, RNG.integers(0, 200, 60).astype(dtype), native=1)  # wraps as NumPy's


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int16])
def test_max_min_argmax_argmin_over_windows(dtype):
    A = (RNG.standard_normal((70, 70)) * 50).astype(dtype)
    A[5, 5] = A[9, 5]  # ties: the first index wins
    if A.dtype.kind == "f":
        A[20, 12] = np.nan  # NaN propagates through max, argmax points at it
        A[30, 40] = np.nan
    check(tail_extremes, A, native=1)


def test_max_over_a_window_that_may_be_empty_is_not_compiled_as_such():
    def f(A):
        out = np.zeros(A.shape[0])
        for i in range(A.shape[0]):
            out[i] = A[i, :i].max()  # empty at i = 0: NumPy raises
        return out

    A = RNG.standard_normal((10, 10))
    with pytest.raises(ValueError) as eager:
        f(A)
    jf = jit(f)
    with pytest.raises(ValueError) as jitted:
        jf(A)
    assert str(jitted.value) == str(eager.value)
    assert jf.stats()["compiled_calls"] == 0


@pytest.mark.parametrize("n", [10, 60, 200])
def test_lu_with_partial_pivoting_is_one_native_nest(n):
    A = RNG.standard_normal((n, n))
    jf = check(lu_pivot, A, native=1)
    LU, perm = jf(A.copy())
    L, U = np.tril(LU, -1) + np.eye(n), np.triu(LU)
    np.testing.assert_allclose(L @ U, A[perm], atol=1e-9 * n)  # (a sanity check of the example)


def test_a_name_bound_in_one_arm_only():
    def read_later(x):
        if x[0] > 0:
            t = x[0]
        return t * 2  # UnboundLocalError when x[0] <= 0

    def never_read(x):
        if x[0] > 0:
            t = 1.0
        if x[1] > 0:
            t = 2.0  # (t may still be unbound in the other arm)
        x[2] = x[0] + x[1]
        return x

    x = np.array([1.5, -2.0, 0.0])
    check(read_later, x, compiled=False)
    with pytest.raises(UnboundLocalError):
        jit(read_later)(-x)
    for v in (x, -x, np.array([1.0, 1.0, 0.0])):
        check(never_read, v)


def test_store_conditions_follow_each_jump_form():
    def negated(x):
        for i in range(x.shape[0]):
            if not (x[i] > 0):
                x[i] = 0
        return x

    def else_only(x):
        for i in range(x.shape[0]):
            if x[i] > 0:
                pass
            else:
                x[i] = 1
        return x

    def and_or(x, y):
        for i in range(x.shape[0]):
            if x[i] > 0 and y[i] < 0:
                x[i] = y[i]
            elif x[i] < -1 or y[i] > 1:
                y[i] = x[i]
        return x, y

    x, y = RNG.standard_normal(300), RNG.standard_normal(300)
    check(negated, x, native=1)
    check(else_only, x, native=1)
    check(and_or, x, y, native=1)


def test_constant_index_element_stores_in_loop_bodies_are_native():
    def tally(a, counts, M):
        for i in range(a.shape[0]):
            counts[0] += 1
            if a[i] > 0:
                counts[-1] = counts[-1] + a[i]  # (a negative constant index)
            M[1, 0] = M[1, 0] * 0.5 + a[i]
        return counts, M

    check(tally, RNG.standard_normal(500), np.zeros(3), np.ones((2, 2)), native=1)


def test_not_of_runtime_values_is_a_python_bool():
    def stored(x):
        out = np.zeros(x.shape[0], dtype=np.int64)
        for i in range(x.shape[0]):
            c = not (i % 3 == 0)
            d = not x[i] > 0
            out[i] = c + 2 * d  # Python bools add up as ints
        return out

    def returned(x):
        return not x[0] > 0  # a Python bool whose value is data: True or False is returned

    check(stored, RNG.standard_normal(100), native=1)
    for x in (np.ones(2), -np.ones(2)):
        check(returned, x)


def test_mixed_kinds_through_arithmetic_with_other_dtypes():
    def f(a, y, out):
        for i in range(a.shape[0]):
            v = a[i] if a[i] > 0 else 0.5  # np.int64 or a Python float
            out[i] = v * y[i]  # int64 * float32 is float64, 0.5 * float32 stays float32 (NEP 50)
        return out

    def g(x, out):
        for i in range(x.shape[0]):
            v = x[i] if x[i] > 0 else 3  # np.float32 or a Python int
            w = v + 1  # float32 either way (3 + 1 is a Python int 4, stored as float64 exactly)
            out[i] = w / 3
        return out

    a = RNG.integers(-5, 1 << 40, 200)  # int64 values beyond float32's exact range
    y = RNG.standard_normal(200).astype(np.float32)
    check(f, a, y, np.zeros(200, dtype=np.float32), native=1)
    check(f, a, y, np.zeros(200), native=1)
    x = RNG.standard_normal(200).astype(np.float32)
    check(g, x, np.zeros(200), native=1)
    check(g, x, np.zeros(200, dtype=np.float32), native=1)


@pytest.mark.parametrize("value", [np.float64(3.5), np.float32(2.0), np.int16(7), np.bool_(True)])
def test_item_assignment_to_a_numpy_scalar_raises_typeerror(value):
    """`s[...] = v` on a NumPy scalar raises TypeError; the trace used to take the scalar for a
    0-d array and store into it."""
    def f(s):
        t = s + 1
        s[...] = t
        return t

    jf = tracejit.jit(f, sync=True, hot=0)
    for _ in range(2):
        with pytest.raises(TypeError, match="does not support item assignment"):
            f(value)
        with pytest.raises(TypeError, match="does not support item assignment"):
            jf(value)
    assert any("does not support item assignment" in r for r in jf.stats()["fallback_reasons"])
