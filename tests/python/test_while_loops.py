"""While loops with a data-dependent test (`while err > tol:`) become `while` regions: the body is
traced once and runs compiled as long as the test holds. Every case is compared with eager NumPy
and checked to have run compiled, with one compile for different data."""
import re

import numpy as np
import pytest

import tracejit
from conftest import assert_same


def jit(f, **kw):
    return tracejit.jit(f, hot=0, sync=True, **kw)


def same(got, want):
    assert_same(want, got)  # conftest: type, dtype, shape, values (NaN == NaN, signed zeros)


def while_ops(f, *args):
    return len(re.findall(r"= while ", tracejit.explain(f, *args)))


def check(f, arg_sets, compiles=1):
    """f compiled vs eager on every argument set (arrays copied for each side: in-place updates
    are compared too); `compiles` compiles (Python ints are guarded by value), no fallback."""
    jf = jit(f)
    for args in arg_sets:
        a1 = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        a2 = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        same(jf(*a1), f(*a2))
        for x, y in zip(a1, a2):
            if isinstance(y, np.ndarray):
                same(x, y)
    st = jf.stats()
    assert st["compiled_calls"] == len(arg_sets) and st["fallback_calls"] == 0, st
    assert st["compiles"] == compiles, st
    return jf


# --- array and NumPy-scalar carried values


def halve(x, tol):
    err = np.abs(x).max()
    while err > tol:
        x = x * 0.5
        err = np.abs(x).max()
    return x, err


def test_halve_many_one_zero_iterations():
    x = np.array([1.0, -4.0, 3.0, 1e6])
    check(halve, [(x, 1e-9), (x, 1e5), (x, 1e7), (x * 3, 2.0)])
    assert while_ops(halve, x, 1e-9) == 1


def test_nan_test_is_false():
    # NaN > tol is False: the loop does not run (max propagates the NaN).
    x = np.array([1.0, np.nan, 3.0])
    check(halve, [(x, 0.5), (np.array([8.0, 2.0, 1.0]), 0.5)])


def halve_f32(x, tol):
    err = np.abs(x).max()
    while err > tol:
        x = x * np.float32(0.5)
        err = np.abs(x).max()
    return x, err


def test_float32_arrays_keep_their_dtype():
    x = np.array([1.0, -4.0, 3.0], dtype=np.float32)
    check(halve_f32, [(x, np.float32(1e-3)), (x, np.float32(100.0))])


def count_up(x, limit):
    # Many iterations: each adds a small step.
    s = x.sum()
    while s < limit:
        x = x + 0.001
        s = x.sum()
    return x, s


def test_many_iterations():
    x = np.zeros(4)
    check(count_up, [(x, 40.0), (x, -1.0), (x + 1.0, 8.0)])


def shrink_inplace(x, tol):
    while x.max() > tol:
        x *= 0.5
    return x


def test_inplace_updates_of_an_argument():
    x = np.array([3.0, 20.0, 7.0])
    check(shrink_inplace, [(x, 1.0), (x, 50.0), (x * 10, 0.25)])


def collatz(a):
    n = a[0]
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return n, steps


def test_collatz_on_an_int_array_element_with_a_python_counter():
    check(collatz, [(np.array([27]),), (np.array([1]),), (np.array([97]),)])


def test_condition_on_an_int32_array():
    check(collatz, [(np.array([27], dtype=np.int32),), (np.array([7], dtype=np.int32),)])


def newton_sqrt(a):
    x = a / 2.0
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def test_newton_on_numpy_scalars():
    check(newton_sqrt, [(np.float64(2.0),), (np.float64(1e6),), (np.float64(0.25),)])


# --- Python counters and `and` / `or` tests


def bounded(x, tol, maxit):
    err = np.abs(x).max()
    it = 0
    while it < maxit and err > tol:
        x = x * 0.5
        err = np.abs(x).max()
        it += 1
    return x, err, it


def test_python_int_counter_and_and():
    x = np.array([1.0, -4.0, 3.0])
    check(bounded, [(x, 1e-3, 100), (x * 8, 1e-3, 100), (x, 10.0, 100), (x, 0.0, 100)])
    # maxit is a Python int argument: one compile per value (guarded), each one right.
    check(bounded, [(x, 1e-3, 5), (x, 0.0, 0), (x, 0.0, 1000)], compiles=3)
    assert while_ops(bounded, x, 1e-3, 100) == 1


def runtime_first(x, tol, maxit):
    err = np.abs(x).max()
    it = 0
    while err > tol and it < maxit:
        x = x - 0.25 * x
        err = np.abs(x).max()
        it += 2
    return x, it


