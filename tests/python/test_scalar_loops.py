"""Scalar dynamic-programming loop nests: stores at the loop variable (dyn_update, any array
size), branches on runtime scalars (if-conversion into selects), min()/max() of runtime scalars
and runtime Python ints. Every case is compared with eager Python/NumPy: same values, same
types; cases that compile are asserted to run compiled, the rest to fall back with a reason."""
import importlib.util
import pathlib
import re

import numpy as np
import pytest

import tracejit
from conftest import assert_same

EXAMPLES = pathlib.Path(__file__).resolve().parent / "examples"


def jit(f, **kw):
    return tracejit.jit(f, hot=0, sync=True, **kw)


def check(f, *args, compiled=True, calls=2):
    """Runs f eagerly and jitted (`calls` times); the results must be the same objects as NumPy
    would give (type, dtype, shape, bits). Returns the jitted function."""
    want = f(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    jf = jit(f)
    for _ in range(calls):
        got = jf(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        assert_same(want, got)
    st = jf.stats()
    if compiled is None:  # bytecode-dependent (3.12+ copy short return tails into both arms)
        pass
    elif compiled:
        assert st["compiled_calls"] == calls and st["fallback_calls"] == 0, st
    else:  # not one graph: eager, or compiled around a graph break (resume)
        assert (st["compiled_calls"] == 0 and st["fallback_reasons"]) or st["graph_breaks"] > 0, st
    return jf


def reasons(jf):
    st = jf.stats()
    return " ".join(st["fallback_reasons"] + st["graph_break_reasons"])


def loop_ops(ir):
    return len(re.findall(r"= loop ", ir))


# --- the example


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"tj_example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_edit_distance_is_one_loop_nest_of_selects_and_element_updates():
    mod = load_example("edit_distance")
    f, (a, b) = mod.make_inputs(seed=0, n=40, m=30)
    ir = tracejit.explain(f, a, b)
    assert loop_ops(ir) == 4, ir  # two init loops, the i loop and the j loop inside it
    assert "dyn_update" in ir and "iota" not in ir  # element stores, not whole-array selects
    assert ir.count("where") >= 3  # the conditional expression and min()'s two steps
    jf = check(f, a, b)
    assert type(jf(a, b)) is np.int64


def test_edit_distance_runs_as_native_loops():
    # At the example's size the nest runs ~120k iterations: a kernel call per iteration would be
    # about as slow as NumPy, so every loop must be one native nest (speed itself is measured by
    # check.py and the benchmarks, never asserted here).
    mod = load_example("edit_distance")
    f, (a, b) = mod.make_inputs(seed=0)
    jf = jit(f)
    assert_same(f(a, b), jf(a, b))
    assert jf.stats()["compiled_calls"] == 1
    (entry,) = jf.cache_info()
    loops = entry["loops"]
    assert loops["regions"] == 3 and loops["native"] == 3 and loops["not_native"] == [], loops


@pytest.mark.parametrize("n,m", [(1, 1), (9, 12), (12, 8), (50, 3)])
def test_edit_distance_sizes_and_identical_inputs(n, m):
    mod = load_example("edit_distance")
    f, (a, b) = mod.make_inputs(seed=n, n=n, m=m)
    want = f(a, b)
    jf = jit(f)
    assert_same(want, jf(a, b))
    assert_same(f(a, a), jf(a, a))  # distance 0, (another signature for n != m)
    assert_same(f(a, a), np.int64(0))


# --- stores at the loop variable


def test_stores_of_the_loop_variable_itself():
    def fill(n):
        D = np.zeros((n + 1, 3), dtype=np.int64)
        for i in range(n + 1):
            D[i, 0] = i
            D[i, 1] = 2 * i - 5
            D[n - i, 2] = -i
        return D

    def as_float(n):
        x = np.zeros(n, dtype=np.float32)
        for i in range(n):
            x[i] = i * 3
        return x

    def as_uint8(n):
        x = np.zeros(n, dtype=np.uint8)
        for i in range(1, n):
            x[i] = i
        return x

    check(fill, 20)
    check(as_float, 12)
    check(as_uint8, 200)


def test_loop_variable_stores_out_of_the_dtype_range_raise_like_numpy():
    def f(n):
        x = np.zeros(n, dtype=np.int8)
        for i in range(n):
            x[i] = i + 100  # 128 does not fit int8: NumPy 2 raises OverflowError
        return x

    with pytest.raises(OverflowError) as eager:
        f(40)
    jf = jit(f)
    with pytest.raises(OverflowError) as got:
        jf(40)
    assert str(got.value) == str(eager.value)
    check(f, 20)  # 100..119 fit


def test_prefix_sum_over_a_large_array_updates_elements():
    def prefix(x):
        for i in range(1, x.shape[0]):
            x[i] = x[i - 1] + x[i]
        return x

    x = np.random.default_rng(0).integers(-5, 5, 100_000)
    ir = tracejit.explain(prefix, x.copy())
    assert loop_ops(ir) == 1 and "dyn_update" in ir and "iota" not in ir
    check(prefix, x)
    xf = np.random.default_rng(1).random(100_000)
    check(prefix, xf)  # float64 sums in order: bit-identical to the sequential eager loop


def test_prefix_sum_writes_back_to_the_callers_array():
    def prefix(x):
        for i in range(1, x.shape[0]):
            x[i] = x[i - 1] + x[i]

    x = np.arange(5000, dtype=np.int64)
    want = x.copy()
    prefix(want)
    jf = jit(prefix)
    got = x.copy()
    assert jf(got) is None
    np.testing.assert_array_equal(got, want)
    assert jf.stats()["compiled_calls"] == 1


def test_window_stores_into_large_arrays():
    def history(u, steps):
        hist = np.zeros((u.shape[0], steps))
        for t in range(steps):
            u = u * 0.5 + 1.0
            hist[:, t] = u
        return hist

    def rows(n):
        A = np.zeros((n, 2000), dtype=np.int32)
        for i in range(n):
            A[i, ::2] = 7
            A[i, 1:3] = np.int32(-1)
        return A

    u = np.arange(3000.0)
    ir = tracejit.explain(history, u, 20)
    assert loop_ops(ir) == 1 and "dyn_update" in ir and "iota" not in ir
    check(history, u, 20)
    check(rows, 10)


def test_stored_values_convert_as_numpy_setitem_does():
    def exact(x, y, z):
        out = np.zeros(x.shape[0], dtype=np.float64)
        ints = np.zeros(x.shape[0], dtype=np.int64)
        small = np.zeros(x.shape[0], dtype=np.float32)
        flags = np.zeros(x.shape[0], dtype=bool)
        for i in range(x.shape[0]):
            out[i] = x[i]          # float32 -> float64
            ints[i] = y[i]         # int32 -> int64
            small[i] = 0.1         # a Python float rounds to float32
            flags[i] = True
            ints[i] = ints[i] + z[i]  # bool -> int64 in NumPy's add
        return out, ints, small, flags

    def narrowing(y):
        ints = np.zeros(y.shape[0], dtype=np.int16)
        for i in range(y.shape[0]):
            ints[i] = y[i]  # np.int64 into int16: NumPy checks the range (and raises)
        return ints

    rng = np.random.default_rng(2)
    x = rng.random(16).astype(np.float32)
    y = rng.integers(-1000, 1000, 16).astype(np.int32)
    check(exact, x, y, y > 0)
    check(narrowing, np.arange(16), compiled=False)
    big = np.arange(16) * 10_000
    with pytest.raises(OverflowError) as eager:
        narrowing(big)
    with pytest.raises(OverflowError) as got:
        jit(narrowing)(big)
    assert str(got.value) == str(eager.value)


# --- branches on runtime scalars (if-conversion)


def test_conditional_expressions_on_runtime_data_in_a_loop():
    def ints(a, b):
        out = np.zeros(a.shape[0], dtype=np.int64)
        for i in range(a.shape[0]):
            k = 0 if a[i] == b[i] else 1
            out[i] = a[i] + k  # int64 + runtime Python int: int64 (NEP 50)
        return out

    def floats(a):
        out = np.zeros_like(a)
        for i in range(a.shape[0]):
            out[i] = a[i] * 2.0 if a[i] > 0.5 else -a[i]
        return out

    def bools(a):
        out = np.zeros(a.shape[0], dtype=bool)
        for i in range(a.shape[0]):
            out[i] = (a[i] > 0.9) if a[i] > 0.5 else (a[i] < 0.1)
        return out

    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 3, 20), rng.integers(0, 3, 20)
    check(ints, a, b)
    x = rng.random(20)
    x[3] = np.nan  # NaN > 0.5 is False
    check(floats, x)
    check(bools, x)


def test_if_statements_on_runtime_data():
    def absval(a):
        out = np.zeros_like(a)
        for i in range(a.shape[0]):
            v = a[i]
            if v < 0:
                v = -v
            out[i] = v
        return out

    def clipped(a, lo, hi):
        out = np.zeros_like(a)
        for i in range(a.shape[0]):
            if a[i] < lo[i]:
                v = lo[i]
            elif a[i] > hi[i]:
                v = hi[i]
            else:
                v = a[i]
            out[i] = v
        return out

    def sign_count(a):
        pos = np.zeros(a.shape[0], dtype=np.int64)
        for i in range(a.shape[0]):
            if a[i] > 0:
                s = 1
            else:
                s = -1
            pos[i] = s
        return pos

    rng = np.random.default_rng(4)
    a = rng.standard_normal(30)
    check(absval, a)
    check(clipped, a, np.full(30, -0.5), np.full(30, 0.5))
    check(sign_count, a)
    check(absval, rng.integers(-9, 9, 30).astype(np.int32))


def test_branches_on_runtime_data_outside_loops():
    def scale(x):
        k = 3 if x.sum() > 0 else 5  # a runtime Python int: weak in NumPy promotion
        return x * k, k

    def pick(x):
        s = x.max()
        y = s * 2 if s > 0.5 else s - 1  # np.float32 in both arms
        return y

    def floats(x):
        t = x.sum() > 0
        f = 1.5 if t else -2.0  # a runtime Python float
        return f, f * 2

    x = np.array([1.0, -3.0, 0.5], dtype=np.float32)
    for v in (x, -x):
        jf = check(scale, v)
        assert type(jf(v)[1]) is int
        check(pick, v)
        jf = check(floats, v)
        assert type(jf(v)[0]) is float


def test_runtime_python_ints_follow_numpy_weak_promotion():
    def f(x, y):
        k = 3 if y.sum() > 0 else 5
        return x + k, x * k - k, abs(-k), -k + 1

    def big(x, y):
        k = 1000 if y.sum() > 0 else 1  # may not fit int8: NumPy raises for 1000
        return x + k

    def conv(y):
        k = 3 if y.sum() > 0 else 5
        return np.float32(k), np.int8(k), isinstance(k, int)

    def attr(y):
        k = 3 if y.sum() > 0 else 5
        return k.real  # an int attribute, not an array's

    def conv_big(y):
        k = 300 if y.sum() > 0 else 5
        return np.int8(k)

    x = np.arange(4, dtype=np.int8)
    for y in (np.ones(2), -np.ones(2)):
        check(f, x, y)
        check(conv, y)
        jf = check(attr, y, compiled=None)  # (3.13 reads .real in each arm, of a constant)
        assert jf.stats()["compiled_calls"] == 2 or "runtime Python number" in reasons(jf)
    check(conv_big, -np.ones(2), compiled=False)
    with pytest.raises(OverflowError):
        jit(conv_big)(np.ones(2))
    y = -np.ones(2)  # k = 1: fine eagerly; the trace cannot prove k fits int8, so eager
    jf = check(big, x, y, compiled=False)
    assert "int8" in reasons(jf)
    with pytest.raises(OverflowError):
        big(x, -y)
    with pytest.raises(OverflowError):
        jf(x, -y)


def test_a_counter_updated_in_one_arm_is_not_loop_invariant():
    def stmt(x):
        k = 4
        for i in range(x.shape[0]):
            if x[i] > 0:
                k = 5
            else:
                k = k + 1  # read before written on this path: a counter
        return k

    def expr(x):
        k = 4
        for i in range(x.shape[0]):
            k = 5 if x[i] > 0 else k + 1
        return k

    def grows(x, y):
        k = 1 if x.sum() > 0 else 0  # a runtime Python int in [0, 1] before the loop
        for i in range(x.shape[0]):
            k = k + 1 if x[i] > 0 else k  # ... that grows in it: not a region
        return y + k  # int8 + Python int: NumPy raises when k > 127

    x = np.ones(200)
    y = np.zeros(3, dtype=np.int8)
    with pytest.raises(OverflowError):
        grows(x, y)
    with pytest.raises(OverflowError):
        jit(grows)(x, y)
    check(grows, x[:20], y)  # unrolled: k is within [0, 21], which fits int8

    for f in (stmt, expr):
        for x in (-np.ones(10), np.ones(10), np.array([1.0, -1, -1, 1, -1, -1, -1, 1, -1, -1])):
            check(f, x)


def test_both_arms_returning_join_at_the_return():
    def expr(x):
        return x[0] * 2.0 if x[1] > 0 else x[0] - 1.0

    def stmt(x):
        m = x.max()
        if m > 1:
            return m, 1
        else:
            return m * 0.5, 2

    def tail(x):
        y = x[0] if x[1] > 0 else x[2]
        return y + 1  # 3.12 copies this tail into both arms

    for x in (np.array([1.5, 2.0, -3.0]), np.array([0.5, -2.0, 0.25])):
        check(expr, x)
        check(stmt, x)
        check(tail, x)


def test_and_or_on_runtime_and_python_values():
    def conds(a, b):
        out = np.zeros(a.shape[0], dtype=np.int64)
        for i in range(a.shape[0]):
            out[i] = 1 if a[i] > 0 and b[i] > 0 else (2 if a[i] > 0 or b[i] < -1 else 0)
        return out

    def values(a, b):  # 3.11: JUMP_IF_FALSE_OR_POP keeps the value on the jump arm
        out = np.zeros(a.shape[0], dtype=bool)
        for i in range(a.shape[0]):
            out[i] = (a[i] > 0) and (b[i] > 0) or (a[i] < -1)
        return out

    def python(x, flag, k):
        y = flag and k
        return x * (y or 2)

    rng = np.random.default_rng(10)
    a, b = rng.standard_normal(20), rng.standard_normal(20)
    check(conds, a, b)
    check(values, a, b)
    for flag in (True, False):
        check(python, np.arange(3.0), flag, 3)


def test_nested_conditional_expressions_and_tuples():
    def f(a, b):
        out = np.zeros((a.shape[0], 2))
        for i in range(a.shape[0]):
            lo, hi = (a[i], b[i]) if a[i] < b[i] else (b[i], a[i])
            mid = 0.0 if lo < 0 else (1.0 if hi > 1 else 0.5)
            out[i, 0] = lo + mid
            out[i, 1] = hi
        return out

    rng = np.random.default_rng(5)
    check(f, rng.standard_normal(25), rng.standard_normal(25))


# --- min / max / abs of runtime scalars


def test_min_max_of_runtime_numpy_scalars():
    def f(x):
        out = np.zeros(x.shape[0] - 2)
        for i in range(x.shape[0] - 2):
            out[i] = min(x[i], x[i + 1], x[i + 2]) + max(x[i], x[i + 2])
        return out

    def ints(x):
        return min(x[0], x[1], x[2]), max(x[1], x[0]), min((x[2], x[0])), abs(x[1])

    x = np.random.default_rng(6).standard_normal(40)
    check(f, x)
    for v in (np.array([3, -1, 2]), np.array([5, 5, 5], dtype=np.uint8), np.array([-7, 2, 9], dtype=np.int16)):
        check(ints, v)


@pytest.mark.parametrize("vals", [[np.nan, 1.0, -2.0], [0.0, -0.0, np.inf], [np.nan, np.nan, -np.inf]])
@pytest.mark.parametrize("order", [(0, 1, 2), (1, 0, 2), (2, 1, 0), (1, 2, 0)])
def test_min_max_with_nan_follow_pythons_comparison_loop(order, vals):
    def f(x):
        a, b, c = x[0], x[1], x[2]
        return min(a, b, c), max(a, b, c), min(b, a), max(c, a)

    x = np.array([vals[k] for k in order])
    check(f, x)
    check(f, x.astype(np.float32))


def test_min_max_of_runtime_python_numbers():
    def ints(x):
        k = 3 if x.sum() > 0 else -4
        j = 7 if x.sum() > 1 else 0
        return min(k, j, 5), max(k, 1), min(j, k)

    def floats(x, t):
        u = 0.25 if x.sum() > 0 else 4.0
        return min(u, t), max(t, u, 1.0)

    for x in (np.array([2.0]), np.array([0.5]), np.array([-1.0])):
        jf = check(ints, x)
        assert all(type(v) is int for v in jf(x))
        jf = check(floats, x, 0.5)
        assert all(type(v) is float for v in jf(x, 0.5))


def test_min_max_mixing_kinds_falls_back_with_the_right_answer():
    def mixed(x):
        return min(x[0], 0), max(x[1], 2.5)

    def dtypes(x, y):
        return min(x[0], y[0])

    for x in (np.array([-3, 4]), np.array([3, 1])):
        jf = check(mixed, x, compiled=False)
        assert "min()" in reasons(jf) or "max()" in reasons(jf)
    jf = check(dtypes, np.array([1], dtype=np.int32), np.array([2]), compiled=False)
    assert "min()" in reasons(jf)


def test_constant_min_max_still_fold():
    def f(x):
        n = min(x.shape[0], 3)
        return x[:n] * max(2, 1.5)

    x = np.arange(5.0)
    jf = check(f, x)
    assert "where" not in tracejit.explain(f, x)


# --- dynamic programming


def lcs(a, b):
    n, m = a.shape[0], b.shape[0]
    L = np.zeros((n + 1, m + 1), dtype=np.int64)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            L[i, j] = L[i - 1, j - 1] + 1 if a[i - 1] == b[j - 1] else max(L[i - 1, j], L[i, j - 1])
    return L[n, m], L


def max_subarray(x):
    best = x[0]
    cur = x[0]
    for i in range(1, x.shape[0]):
        cur = max(x[i], cur + x[i])
        best = cur if cur > best else best
    return best


def test_longest_common_subsequence():
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 4, 120), rng.integers(0, 4, 90)
    ir = tracejit.explain(lcs, a, b)
    assert loop_ops(ir) == 2 and "dyn_update" in ir
    check(lcs, a, b)


