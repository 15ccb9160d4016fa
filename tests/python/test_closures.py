"""Closures and cells: nested defs and lambdas that capture locals of the traced function (made
and called inside the trace, inlined), `nonlocal` counters, closures passed to other user
functions, comprehensions (nested functions on 3.11), and the jitted function itself being a
closure made by a factory (its cells read through guarded sources). Closures that escape run
eagerly with a reason. Every case is compared with eager Python/NumPy (returns, printed output,
in-place updates, exceptions) and stats() says whether it ran compiled."""
import sys

import numpy as np
import pytest

import tracejit
from conftest import assert_same, compare_eager as compare, jit_now as jit, random_args as arrays, same_nested as same, eager_sort


def compiled(jf, calls=3):
    st = jf.stats()
    assert st["compiled_calls"] == calls and st["fallback_calls"] == 0, st
    return st


def fell_back(jf, words):
    st = jf.stats()
    assert st["compiled_calls"] == 0 and st["fallback_calls"] > 0, st
    reasons = st["fallback_reasons"]
    assert any(words in r for r in reasons), reasons
    assert all(__file__ in r for r in reasons), reasons
    return st


# ---------------------------------------------------------------------------------------------
# Closures made and called inside the trace

def with_closure(x):
    k = 3.0
    f = lambda v: v * k  # noqa: E731
    return f(x) + 1


def leaky_relu(x, w):
    alpha = 0.1
    act = lambda z: np.maximum(z, alpha * z)  # noqa: E731
    return act(x @ w) * 2.0


def nested_helper(x, y):
    k = 2.5
    off = np.float64(0.5)

    def helper(v, b=k):
        return np.tanh(v) * k + b + off
    return helper(x) - helper(y, 1.0)


def nonlocal_counter(x):
    n = 0

    def bump(v):
        nonlocal n
        n += 1
        return v * 2.0
    y = bump(x)
    y = bump(y)
    return y + n, n


def apply_twice(g, v):
    return g(g(v))


def closure_passed(x):
    s = np.float32(1.5)
    return apply_twice(lambda v: v * s + 1.0, x)


def comprehension(x, y):
    s = 2.0
    a, b = [v * s for v in (x, y)]
    t = [np.sum(v) * s for v in (a, b)]
    return a + b, t[0] - t[1]


def late_binding(x):
    k = 1.0
    f = lambda v: v * k  # noqa: E731
    k = 4.0  # the closure sees the new value
    return f(x)


def argument_cell(x, scale):
    g = lambda v: v * scale  # noqa: E731
    scale = scale + 1.0
    return g(x)


def two_levels(x):
    a = 2.0

    def outer(v):
        b = 3.0

        def inner(w):
            return w * a + b
        return inner(v) + a
    return outer(x)


def captured_array(x):
    w = np.exp(x)
    g = lambda v: v + w  # noqa: E731
    return g(x) * g(1.0)


def closure_in_loop(x):
    k = 0.5
    f = lambda v: v * k + 1.0  # noqa: E731
    acc = x
    for _ in range(3):
        acc = f(acc)
    return acc


def closure_in_range_loop(x):
    c = 2.0
    g = lambda v: v * c  # noqa: E731
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = g(x[i])
    return out


def nonlocal_print(x):
    calls = 0

    def log(v):
        nonlocal calls
        calls += 1
        print("call", calls)
        return v + 1.0
    y = log(log(x))
    print("total", calls)
    return y


def delete_cell(x):
    k = 2.0
    f = lambda v: v * k  # noqa: E731
    y = f(x)
    del k
    return y


def in_place_closure(x):
    def scale_in_place(a):
        a *= 2.0
    scale_in_place(x)
    return x.sum()


def lambdas_of_comprehension(x):
    fs = [lambda v: v * k for k in (1.0, 2.0, 3.0)]  # one cell k: every lambda sees 3.0
    return fs[0](x) + fs[2](x)


def keyword_call(x, y):
    c = 0.5

    def mix(a, b, w=c):
        return a * w + b * (1.0 - w)
    return mix(b=y, a=x) + mix(x, y, w=0.25)


def recursive_closure(x):
    def power(v, n):
        return v if n == 1 else v * power(v, n - 1)
    return power(x, 3)


def closure_in_branch_arm(x, flag):
    k = 2.0
    g = lambda v: v * k  # noqa: E731
    if flag:
        y = g(x)
    else:
        y = g(x) + 1.0
    return y


def closure_on_runtime_branch(x):
    k = 3.0
    g = lambda v: v * k  # noqa: E731
    s = x.sum()
    y = g(s) if s > 0 else g(-s)  # both arms traced (if-converted): pure calls of the closure
    return y


