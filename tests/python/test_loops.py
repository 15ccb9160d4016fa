"""Loops as compiled regions: a `for` over a long range is traced once into a loop op, so the
trace (and compile time) does not grow with the trip count; loops a region cannot express are
unrolled. Every case is compared with eager NumPy."""
import re

import numpy as np
import pytest

import tracejit
from conftest import assert_same


def jit(f, **kw):
    return tracejit.jit(f, hot=0, sync=True, **kw)


def same(got, want):
    assert_same(want, got)  # conftest: type, dtype, shape, values (NaN == NaN, signed zeros)


def ir_of(f, *args):
    return tracejit.explain(f, *args)


def loop_ops(ir):
    return len(re.findall(r"= loop ", ir))


# --- time loops with array bodies


def gray_scott(U, V, steps, F=0.035, k=0.065):
    for _ in range(steps):
        uvv = U * V * V
        lap = np.roll(U, 1, axis=0) + np.roll(U, -1, axis=1) - 2.0 * U
        U = U + (0.16 * lap - uvv + F * (1.0 - U))
        V = V + (uvv - (F + k) * V)
    return U, V


def test_time_loop_is_one_region_and_matches_numpy():
    rng = np.random.default_rng(0)
    U, V = rng.random((32, 24)), rng.random((32, 24))
    f = jit(gray_scott)
    for steps in (8, 50):
        same(f(U, V, steps), gray_scott(U, V, steps))
    assert f.stats()["compiled_calls"] == 2 and f.stats()["fallback_calls"] == 0
    ir = ir_of(gray_scott, U, V, 50)
    assert loop_ops(ir) == 1


def test_trace_does_not_grow_with_the_trip_count():
    U, V = np.ones((16, 16)), np.zeros((16, 16))
    short = ir_of(gray_scott, U, V, 10)
    long = ir_of(gray_scott, U, V, 1000)
    assert loop_ops(short) == loop_ops(long) == 1
    # Identical but for the trip count in the loop's attributes.
    assert re.sub(r"ints = \[10,", "ints = [1000,", short) == long


def test_short_loops_unroll():
    def f(x):
        for _ in range(3):
            x = x * 2.0 + 1.0
        return x

    x = np.arange(5.0)
    assert loop_ops(ir_of(f, x)) == 0
    same(jit(f)(x), f(x))


def nbody_like(pos, vel, steps, dt):
    acc = -pos * 0.5
    for _ in range(steps):
        vel += acc * (dt / 2.0)
        pos += vel * dt
        acc = -pos * 0.5
        vel += acc * (dt / 2.0)
    return float(np.sum(vel * vel))


def test_in_place_updates_of_arguments_in_a_loop_reach_the_caller():
    rng = np.random.default_rng(1)
    p0, v0 = rng.standard_normal((40, 3)), rng.standard_normal((40, 3))
    pe, ve = p0.copy(), v0.copy()
    want = nbody_like(pe, ve, 30, 0.01)
    pj, vj = p0.copy(), v0.copy()
    f = jit(nbody_like)
    got = f(pj, vj, 30, 0.01)
    assert got == want
    np.testing.assert_array_equal(pj, pe)
    np.testing.assert_array_equal(vj, ve)
    assert f.stats()["compiled_calls"] == 1
    assert loop_ops(ir_of(nbody_like, p0.copy(), v0.copy(), 30, 0.01)) == 1


def test_carried_values_swap_and_values_first_defined_in_the_body():
    def fib(a, b):
        for _ in range(20):
            t = a + b
            a, b = b, t
        return a, b, t

    a, b = np.array([0, 1, 2], dtype=np.int64), np.array([1, 1, 3], dtype=np.int64)
    f = jit(fib)
    same(f(a, b), fib(a, b))
    assert f.stats()["compiled_calls"] == 1


def test_heat_equation_with_a_partly_written_scratch_buffer():
    def heat(u, steps, alpha=0.1):
        tmp = np.empty_like(u)
        for _ in range(steps):
            tmp[1:-1, 1:-1] = u[1:-1, 1:-1] + alpha * (
                u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4.0 * u[1:-1, 1:-1])
            u[1:-1, 1:-1] = tmp[1:-1, 1:-1]
        return u

    rng = np.random.default_rng(2)
    u0 = rng.random((20, 30))
    ue, uj = u0.copy(), u0.copy()
    want = heat(ue, 25)
    f = jit(heat)
    got = f(uj, 25)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(uj, ue)
    assert f.stats()["compiled_calls"] == 1


def test_nested_loops_and_ranges_with_start_and_step():
    def f(x, w):
        for _ in range(2, 40, 3):
            for _ in range(9):
                x = np.tanh(x @ w)
            x = x * 0.5
        return x

    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((4, 6)), rng.standard_normal((6, 6)) * 0.3
    jf = jit(f)
    got, want = jf(x, w), f(x, w)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert loop_ops(ir_of(f, x, w)) == 2
    assert jf.stats()["compiled_calls"] == 1