def test_scalar_values_carried_through_a_loop():
    x = np.random.default_rng(8).standard_normal(500)
    check(max_subarray, x)
    check(max_subarray, (x * 100).astype(np.int32))


# --- what still falls back, with the reason


def test_stores_inside_an_arm_compile():
    def lcs_if(a, b):
        n, m = a.shape[0], b.shape[0]
        L = np.zeros((n + 1, m + 1), dtype=np.int64)
        for i in range(1, n + 1):
            for j in range(1, m + 1):
                if a[i - 1] == b[j - 1]:
                    L[i, j] = L[i - 1, j - 1] + 1
                else:
                    L[i, j] = max(L[i - 1, j], L[i, j - 1])
        return L[n, m]

    rng = np.random.default_rng(9)
    check(lcs_if, rng.integers(0, 4, 12), rng.integers(0, 4, 10))  # (each store: where(cond, new, old))


def test_side_effects_and_in_place_updates_in_an_arm_fall_back():
    def prints(x):
        y = x * 2
        if x.sum() > 0:
            print("positive")
            y = y + 1
        return y

    def inplace(x):
        y = x * 2
        if x.sum() > 0:
            y += 1
        return y

    def returns(x):
        if x.sum() > 0:
            return x
        return -x

    def kinds(x):
        y = x[0] if x.sum() > 0 else 0  # np.float64 or int: the type depends on the data
        return y

    x = np.arange(3.0)
    def one_return(x):
        y = x * 2
        if x.sum() > 0:
            return y
        y = y + 1  # (the other arm goes on)
        print("not positive")
        return y

    cases = ((prints, "side effect"), (inplace, "in place"), (returns, "array"), (one_return, "side effect"))
    for f, words in cases:
        for v in (x, -x):
            jf = check(f, v, compiled=False)
            assert "branch on array data" in reasons(jf) and words in reasons(jf), reasons(jf)
    for v in (x, -x):
        check(kinds, v)  # returned as the one that ran: np.float64 or the Python int


@pytest.mark.parametrize("n", [3, 5, 7])
def test_short_scalar_nests_become_regions_not_huge_unrolled_graphs(n):
    # Loops under 8 iterations unroll for fusion; unrolled element stores made graphs of ~1000
    # ops that took seconds to compile (7x7). Such traces are redone with short loops as regions.
    mod = load_example("edit_distance")
    f, (a, b) = mod.make_inputs(seed=n, n=n, m=n)
    jf = jit(f)
    assert_same(f(a, b), jf(a, b))
    (entry,) = jf.cache_info()
    assert entry["ir"].count("\n") < 150, entry["ir"].count("\n")
    assert entry["loops"]["native"] == 3 and entry["loops"]["not_native"] == [], entry["loops"]
