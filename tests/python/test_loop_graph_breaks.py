"""Graph breaks inside loops: an unsupported call (math.gamma) in a for loop over a range ends the
trace inside the loop body; the runtime performs the call eagerly with the real values and goes
on with a continuation that starts inside the loop, its frame state holding the loop's iterator
(rebuilt as iter(range(next, end, step)): exactly eager's remaining items) and the loop variable
as runtime values. The continuation runs the rest of the iteration, the loop's FOR_ITER and the
next iteration up to the break again, where it ends with the same state layout: every iteration
reuses the same compiled continuation (a loop of N iterations costs a constant number of
compiles). Every case is compared with eager Python/NumPy: returns, in-place updates of the
arguments, exceptions; stats() shows which parts ran compiled."""
import math

import numpy as np
import pytest

import tracejit
from conftest import assert_same


def jit(fn, **kw):
    kw.setdefault("hot", 0)
    kw.setdefault("sync", True)
    return tracejit.jit(fn, **kw)


def compare(fn, make_args, calls=3, **jit_kw):
    """Runs fn eagerly and jitted `calls` times each on fresh arguments (make_args(k) for call
    k): the same returns and the same arguments afterwards. Returns the jitted function."""
    ref = []
    for k in range(calls):
        args = make_args(k)
        ref.append((fn(*args), args))
    jf = jit(fn, **jit_kw)
    for k in range(calls):
        args = make_args(k)
        got = jf(*args)
        want, want_args = ref[k]
        assert_same(want, got, rtol=1e-12)
        for wa, ga in zip(want_args, args):
            if isinstance(wa, np.ndarray):
                assert_same(wa, ga, rtol=1e-12)
    return jf


def assert_loop_resumed(jf, calls, iterations, max_compiles=6):
    """Every call ran compiled, each iteration's part after the break ran as a compiled
    continuation, and the number of compiled versions does not depend on the trip count."""
    st = jf.stats()
    assert st["compiled_calls"] == calls and st["fallback_calls"] == 0, st
    assert st["fallback_reasons"] == [], st["fallback_reasons"]
    assert st["continuation_fallbacks"] == 0, st
    assert st["continuation_calls"] == calls * iterations, st
    assert st["graph_breaks"] >= 1, st
    assert all(__file__ in r and "math.gamma()" in r for r in st["graph_break_reasons"]), st["graph_break_reasons"]
    assert st["compiles"] <= max_compiles, st
    return st


def rows(n, m=3, seed=0):
    def make(k):
        r = np.random.default_rng(seed + k)
        return (r.standard_normal((n, m)),)
    return make


# ---------------------------------------------------------------------------------------------
# for loops over a range

def gamma_rows(x):
    acc = np.zeros_like(x[0])
    for i in range(x.shape[0]):
        v = math.gamma(float(x[i, 0]) + 1.5)
        acc = acc + x[i] * v
    return acc


def test_range_loop_resumes_compiled_each_iteration():
    jf = compare(gamma_rows, rows(20))
    assert_loop_resumed(jf, 3, 20)


def gamma_n(x, n):
    acc = np.zeros_like(x[0])
    for i in range(n):
        v = math.gamma(float(x[i % 7, 0]) * 0.1 + 1.5)
        acc = acc * 0.999 + x[i % 7] * v
    return acc


@pytest.mark.parametrize("n", [12, 1000])
def test_compiles_do_not_grow_with_trip_count(n):
    x = np.random.default_rng(1).standard_normal((7, 4))
    jf = compare(gamma_n, lambda k: (x.copy(), n))
    st = assert_loop_resumed(jf, 3, n)
    # the function's version, the continuation entered from it, the one every later iteration
    # reuses and that one's version for the loop's exit
    assert st["compiles"] == 4, st


def long_loop(x):
    acc = np.zeros_like(x[0])
    for i in range(x.shape[0]):
        v = math.gamma(float(x[i, 1]) * 0.01 + 1.0)
        acc = acc + x[i] * v
    return acc