def test_loop_reading_a_global_array_first_inside_the_body():
    def f(x):
        for _ in range(12):
            x = x * SCALE + OFFSET
        return x

    globals()["SCALE"] = np.full(4, 0.5)
    globals()["OFFSET"] = 1.0
    x = np.arange(4.0)
    jf = jit(f)
    same(jf(x), f(x))
    assert loop_ops(ir_of(f, x)) == 1
    globals()["SCALE"] = np.full(4, 0.25)  # a new object: guards see it
    same(jf(x), f(x))


def test_loop_inside_an_inlined_helper():
    def step(x, n):
        for _ in range(n):
            x = np.sqrt(x + 1.0)
        return x

    def f(x):
        return step(x, 16) * 2.0

    x = np.linspace(0.0, 3.0, 7)
    jf = jit(f)
    same(jf(x), f(x))
    assert loop_ops(ir_of(f, x)) == 1


def test_trip_count_is_specialized_and_guarded():
    def f(x, n):
        for _ in range(n):
            x = x * 1.5
        return x

    x = np.ones(3)
    jf = jit(f)
    for n in (10, 20, 10):
        same(jf(x, n), f(x, n))
    assert jf.stats()["compiles"] == 2


# --- loops a region cannot express: unrolled (or eager), always NumPy's answer


def test_body_using_the_loop_variable_as_a_number_is_a_region():
    def f(x):
        acc = np.zeros_like(x)
        for i in range(10):
            acc = acc + x * i  # a runtime Python int: weak in NumPy's promotion
        return acc

    x = np.arange(6.0)
    jf = jit(f)
    same(jf(x), f(x))
    assert loop_ops(ir_of(f, x)) == 1
    assert jf.stats()["compiled_calls"] == 1


def test_body_using_the_loop_variable_in_a_stepped_slice_unrolls():
    def f(x):
        acc = np.zeros(2)
        for i in range(10):
            acc = acc + x[i:i + 4:2]
        return acc

    x = np.arange(16.0)
    jf = jit(f)
    same(jf(x), f(x))
    assert loop_ops(ir_of(f, x)) == 0
    assert jf.stats()["compiled_calls"] == 1


def test_python_counter_in_the_body_unrolls():
    def f(x):
        k = 0
        for _ in range(10):
            k += 2
            x = x + k
        return x, k

    x = np.arange(3.0)
    same(jit(f)(x), f(x))
    assert loop_ops(ir_of(f, x)) == 0


def test_dtype_change_in_the_body_unrolls():
    def f(x):
        for _ in range(9):
            x = x + 0.5
        return x

    x = np.arange(4)  # int64 -> float64 after the first iteration
    same(jit(f)(x), f(x))
    assert loop_ops(ir_of(f, x)) == 0


def test_break_out_of_the_body_unrolls():
    def f(x, stop):
        for _ in range(20):
            x = x * 2.0
            if stop:
                break
        return x

    x = np.arange(3.0)
    for stop in (True, False):
        same(jit(f)(x, stop), f(x, stop))


def test_long_loop_using_the_loop_variable_falls_back_with_a_reason():
    def f(x, y):
        for i in range(1000):
            x = x + y[i:i + 4:2]
        return x

    x, y = np.arange(2.0), np.arange(1004.0)
    jf = jit(f)
    same(jf(x, y), f(x, y))
    reasons = " ".join(jf.stats()["fallback_reasons"])
    assert "1000 iterations" in reasons and "loop-variable bound" in reasons


def test_long_loops_on_small_arrays_release_the_gil():
    import threading

    def f(x):
        for _ in range(2_000_000):
            x = x * 0.999999 + 1e-6
        return x

    jf = jit(f)
    x = np.ones(4)
    first = jf(x)  # compiled (sync)
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        before = ticks[0]
        got = jf(x)  # ~0.1 s inside the compiled loop
        during = ticks[0] - before
    finally:
        stop.set()
        t.join()
    assert jf.stats()["compiled_calls"] == 2
    assert during > 0, "the other thread never ran while the compiled loop ran"
    np.testing.assert_array_equal(got, first)
    a, n = 0.999999, 2_000_000  # x_n = a^n x_0 + 1e-6 (1 - a^n) / (1 - a)
    np.testing.assert_allclose(got, a**n + 1e-6 * (1 - a**n) / (1 - a), rtol=1e-6)

def test_changing_sizes_compile_a_dynamic_loop_program_instead_of_falling_back():
    def f(x):
        for _ in range(300):  # too long to unroll: only a loop region compiles it
            x = x * 0.5 + 1.0
        return x

    jf = jit(f)
    for n in (16, 32, 48, 16):
        x = np.linspace(0.0, 1.0, n)
        same(jf(x), f(x))
    st = jf.stats()
    assert st["fallback_calls"] == 0 and st["compiled_calls"] == 4, st
    assert st["compiles"] == 2, st  # static for 16, then one with a runtime size for the rest