def region_reads_constant_cell(x):
    c = 2.0
    g = lambda v: v * c  # noqa: E731
    out = np.zeros_like(x)
    for i in range(x.shape[0]):  # long enough to be a compiled loop region
        out[i] = g(x[i])
    return out


def region_reads_array_cell(x):
    w = x * 2.0
    g = lambda v: v + w[0]  # noqa: E731
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = g(x[i])
    return out


def region_nonlocal_counter(x):
    n = 0

    def bump(v):
        nonlocal n
        n += 1
        return v
    acc = 0.0
    for i in range(x.shape[0]):
        acc = acc + bump(x[i])
    return acc, n


def region_makes_closures(x):
    acc = np.zeros(3)
    for i in range(x.shape[0]):
        k = x[i]
        g = lambda v: v * k  # noqa: E731
        acc = acc + g(x[:3])
    return acc


def comprehension_over_range(x):
    s = 2.0
    vals = [x[i] * s for i in range(10)]
    return vals[0] + vals[9], np.stack([x * s for _ in range(3)])


def in_place_through_alias_of_cell(x):
    y = x * 1.0
    z = y  # z is a cell variable holding the same array as y

    def total():
        return z.sum()
    y += 5.0  # the closure sees the update (it once read the old contents: a wrong answer)
    y[0] = -1.0
    return total(), z


@pytest.mark.parametrize("fn,make", [
    (in_place_through_alias_of_cell, arrays(4)),
    (comprehension_over_range, arrays(12)),
    (region_reads_constant_cell, arrays(20)),
    (region_reads_array_cell, arrays(20)),
    (region_nonlocal_counter, arrays(20)),
    (region_makes_closures, arrays(20)),
    (with_closure, arrays(5)),
    (lambdas_of_comprehension, arrays(3)),
    (keyword_call, arrays(4, 4)),
    (recursive_closure, arrays(3)),
    (closure_in_branch_arm, lambda k: (np.arange(3.0) + k, k % 2 == 0)),
    (closure_on_runtime_branch, arrays(4)),
    (leaky_relu, arrays((4, 3), (3, 2))),
    (nested_helper, arrays(6, 6)),
    (nonlocal_counter, arrays(4)),
    (closure_passed, lambda k: (np.arange(4, dtype=np.float32) + k,)),
    (comprehension, arrays(3, 3)),
    (late_binding, arrays(5)),
    (argument_cell, lambda k: (np.arange(3.0) + k, 2.0 + k)),
    (two_levels, arrays(4)),
    (captured_array, arrays(4)),
    (closure_in_loop, arrays(4)),
    (closure_in_range_loop, arrays(5)),
    (nonlocal_print, arrays(2)),
    (delete_cell, arrays(3)),
    (in_place_closure, arrays(5)),
], ids=lambda p: getattr(p, "__name__", ""))
def test_closure_compiled(fn, make, capsys):
    jf = compare(fn, make, capsys)
    compiled(jf)


# ---------------------------------------------------------------------------------------------
# Closures that escape, or that reach what the trace cannot hold: eager, with a reason

def returns_closure(x):
    k = np.sum(x)
    return lambda v: v * k


def test_escaping_closure_returned():
    jf = jit(returns_closure)
    for k in range(3):
        x = np.arange(3.0) + k
        g = jf(x)
        assert_same(returns_closure(x)(x), g(x))
    fell_back(jf, "closure")


def stores_closure(x, out):
    k = 2.0
    out.append(lambda v: v * k)
    return x * k


def test_escaping_closure_stored():
    jf = jit(stores_closure)
    for k in range(3):
        x = np.arange(3.0) + k
        out = []
        assert_same(stores_closure(x, []), jf(x, out))
        assert len(out) == 1 and np.array_equal(out[0](x), x * 2.0)
    fell_back(jf, "closure")


def closure_to_builtin(x):
    k = 3.0
    return sorted([1.0, 3.0, 2.0], key=lambda v: -v * k)[0] * x


def test_closure_passed_to_builtin():
    jf = jit(closure_to_builtin)
    for k in range(3):
        x = np.arange(3.0) + k
        assert_same(closure_to_builtin(x), jf(x))
    st = jf.stats()
    # sorted(key=...) is a graph break: the lambda is made (over a new cell holding k) for the
    # eager call, the rest compiled.
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0 and st["graph_breaks"] >= 1, st


def unbound_free(x):
    def g(v):
        return v * k
    y = g(x)
    k = 2.0
    return y


def test_unbound_free_variable_raises_like_eager():
    jf = jit(unbound_free)
    x = np.arange(3.0)
    with pytest.raises(NameError) as want:
        unbound_free(x)
    for _ in range(2):
        with pytest.raises(NameError) as got:
            jf(x)
        assert str(got.value) == str(want.value)