def test_long_loop_does_not_nest_the_stack():
    # 100000 iterations: each continuation returns to the runtime before the next one runs
    x = np.random.default_rng(2).standard_normal((100000, 2))
    jf = jit(long_loop)
    want = long_loop(x)
    for _ in range(2):
        assert_same(want, jf(x), rtol=1e-12)
    st = jf.stats()
    assert st["continuation_calls"] == 2 * 100000 and st["compiles"] <= 4, st


def start_step(x):
    acc = np.zeros_like(x[0])
    for i in range(2, x.shape[0], 3):
        v = math.gamma(float(x[i, 0]) + 1.5)
        acc = acc + x[i] * v + i
    return acc


def test_range_with_start_and_step():
    jf = compare(start_step, rows(20))
    assert_loop_resumed(jf, 3, len(range(2, 20, 3)))


def negative_step(x):
    acc = np.zeros_like(x[0])
    for i in range(x.shape[0] - 1, 0, -2):
        v = math.gamma(float(x[i, 0]) + 1.5)
        acc = acc * 0.9 + x[i] * v
    return acc


def test_range_with_negative_step():
    jf = compare(negative_step, rows(21))
    assert_loop_resumed(jf, 3, len(range(20, 0, -2)))


def break_first(x):
    acc = np.zeros_like(x[0])
    for i in range(x.shape[0]):
        v = math.gamma(float(i) * 0.25 + 1.0)
        acc = acc * 0.5 + x[i] * v
        acc = np.tanh(acc)
    return acc


def break_last(x):
    acc = np.zeros_like(x[0])
    s = 0.0
    for i in range(x.shape[0]):
        acc = np.tanh(acc * 0.5 + x[i])
        s = s + math.gamma(float(acc[0]) + 2.0)
    return acc * s


@pytest.mark.parametrize("fn", [break_first, break_last])
def test_break_in_first_or_last_statement(fn):
    jf = compare(fn, rows(15))
    assert_loop_resumed(jf, 3, 15)


def nested(x):
    acc = np.zeros_like(x[0])
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            v = math.gamma(float(x[i, j]) * 0.5 + 1.5)
            acc = acc + x[i] * v
        acc = acc * 0.5
    return acc


def test_nested_loops_break_in_inner():
    jf = compare(nested, rows(10, 3))
    assert_loop_resumed(jf, 3, 30, max_compiles=8)


def inplace(out, x):
    for i in range(x.shape[0]):
        v = math.gamma(float(x[i, 0]) + 1.5)
        out += x[i] * v
        out[0] = out[0] * 0.5
    return out.sum()


def test_inplace_update_of_an_argument():
    def make(k):
        r = np.random.default_rng(k)
        return (r.standard_normal(3), r.standard_normal((12, 3)))
    jf = compare(inplace, make)
    assert_loop_resumed(jf, 3, 12)


def empty_loop(x, n):
    acc = x * 2.0
    for i in range(n):
        acc = acc + x * math.gamma(float(i) + 1.5)
    return acc


def test_zero_iteration_loop():
    x = np.arange(3.0)
    jf = jit(empty_loop)
    for n in (0, 0, 5, 0, 5):
        assert_same(empty_loop(x, n), jf(x, n), rtol=1e-12)
    st = jf.stats()
    assert st["fallback_calls"] == 0, st


def raises_at(out, x):
    for i in range(x.shape[0]):
        out[i] = x[i] * 2.0
        v = math.gamma(float(x[i]))  # a pole (0, -1, -2 ...) raises ValueError
        out[i] = out[i] + v
    return out


def test_exception_in_iteration_k():
    x = np.array([1.5, 2.5, 3.5, -2.0, 4.5, 5.5])
    jf = jit(raises_at)
    for _ in range(3):
        want_out = np.zeros(6)
        with pytest.raises(ValueError) as want:
            raises_at(want_out, x)
        got_out = np.zeros(6)
        with pytest.raises(ValueError) as got:
            jf(got_out, x)
        assert str(got.value) == str(want.value)
        assert_same(want_out, got_out, rtol=1e-12)  # iterations 0..2 done, out[3] = -4.0
    ok = np.array([1.5, 2.5, 3.5, 1.25, 4.5, 5.5])
    want = raises_at(np.zeros(6), ok)
    assert_same(want, jf(np.zeros(6), ok), rtol=1e-12)
    st = jf.stats()
    assert st["fallback_calls"] == 0 and st["continuation_calls"] >= 3, st