def test_runtime_test_first_then_counter():
    x = np.array([2.0, -1.0])
    check(runtime_first, [(x, 1e-2, 50), (x, 5.0, 50), (x * 100, 1e-2, 50)])
    check(runtime_first, [(x, 1e-2, 6)])


def at_least(x, tol):
    err = np.abs(x).max()
    it = 0
    while err > tol or it < 3:
        x = x * 0.5
        err = np.abs(x).max()
        it += 1
    return x, it


def test_or_of_runtime_and_counter():
    x = np.array([1.0, 2.0])
    check(at_least, [(x, 1e-3), (x, 100.0)])


def count_down(x, tol):
    k = 10
    t = 1.0
    while x.max() * t > tol and k > 0:
        t = t * 0.5
        k -= 1
    return t, k


def test_python_float_and_decreasing_counter():
    x = np.array([3.0, 1.0])
    check(count_down, [(x, 0.1), (x, 1e-9), (x, 10.0)])


# --- nesting


def per_element(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        v = x[i]
        while v > 1.0:
            v = v / 2.0
        out[i] = v
    return out


def test_while_inside_a_for_region():
    x = np.array([0.5, 3.0, 17.0, 1.0, 1000.0, 2.0, 64.0, 9.0, 0.1, 5.0])
    check(per_element, [(x,), (x * 7,)])


def relax(x, tol):
    err = np.abs(x).max() + tol + 1.0  # a NumPy float64, as the body's err
    while err > tol:
        y = x
        for _ in range(10):
            y = 0.5 * (y + np.roll(y, 1))
        err = np.abs(y - x).max()
        x = y
    return x, err


def test_for_region_inside_a_while():
    x = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    check(relax, [(x, 1e-3), (x, 10.0)])


def nested_whiles(x, tol):
    outer = 0
    while x.max() > tol:
        y = x.max()
        while y > 1.0:
            y = y * 0.5
        x = x * 0.5
        outer += 1
    return x, outer


def test_while_inside_a_while():
    x = np.array([3.0, 40.0])
    check(nested_whiles, [(x, 0.5), (x, 100.0)])


# --- what is not compiled falls back to eager (and says where)


def breaks_at_the_end(x, tol):
    # The break is the last statement: the loop test is (not break) and the while test.
    while x.max() > 0.0:
        x = x - 1.0
        if x.sum() < tol:
            break
    return x


def while_true_with_a_break(x, tol):
    it = 0
    while True:
        x = x * 0.5
        it += 1
        if np.abs(x).max() < tol:
            break
    return x, it


def test_break_at_the_end_of_the_body():
    x = np.array([3.0, 5.0])
    check(breaks_at_the_end, [(x, 1.0), (x, -100.0), (x, 100.0), (-x, 1.0)])
    check(while_true_with_a_break, [(x, 1e-3), (x, 100.0), (x * 1e5, 0.5)])
    assert while_ops(while_true_with_a_break, x, 1e-3) == 1


def breaks_on_data(x, tol):
    while x.max() > 0.0:
        if x.sum() < tol:
            break
        x = x - 1.0
    return x


def with_first_binding_read_after(x, tol):
    while x.max() > tol:
        y = x * 0.5
        x = y
    return y


def continues_on_data(x, tol):
    while x.max() > tol:
        x = x - 1.0
        if x.sum() > 100.0:
            continue
        x = x * 0.5
    return x


def returns_in_body(x, tol):
    while x.max() > tol:
        x = x * 0.5
        if x.sum() < 0.5:
            return x
        x = x - 0.25
    return x


def doubling_counter(x, tol):
    # A counter that grows geometrically: no int64 bound holds for it.
    k = 1
    while x.max() > tol:
        x = x * 0.5
        k = k * 2
    return x, k


def for_region_breaks(x, tol):
    s = x[0]
    for i in range(x.shape[0]):
        s = s + x[i]
        if s > tol:
            break
    return s


def loop_variable_read_after(x, tol):
    while x.max() > tol:
        x = x * 0.5
        last = x.max()
    return x, last


def while_in_a_branch(x, tol):
    # If-conversion runs both arms: a while loop in one of them might not end where the eager
    # code would never run it (here: never for tol <= 0 and x.sum() <= 0).
    if x.sum() > 0:
        while x.max() > tol:
            x = x * 0.5
    else:
        x = -x
    return x


def if_then_while(x, tol):
    # No else: the if's test joins the loop's first test (the loop runs iff both hold).
    if x.sum() > 0:
        while x.max() > tol:
            x = x * 0.5
    return x


def test_if_then_while_is_one_while_region():
    x = np.array([3.0, 5.0])
    check(if_then_while, [(x, 1.0), (-x, 1.0), (x, 10.0)])


@pytest.mark.parametrize("f", [breaks_on_data, for_region_breaks, returns_in_body])
def test_breaks_compile(f):
    # A break on array data in the middle of a while body, or in a for region (issue #5; more in
    # test_loop_exits.py): compiled, with the state the break leaves. (returns_in_body's
    # `return x` is a copy of the code after the loop: leaving the loop, as a break.)
    for x, tol in [(np.arange(3.0, 300.0), 1.0), (np.arange(3.0, 300.0), 1e9), (np.arange(3.0, 30.0), 200.0)]:
        jf = jit(f)
        same(jf(x.copy(), tol), f(x.copy(), tol))
        st = jf.stats()
        assert st["compiled_calls"] == 1 and st["fallback_calls"] == 0, st["fallback_reasons"]


@pytest.mark.parametrize("f", [while_in_a_branch, with_first_binding_read_after, continues_on_data,
                               doubling_counter, loop_variable_read_after])
def test_unsupported_falls_back_with_a_reason(f):
    x = np.arange(3.0, 300.0)
    jf = jit(f)
    same(jf(x.copy(), 1.0), f(x.copy(), 1.0))
    st = jf.stats()
    # Either the whole call runs eagerly, or (where the loop's first test is in the function's
    # own frame) the trace ends there with a graph break and the loop runs in continuations or
    # eagerly; both say why, naming this file's line.
    if st["graph_breaks"] == 0:
        assert st["fallback_calls"] == 1 and st["compiled_calls"] == 0
    else:
        assert st["compiled_calls"] == 1 and st["fallback_calls"] == 0
    reason = " ".join(st["fallback_reasons"] + st["graph_break_reasons"])
    assert "test_while_loops.py:" in reason, reason


# --- native loops (one machine loop for the whole while; speed is measured by
# benchmarks/bench_while.py, never asserted here)


def native_loops(jf):
    (entry,) = jf.cache_info()
    return entry["loops"]


def test_scalar_whiles_are_native_loops():
    jf = check(newton_sqrt, [(np.float64(2.0),), (np.float64(3.5),)])
    assert native_loops(jf)["native"] == 1, native_loops(jf)
    jf = check(collatz, [(np.array([27]),), (np.array([1]),)])
    assert native_loops(jf)["native"] == 1, native_loops(jf)
    x = np.linspace(0.5, 1000.0, 40)
    jf = check(per_element, [(x,), (x * 3,)])
    loops = native_loops(jf)
    assert loops["regions"] == 1 and loops["native"] == 1, loops  # the for region with its while inside


def sum_until(x, limit):
    s = x[0] * 0.0
    k = 0
    while s < limit:
        s = s + x[1]
        k += 1
    return s, k


def digits(a):
    v = a[0]
    c = 0
    while v != 0:
        v = v // 10
        c += 1
    return c


def test_long_native_counter_loops():
    x = np.array([0.25, 0.5])
    jf = check(sum_until, [(x, 30000.0), (x, 0.0)])  # 60000 iterations
    assert native_loops(jf)["native"] == 1
    jf = check(digits, [(np.array([1234567890123], dtype=np.int64),), (np.array([0], dtype=np.int64),)])
    assert native_loops(jf)["native"] == 1


def until_small(x, tol):
    it = 0
    while not np.abs(x).max() < tol:  # the loop leaves when the test is true
        x = x * 0.5
        it += 1
    return x, it


def test_negated_test():
    x = np.array([2.0, -7.0])
    check(until_small, [(x, 1e-3), (x, 100.0), (x * 1e6, 1.0)])


def test_symbolic_sizes_after_a_recompile():
    # The second size makes the length symbolic: one more compile serves every later size.
    jf = jit(bounded)
    for n in (3, 5, 7, 64, 2):
        x = np.linspace(-5.0, 9.0, n)
        same(jf(x, 1e-3, 100), bounded(x, 1e-3, 100))
    st = jf.stats()
    assert st["compiled_calls"] == 5 and st["fallback_calls"] == 0 and st["compiles"] == 2, st


def acc_while_and(x, t):
    s = 0.0
    i = 0
    while i < x.shape[0] and x[i] < t:
        s += x[i]
        i += 1
    return s


def acc_while(x, t):
    s = 0.0
    while s < t:
        s = s + x[0]
    return s


@pytest.mark.parametrize("f", [acc_while_and, acc_while])
def test_python_float_after_no_iteration(f):
    # `s = 0.0` that the body turns into np.float64: when the loop runs no iteration eager
    # returns the Python float 0.0 (and NEP 50 treats it as weak later), never np.float64(0.0).
    x = np.arange(1.0, 501.0)
    jf = jit(f)
    for t in (2.5, -1.0, 2.5, 0.0):
        same(jf(x, t), f(x, t))