def nonlocal_in_runtime_branch(x):
    n = 0

    def bump():
        nonlocal n
        n += 1
    if x.sum() > 0:  # an arm that assigns a closure variable: not if-converted
        bump()
    return x * n


def test_nonlocal_in_runtime_branch(capsys):
    jf = compare(nonlocal_in_runtime_branch, lambda k: (np.arange(3.0) - 2.0 * k,), capsys)
    st = jf.stats()
    # The branch is a graph break; in the continuation the call to bump(), which assigns the
    # real cell, is another (it runs eagerly), and the rest reads the cell compiled.
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert any("closure variable" in r for r in st["graph_break_reasons"]), st["graph_break_reasons"]


def break_with_cells(x):
    k = 2.0
    f = lambda v: v * k  # noqa: E731
    y = f(x)
    z = eager_sort(y)  # a graph break in a function with cells: f and its cell cross it
    return z.sum() + f(z)


def test_graph_break_in_function_with_cells(capsys):
    jf = compare(break_with_cells, arrays(5), capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["continuation_calls"] == 3 and st["continuation_fallbacks"] == 0, st


def break_after_plain_lambda(x):
    sq = lambda v: v * v  # noqa: E731  (made again for the rest, bound in the continuation)
    y = eager_sort(sq(x))
    return sq(y).sum()


def test_graph_break_with_live_closure(capsys):
    jf = compare(break_after_plain_lambda, arrays(5), capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["continuation_calls"] == 3 and st["continuation_fallbacks"] == 0, st


# ---------------------------------------------------------------------------------------------
# The jitted function is itself a closure (made by a factory)

def make_scaled(scale):
    def f(x):
        return x * scale

    def rebind(v):
        nonlocal scale
        scale = v
    return f, rebind


@pytest.mark.parametrize("first,second", [(2.0, 5.0), (3, -2), (np.float32(2.0), np.float32(0.5))],
                         ids=["float", "int", "float32"])
def test_jitted_closure_cell_rebinding(first, second):
    f, rebind = make_scaled(first)
    jf = jit(f)
    x = np.arange(4.0)
    for _ in range(2):
        assert_same(f(x), jf(x))
    assert jf.stats()["compiled_calls"] == 2
    rebind(second)  # the factory's cell now holds another value: never a stale answer
    for _ in range(2):
        assert_same(x * second, jf(x))
    st = jf.stats()
    assert st["fallback_calls"] == 0 and st["compiled_calls"] == 4, st


def test_jitted_closure_array_cell():
    f, rebind = make_scaled(np.ones(3))
    jf = jit(f)
    x = np.arange(3.0)
    assert_same(x * 1.0, jf(x))
    rebind(np.full(3, 7.0))
    assert_same(x * 7.0, jf(x))
    rebind(np.full((2, 3), 2.0))  # another shape: a guard fails, a new trace
    assert_same(x * np.full((2, 3), 2.0), jf(x))
    assert jf.stats()["fallback_calls"] == 0


def make_counter():
    count = 0

    def f(x):
        nonlocal count
        count += 1
        return x * count

    def get():
        return count
    return f, get


def test_jitted_closure_assigning_its_cell():
    f, get = make_counter()
    jf = jit(f)
    x = np.arange(3.0)
    for k in range(1, 4):
        assert_same(x * k, jf(x))
        assert get() == k
    fell_back(jf, "closure variable 'count'")


def make_with_helper(bias):
    def helper(v):
        return v + bias

    def f(x):
        return helper(x) * 2.0
    return f


def test_jitted_closure_calling_closure():
    f = make_with_helper(1.5)
    jf = jit(f)
    x = np.arange(4.0)
    for _ in range(3):
        assert_same(f(x), jf(x))
    compiled(jf)


def make_sorting_with_setter(scale):
    def f(x):
        y = eager_sort(x * scale)  # the break; the continuation reads `scale` again (guarded)
        return y[0] + y.sum() * scale

    def rebind(v):
        nonlocal scale
        scale = v
    return f, rebind


def test_jitted_closure_graph_break_resumes_compiled():
    f, rebind = make_sorting_with_setter(2.0)
    jf = jit(f)
    for k in range(3):
        x = np.arange(4.0)[::-1] + k
        assert_same(f(x), jf(x))
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["continuation_calls"] == 3 and st["continuation_fallbacks"] == 0, st
    rebind(3.0)  # the closure's cell changes: both parts see it (their guards recompile)
    x = np.arange(4.0)
    assert_same(f(x), jf(x))
    assert jf.stats()["fallback_calls"] == 0, jf.stats()