def test_fullgraph_lists_the_break():
    jf = jit(gamma_rows, fullgraph=True)
    with pytest.raises(tracejit.GraphBreakError) as e:
        jf(np.ones((4, 2)))
    line = gamma_rows.__code__.co_firstlineno + 3
    assert f"{__file__}:{line}" in str(e.value) and "math.gamma()" in str(e.value), str(e.value)


def test_default_options_compile_in_the_background():
    x = np.random.default_rng(5).standard_normal((40, 3))
    jf = tracejit.jit(gamma_rows)
    want = gamma_rows(x)
    for _ in range(6):
        assert_same(want, jf(x), rtol=1e-12)
        tracejit.wait_for_compiles()
    st = jf.stats()
    assert st["continuation_calls"] >= 40 and st["compiles"] <= 5, st


# ---------------------------------------------------------------------------------------------
# while loops and what is refused

def while_loop(x):
    acc = np.zeros_like(x[0])
    i = 0
    while i < x.shape[0]:
        v = math.gamma(float(x[i, 0]) + 1.5)
        acc = acc + x[i] * v
        i += 1
    return acc


def test_while_loop_counter_refused():
    # The counter is a plain int local stored in the loop: continuations would be specialized
    # by its value (a compile per iteration), so the continuation refuses to end at the break
    # again: the part before the first break runs compiled, the rest eagerly from there.
    jf = compare(while_loop, rows(12))
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["continuation_fallbacks"] == 3 and st["compiles"] == 1, st
    assert any("the int local 'i' changes in the loop" in r and "continuation after" in r
               for r in st["fallback_reasons"]), st


def derived_int(x):
    acc = np.zeros_like(x[0])
    for i in range(x.shape[0] - 1):
        j = i + 1  # an int computed from the loop variable: a runtime int in continuations
        v = math.gamma(float(x[j, 0]) + 1.5)
        acc = acc + x[j] * v
    return acc


def test_int_derived_from_the_loop_variable():
    jf = compare(derived_int, rows(16))
    assert_loop_resumed(jf, 3, 15)


def while_array_state(x):
    # A while loop whose state is arrays and floats (no int counter): the part before the first
    # break runs compiled; the continuation meets the loop's test on runtime data: on 3.13 a
    # branch break too (compiled continuations), before 3.13 not traced as a break there, so
    # the rest of the function runs eagerly from the break, entered inside the loop.
    acc = x[0] * 1.0
    s = 0.0
    while s < 20.0:
        v = math.gamma(float(acc[0]) * 0.01 + 1.5)
        s = s + v
        acc = np.tanh(acc + x[1] * v)
    return acc, s


def test_while_loop_over_array_state():
    def make(k):
        r = np.random.default_rng(k)
        return (r.standard_normal((2, 3)),)
    ref = [while_array_state(*make(k)) for k in range(3)]
    jf = jit(while_array_state)
    for k in range(3):
        got = jf(*make(k))
        assert_same(ref[k][0], got[0], rtol=1e-12)
        assert_same(ref[k][1], got[1], rtol=1e-12)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    if st["continuation_fallbacks"]:  # 3.11/3.12: the loop's test is not a break there
        assert st["continuation_fallbacks"] == 3, st
        assert any("continuation after" in r for r in st["fallback_reasons"]), st
    else:  # 3.13: the test (TO_BOOL) is a break too: every part compiled, reused per iteration
        assert st["continuation_calls"] >= 3 * 10 and st["compiles"] <= 6, st


def over_layers(x, layers):
    for w, b in layers:
        x = np.tanh(x @ w + b) * math.gamma(float(x[0]) * 0.1 + 2.0)
    return x


