"""Loop bodies that leave the loop regions on runtime data in ways beyond `break`
(loop_returns.cpp, while_loops.cpp: region_break; loops.cpp: the merge at the back edge):

- a `return` inside a for or while body (and from an inner loop of a nest): the region carries
  out whether it returned and the value; the code after the loop runs where no return happened
  and the two values merge at the function's return. Exactly eager's state: stores before the
  return happen, none after; the result has eager's type (a Python int stays one).
- a store into an argument after a data-dependent break (`out[i] = x[i]`): the stores after the
  break are guarded, so the argument keeps one value for all its names.

Every case is compared with eager Python/NumPy (value, type, dtype, in-place state) over exits
taken in the first iteration, in the middle, at the last, never, and zero-iteration loops, and
must run compiled."""
import numpy as np
import pytest

import tracejit
from conftest import assert_same


def run(f, *args):
    j = tracejit.jit(f, sync=True, hot=0)
    copies = lambda: [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    ea, ja = copies(), copies()
    want = f(*ea)
    got = j(*ja)
    assert type(got) is type(want)
    assert_same(want, got)
    for a, b in zip(ja, ea):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
    return j.stats()


def compiled(stats):
    assert stats["fallback_calls"] == 0, stats["fallback_reasons"]
    assert stats["compiled_calls"] >= 1
    assert stats["graph_breaks"] == 0


N = 40
# Thresholds on np.arange(N): the exit at the first iteration, in the middle, at the last, never.
WHERE = [-1.0, 17.5, N - 1.5, 1e9, np.nan]


# --- return in a for body


def first_above(x, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            return i
    return -1


def first_value_above(x, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            return x[i] * 2
    return x[0] * 0


def index_and_value(x, t):
    s = x[0] * 0
    for i in range(x.shape[0]):
        s = s + x[i]
        if s > t:
            return i, s
    return -1, s


def store_then_return(x, out, t):
    # Stores before the return happen (also in the returning iteration), none after.
    for i in range(x.shape[0]):
        out[i] = x[i] + 1
        if x[i] > t:
            return i
        out[i] = out[i] * 3
    return -1


def array_return(x, t):
    y = x * 0
    for i in range(x.shape[0]):
        y = y + x[i]
        if x[i] > t:
            return y * 2
    return y - 1


@pytest.mark.parametrize("t", WHERE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_return_in_for(t, dtype):
    x = np.arange(N).astype(dtype)
    compiled(run(first_above, x, t))
    compiled(run(first_value_above, x, t))
    compiled(run(index_and_value, x, t * 10))


@pytest.mark.parametrize("t", WHERE)
def test_return_after_stores(t):
    x = np.arange(N, dtype=np.float64)
    compiled(run(store_then_return, x, np.zeros(N), t))
    compiled(run(store_then_return, x.astype(np.float32), np.zeros(N, np.float32), t))


@pytest.mark.parametrize("t", WHERE)
def test_return_array_expression(t):
    compiled(run(array_return, np.arange(12.0), t / 3))


# --- return in a while body


def while_first_above(x, t):
    i = 0
    while i < x.shape[0]:
        if x[i] > t:
            return i
        i += 1
    return -1


def while_value(x, t):
    i = 0
    while i < x.shape[0]:
        v = x[i] * 2
        if v > t:
            return v
        i += 1
    return x[0] * 0


@pytest.mark.parametrize("t", WHERE)
def test_return_in_while(t):
    x = np.arange(N, dtype=np.float64)
    compiled(run(while_first_above, x, t))
    compiled(run(while_value, x, 2 * t))


def test_return_zero_iterations():
    x = np.zeros(0)
    compiled(run(while_first_above, x, 0.0))
    compiled(run(first_above, x, 0.0))
    compiled(run(store_then_return, x, np.zeros(0), 0.0))


# --- return from an inner loop


def nested_first(x, t):
    for j in range(x.shape[0]):
        for i in range(x.shape[1]):
            if x[j, i] > t:
                return j * 100 + i
    return -1


@pytest.mark.parametrize("t", [-1.0, 0.5, 137.5, 398.5, 1e9, np.nan])
def test_return_from_inner_loop(t):
    x = np.arange(400.0).reshape(20, 20)
    compiled(run(nested_first, x, t))


# --- a store into an argument after a break


def copy_until(x, out, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            break
        out[i] = x[i]
    return out


def copy_until_while(x, out, t):
    i = 0
    while i < x.shape[0]:
        if x[i] > t:
            break
        out[i] = x[i] * 2
        i += 1
    return i


@pytest.mark.parametrize("t", WHERE)
def test_store_into_argument_after_break(t):
    x = np.arange(N, dtype=np.float64)
    compiled(run(copy_until, x, np.full(N, -5.0), t))
    compiled(run(copy_until_while, x, np.full(N, -5.0), t))


def test_store_into_argument_identity():
    x = np.arange(N, dtype=np.float64)
    out = np.zeros(N)
    j = tracejit.jit(copy_until, sync=True, hot=0)
    assert j(x, out, 10.5) is out
    np.testing.assert_array_equal(out, np.where(x <= 10.5, x, 0.0))
    compiled(j.stats())


# --- returns whose type or effects would depend on the data: run eagerly, same results


def mixed_types(x, t):
    # np.float64 from the loop, a Python int after it: the type shows which one ran.
    for i in range(x.shape[0]):
        if x[i] > t:
            return x[i]
    return -1


def print_after(x, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            return i
    print("none above")
    return -1


def two_exits(x, t):
    k = -1
    for i in range(x.shape[0]):
        if x[i] < -t:
            k = i
            break
        if x[i] > t:
            return i * 10
    return k


def store_after_loop(x, out, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            return i
    out[0] = 7.0
    return -1


@pytest.mark.parametrize("t", WHERE)
def test_returned_type_depending_on_data(t, capsys):
    # The kernel returns the condition and both values: the caller gets the one eager returns.
    x = np.arange(N, dtype=np.float64)
    compiled(run(mixed_types, x, t))
    run(print_after, x, t)  # (a print after the loop: not compiled, the same output)
    assert capsys.readouterr().out.count("none above") == (2 if not t < N - 1 else 0)


@pytest.mark.parametrize("t", [0.5, 10.5, 1e9])
def test_break_and_return_in_one_body(t):
    x = np.arange(N, dtype=np.float64)
    x[25] = -50.0
    compiled(run(two_exits, x, t))


@pytest.mark.parametrize("t", WHERE)
def test_store_after_the_loop_only_without_return(t):
    compiled(run(store_after_loop, np.arange(N, dtype=np.float64), np.zeros(3), t))


def helper_first(x, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            return i
    return x.shape[0]


def calls_helper(x, t):
    return helper_first(x, t) + helper_first(x, t + 5.0)


@pytest.mark.parametrize("t", WHERE)
def test_return_in_inlined_callee(t):
    compiled(run(calls_helper, np.arange(N, dtype=np.float64), t))


def loop_after_return_check(x, out, t):
    # A nested loop after the return's test runs under "no return yet": unrolled (its stores
    # guarded in the enclosing body), never a region of its own.
    for i in range(x.shape[0]):
        if x[i] > t:
            return i
        for j in range(out.shape[0]):
            out[j] = out[j] + x[i]
    return -1


@pytest.mark.parametrize("t", WHERE)
def test_loop_after_return_in_body(t):
    compiled(run(loop_after_return_check, np.arange(20.0), np.zeros(6), t / 2))


# --- a float that stays a Python float or becomes np.float64 depending on the data


def pos_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0:
            continue
        s += x[i]
    return s


def pos_sum_scaled(x):
    # Uses after the loop apply to whichever type it holds (2.5 * Python float is one).
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0:
            s = s + x[i]
    return s * 2.5, s


def while_sum(x, k):
    # A while loop may run no iteration: s is then still the Python float.
    s = 0.0
    i = 0
    while i < k:
        s = s + x[i]
        i += 1
    return s


def pos_sum_f32(x, y):
    # The Python float is weak against float32, np.float64 strong: the sum's dtype would depend
    # on the data inside the loop: not compiled (the same results).
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0:
            continue
        s = s + y[i]
    return s


def pos_sum_int(x):
    # Python int against np.int64 (overflow wraps only for np.int64): not compiled.
    s = 0
    for i in range(x.shape[0]):
        if x[i] < 0:
            continue
        s += x[i]
    return s


SIGNS = {
    "none_taken": -np.ones(N),
    "first": np.r_[1.5, -np.ones(N - 1)],
    "middle": np.r_[-np.ones(20), 2.0, -np.ones(N - 21)],
    "last": np.r_[-np.ones(N - 1), 3.0],
    "all": np.arange(N, dtype=np.float64),
    "nan": np.r_[np.nan, -np.ones(N - 1)],
    "neg_zero": np.r_[-0.0, -np.ones(N - 1)],
}


@pytest.mark.parametrize("case", sorted(SIGNS))
def test_python_float_or_numpy_float(case):
    x = SIGNS[case]
    compiled(run(pos_sum, x))
    compiled(run(pos_sum_scaled, x))


@pytest.mark.parametrize("k", [0, 1, 7, N])
def test_while_float_accumulator_zero_or_more_iterations(k):
    compiled(run(while_sum, np.arange(N, dtype=np.float64), k))


def test_float_accumulator_zero_length():
    compiled(run(pos_sum, np.zeros(0)))


@pytest.mark.parametrize("case", ["none_taken", "middle", "all"])
def test_type_that_changes_values_is_refused(case):
    x = SIGNS[case]
    y = (np.arange(N) / 3).astype(np.float32)
    run(pos_sum_f32, x, y)
    run(pos_sum_int, (x * 10).astype(np.int64))