# --- the loop variable as an index: dyn_slice reads, masked stores


def test_loop_variable_indexes_columns_rows_and_windows():
    def colsum(X):
        acc = np.zeros(X.shape[0])
        for t in range(X.shape[1]):
            acc = acc + X[:, t] * 2.0
        return acc

    def diffs(x):
        out = np.zeros_like(x)
        for i in range(1, x.shape[0]):
            out[i] = x[i] - x[i - 1]
        return out

    def window(a, K):
        s = np.zeros(K)
        for i in range(a.shape[0] - K + 1):
            s = s + a[i:i + K]
        return s

    rng = np.random.default_rng(0)
    cases = [(colsum, (rng.random((5, 20)),)), (diffs, (rng.random((12, 3)),)),
             (window, (rng.random(30), 4)), (window, (np.arange(40, dtype=np.int32), 8))]
    for f, args in cases:
        jf = jit(f)
        same(jf(*args), f(*args))
        assert jf.stats()["compiled_calls"] == 1, f.__name__
        assert loop_ops(ir_of(f, *args)) == 1, f.__name__


def test_loop_variable_stores_into_a_history_array():
    def record(u, steps):
        hist = np.zeros((u.shape[0], steps))
        for t in range(steps):
            u = u * 0.9 + 0.1
            hist[:, t] = u
        return hist, u

    def fill(n):
        d = np.zeros(n, dtype=np.int64)
        for i in range(n):
            d[i] = 7
        return d

    u = np.random.default_rng(1).random(6)
    jf = jit(record)
    same(jf(u, 12), record(u, 12))
    assert loop_ops(ir_of(record, u, 12)) == 1
    same(jit(fill)(10), fill(10))


def test_loop_variable_out_of_bounds_raises_like_numpy():
    def f(x):
        acc = 0.0
        for i in range(x.shape[0]):
            acc = acc + x[i + 1]
        return acc

    x = np.arange(9.0)
    with pytest.raises(IndexError) as eager:
        f(x)
    jf = jit(f)
    with pytest.raises(IndexError) as got:
        jf(x)
    assert str(got.value) == str(eager.value)


def test_negative_loop_variable_indices():
    def f(x):
        out = np.zeros(x.shape[0])
        for i in range(1, x.shape[0] + 1):
            out[i - 1] = x[-i]
        return out

    x = np.arange(10.0)
    jf = jit(f)
    same(jf(x), f(x))
    assert loop_ops(ir_of(f, x)) == 1


def test_inner_loop_indexes_with_the_outer_loop_variable():
    def f(A):
        out = np.zeros(A.shape[1])
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                out = out + A[i, :] * 0.5 + A[i, j]
        return out, i, j

    A = np.random.default_rng(4).random((9, 10))
    jf = jit(f)
    got, want = jf(A), f(A)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
    assert got[1:] == want[1:]
    assert loop_ops(ir_of(f, A)) == 2
    assert jf.stats()["compiled_calls"] == 1


def test_stores_into_large_arrays_do_not_become_whole_array_selects():
    def f(u, steps):
        hist = np.zeros((u.shape[0], steps))
        for t in range(steps):
            hist[:, t] = u
        return hist

    u = np.arange(1000.0)
    ir = ir_of(f, u, 20)
    assert loop_ops(ir) == 1 and "dyn_update" in ir and "iota" not in ir  # a window store, not a select
    jf = jit(f)
    same(jf(u, 20), f(u, 20))
    assert jf.stats()["compiled_calls"] == 1


def test_scalar_accumulators_started_from_python_numbers():
    def dot(x, y):
        s = 0.0
        for i in range(x.shape[0]):
            s += x[i] * y[i]
        return s

    def isum(x):
        t = 0
        for i in range(x.shape[0]):
            t = t + x[i]  # int32 + int32 wraps like NumPy
        return t

    def pysum(x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + float(x[i])  # stays a Python float
        return s

    def rows(A):
        acc = 0
        for i in range(A.shape[0]):
            acc = acc + A[i]
        return acc

    rng = np.random.default_rng(5)
    x, y = rng.random(50), rng.random(50)
    big = np.full(40, 2**30, dtype=np.int32)
    for f, args in [(dot, (x, y)), (isum, (np.arange(40, dtype=np.int32),)), (isum, (big,)),
                    (pysum, (x,)), (rows, (rng.random((12, 3)).astype(np.float32),))]:
        jf = jit(f)
        with np.errstate(over="ignore"):
            got, want = jf(*args), f(*args)
        same(got, want)
        assert jf.stats()["compiled_calls"] == 1, f.__name__
        assert loop_ops(ir_of(f, *args)) == 1, f.__name__