def test_list_iterator_resumes():
    # `for w, b in layers`: the iterator is rebuilt as iter(layers) at the next index; the
    # continuation reads the list through it, a version per index (the layers' shapes differ).
    r = np.random.default_rng(3)
    def make(k):
        rr = np.random.default_rng(k)
        layers = [(rr.standard_normal((3, 4)), rr.standard_normal(4)),
                  (rr.standard_normal((4, 4)), rr.standard_normal(4)),
                  (rr.standard_normal((4, 2)), rr.standard_normal(2))]
        return (rr.standard_normal(3), layers)
    jf = compare(over_layers, make)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0 and st["fallback_reasons"] == [], st
    assert st["continuation_calls"] == 3 * 3 and st["continuation_fallbacks"] == 0, st
    assert st["compiles"] <= 5, st


def over_tuple(x):
    acc = 0.0
    for v in (x, x * 2.0, np.tanh(x)):
        acc = acc + math.gamma(float(v[0]) * 0.1 + 2.0) * v.sum()
    return acc


def test_tuple_built_in_the_trace():
    jf = compare(over_tuple, lambda k: (np.random.default_rng(k).standard_normal(5),))
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["continuation_calls"] == 3 * 3 and st["continuation_fallbacks"] == 0, st


def over_list_arg(x, ws):
    acc = x
    for w in ws:
        v = math.gamma(float(acc[0]) * 0.1 + 2.0)
        acc = np.tanh(acc * w) * v
    return acc


def test_list_of_same_shape_arrays_longer_than_the_recompile_limit():
    # A version per index: past recompile_limit the rest of the loop runs eagerly (same results).
    def make(k):
        rr = np.random.default_rng(k)
        return (rr.standard_normal(4), [rr.standard_normal(4) for _ in range(12)])
    jf = compare(over_list_arg, make)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["continuation_calls"] >= 3 * 5, st


def try_in_loop(x):
    acc = np.zeros_like(x[0])
    for i in range(x.shape[0]):
        try:
            acc = acc + math.gamma(float(x[i, 0]) + 1.5)
        except ValueError:
            pass
    return acc


def test_break_in_try_inside_loop_refused():
    x = np.random.default_rng(4).standard_normal((5, 2))
    jf = jit(try_in_loop)
    for _ in range(2):
        assert_same(try_in_loop(x), jf(x), rtol=1e-12)
    st = jf.stats()
    assert st["compiled_calls"] == 0 and any("inside a loop and a try block" in r for r in st["fallback_reasons"]), st


def over_enumerate(x, ws):
    acc = x
    for i, w in enumerate(ws):
        v = math.gamma(float(acc[0]) * 0.1 + 2.0 + i)
        acc = np.tanh(acc * w) * v
    return acc


def counts(x):
    acc = x * 0.0
    n = 0
    for i in range(x.shape[0]):
        v = math.gamma(float(x[i]) * 0.1 + 2.0)
        if v > 1.0:
            n += 1
        acc = acc + v
    return acc, n


def test_enumerate_refused_with_reason():
    r = np.random.default_rng(6)
    x = r.standard_normal(4)
    ws = [r.standard_normal(4) for _ in range(3)]
    jf = jit(over_enumerate)
    for _ in range(2):
        assert_same(over_enumerate(x, ws), jf(x, ws), rtol=1e-12)
    st = jf.stats()
    assert st["compiled_calls"] == 0 and any("enumerate(), zip()" in r for r in st["fallback_reasons"]), st


def test_counter_updated_under_a_branch_on_runtime_data():
    # `if v > 1.0: n += 1` is if-converted: n is a runtime int in the continuation (a state
    # hint), not a constant, so every iteration still reuses the same continuation.
    x = np.random.default_rng(7).standard_normal(30) * 10.0
    jf = jit(counts)
    for _ in range(3):
        want, got = counts(x), jf(x)
        assert_same(want[0], got[0], rtol=1e-12)
        assert want[1] == got[1] and type(got[1]) is int
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0 and st["continuation_fallbacks"] == 0, st
    assert st["continuation_calls"] == 3 * 30 and st["compiles"] <= 6, st
