"""Partial graphs: statements a graph cannot hold (print, dict/list stores, list.append,
dict.update) are deferred effects around the compiled code, performed with the real values, once
and in order; strings formatted from runtime values are host values. Every case is compared
with eager Python/NumPy: returns, printed output, container contents, in-place updates,
exceptions. Also fullgraph=True and the exceptions raised by user code under jit."""
import sys
import traceback

import numpy as np
import pytest

import tracejit
from conftest import assert_same


def jit(fn, **kw):
    kw.setdefault("hot", 0)
    kw.setdefault("sync", True)
    return tracejit.jit(fn, **kw)


def run_both(fn, make_args, capsys, calls=2, **jit_kw):
    """Runs fn eagerly and jitted (`calls` times each, fresh arguments each time): returns
    (eager results, jitted results, eager stdout, jitted stdout, jitted function)."""
    ref, got = [], []
    for _ in range(calls):
        ref.append((fn(*make_args()),))
    ref_out = capsys.readouterr().out
    jf = jit(fn, **jit_kw)
    for _ in range(calls):
        got.append((jf(*make_args()),))
    got_out = capsys.readouterr().out
    return ref, got, ref_out, got_out, jf


def assert_compiled(jf, breaks=None):
    st = jf.stats()
    assert st["compiled_calls"] > 0 and st["fallback_calls"] == 0, st
    if breaks is not None:
        assert st["graph_breaks"] == breaks, st
    return st


def assert_fell_back(jf, words):
    st = jf.stats()
    assert st["compiled_calls"] == 0 and st["fallback_calls"] > 0, st
    assert any(words in r for r in st["fallback_reasons"]), st["fallback_reasons"]
    # the reason names the user's file:line
    assert any(__file__ in r for r in st["fallback_reasons"]), st["fallback_reasons"]


def assert_broke(jf, words):
    """Compiled around a graph break (the statement ran eagerly between two compiled parts)."""
    st = jf.stats()
    assert st["compiled_calls"] > 0 and st["fallback_calls"] == 0, st
    assert any(words in r for r in st["graph_break_reasons"]), st["graph_break_reasons"]
    assert any(__file__ in r for r in st["graph_break_reasons"]), st["graph_break_reasons"]


# ---------------------------------------------------------------------------------------------
# training_log-like functions

HISTORY = {}


def train_step(x, w, epoch):
    h = np.tanh(x @ w)
    loss = float(np.mean(h * h))
    print(f"epoch {epoch}: loss {loss:.6f}")
    HISTORY[epoch] = loss
    g = x.T @ (h * (1.0 - h * h)) / x.shape[0]
    return w - 0.01 * g


def test_training_log_runs_compiled_around_print_and_dict_store(capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8))
    w = rng.standard_normal((8, 8)) * 0.1
    HISTORY.clear()
    ref = train_step(x, w, 3)
    ref_hist = dict(HISTORY)
    ref_out = capsys.readouterr().out
    HISTORY.clear()
    f = jit(train_step)
    for k in range(3):
        got = f(x, w, 3)
        np.testing.assert_allclose(got, ref, rtol=1e-12)
        assert capsys.readouterr().out == ref_out  # printed once per call, same text
        assert HISTORY.keys() == ref_hist.keys()
        assert HISTORY[3] == pytest.approx(ref_hist[3], rel=1e-12)
        assert type(HISTORY[3]) is float
    st = assert_compiled(f, breaks=2)
    assert st["compiled_calls"] == 3 and st["compiles"] == 1
    reasons = st["graph_break_reasons"]
    line = train_step.__code__.co_firstlineno
    assert any(f"{__file__}:{line + 3}: print(...)" in r and "[graph-break]" in r for r in reasons), reasons
    assert any(f"{__file__}:{line + 4}: HISTORY[...] = ..." in r for r in reasons), reasons
    text = tracejit.explain(train_step, x, w, 3)
    assert f"# graph break: {__file__}:{line + 3}: print(...)" in text


def test_an_epoch_counter_only_printed_and_stored_does_not_recompile(capsys):
    # `epoch` only feeds the f-string and the dict key: its value is read again at run time
    # (lazy value guard), so 20 epochs compile once and run compiled from the second call on.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 8))
    w0 = rng.standard_normal((8, 8)) * 0.1
    HISTORY.clear()
    w = w0.copy()
    for ep in range(20):
        w = train_step(x, w, ep)
    ref_w, ref_hist, ref_out = w, dict(HISTORY), capsys.readouterr().out
    HISTORY.clear()
    f = jit(train_step, hot=1)
    w = w0.copy()
    for ep in range(20):
        w = f(x, w, ep)
    assert capsys.readouterr().out == ref_out
    assert HISTORY.keys() == ref_hist.keys()
    np.testing.assert_allclose(list(HISTORY.values()), list(ref_hist.values()), rtol=1e-12)
    np.testing.assert_allclose(w, ref_w, rtol=1e-12)
    st = f.stats()
    assert st["compiles"] == 1 and st["recompiles"] == 0 and st["compiled_calls"] == 19, st
    guards = f.cache_info()[0]["guards"]
    assert "type(arg 'epoch') is int" in guards
    assert not any("epoch" in g and "==" in g for g in guards), guards


def _int_in_arithmetic(x, n):
    print(f"n={n:03d}")
    return x * n


def _int_in_range(x, n):
    for _ in range(n):
        x = x + 1.0
    return x


def _int_printed_then_used(x, n):
    print("n is", f"{n}")
    y = x + 1.0
    return y * (n + 1)


class _Counter:
    def __init__(self, step):
        self.step = step

    def log(self, x):
        print(f"step {self.step}")
        return x * 2.0


@pytest.mark.parametrize("fn, distinct", [
    (_int_in_arithmetic, 4),      # the value feeds the graph: specialized, one version per value
    (_int_in_range, 4),           # a trip count: specialized
    (_int_printed_then_used, 4),  # formatted first, then used: guarded once it is used
])
def test_ints_that_feed_the_graph_stay_specialized(fn, distinct, capsys):
    x = np.linspace(0.0, 1.0, 5)
    ns = [3, 5, 3, 0, 7, 5]
    ref = [fn(x, n) for n in ns]
    ref_out = capsys.readouterr().out
    f = jit(fn)
    got = [f(x, n) for n in ns]
    assert capsys.readouterr().out == ref_out
    for a, b in zip(ref, got):
        assert_same(a, b)
    st = f.stats()
    assert st["compiles"] == distinct and st["fallback_calls"] == 0, st


def test_an_int_attribute_only_printed_does_not_recompile(capsys):
    x = np.ones(3)
    ref_out = []
    for k in range(5):
        _Counter(k).log(x)
    ref_out = capsys.readouterr().out
    f = jit(_Counter.log)
    for k in range(5):
        assert_same(x * 2.0, f(_Counter(k), x))
    assert capsys.readouterr().out == ref_out
    assert f.stats()["compiles"] == 1, f.stats()


def _store_at(x, lst, i):
    lst[i] = float(x.sum())
    return x + 1.0


def test_a_runtime_list_index_raises_like_eager():
    x = np.ones(4)
    f = jit(_store_at)
    lst = [0.0, 0.0]
    assert_same(x + 1.0, f(x, lst, 1))
    assert lst == [0.0, 4.0]
    with pytest.raises(IndexError, match="list assignment index out of range"):
        f(x, [0.0, 0.0], 5)
    assert f.stats()["compiles"] == 1, f.stats()


def test_effects_happen_once_and_in_order(capsys):
    def f(x, log):
        a = x * 2.0
        log.append(float(a.max()))
        print("first", float(a.min()))
        b = a + 1.0
        log.append(float(b.max()))
        print("second", float(b.min()), sep="|", end=";\n")
        return b * b

    x = np.arange(6.0)
    ref_log, got_log = [], []
    ref = f(x, ref_log)
    ref_out = capsys.readouterr().out
    jf = jit(f)
    got = jf(x, got_log)
    assert capsys.readouterr().out == ref_out == "first 0.0\nsecond|1.0;\n"
    assert got_log == ref_log == [10.0, 11.0]
    assert_same(ref, got)
    got_log.clear()
    jf(x + 1.0, got_log)
    assert got_log == [12.0, 13.0]
    assert_compiled(jf, breaks=4)
    assert jf.stats()["compiles"] == 1  # appends do not change the list's guards


def test_effects_inside_unrolled_loops(capsys):
    def f(x, hist):
        for i in range(3):
            x = x * 2.0
            print(f"step {i}: max={float(x.max())!r}")
            hist[i] = float(x.sum())
        for name, s in (("a", 1.0), ("b", -1.0)):
            hist[name] = float((x * s).min())
        return x

    x = np.array([0.5, 1.25, -3.0])
    ref_h, got_h = {}, {}
    ref = f(x, ref_h)
    ref_out = capsys.readouterr().out
    jf = jit(f)
    got = jf(x, got_h)
    assert capsys.readouterr().out == ref_out
    assert list(got_h.items()) == list(ref_h.items())  # same keys, same order, exact values
    assert_same(ref, got)
    assert_compiled(jf, breaks=8)


def test_effects_in_a_long_range_loop_happen_every_iteration(capsys):
    # A range loop long enough to be traced as a compiled loop region stays one when its body
    # has effects: they happen per iteration, in order (one graph break per loop: its effects,
    # replayed per iteration; see test_loop_effects.py).
    def f(x, log):
        for i in range(12):
            x = x * 0.5 + 1.0
            print("tick", i)
            log[i] = float(x.max())
        for _ in range(10):
            print("tock")
        return x

    x = np.array([4.0, -2.0, 0.25])
    ref_log, got_log = {}, {}
    ref = f(x, ref_log)
    ref_out = capsys.readouterr().out
    jf = jit(f)
    got = jf(x, got_log)
    assert capsys.readouterr().out == ref_out
    assert list(got_log.items()) == list(ref_log.items())
    assert_same(ref, got)
    assert_compiled(jf, breaks=2)
    assert "= effect " in tracejit.explain(f, x, {})


def test_effect_operands_are_the_values_at_their_point(capsys):
    def f(x, d):
        y = x + 1.0
        print(y)            # before the update
        d["before"] = float(y.sum())
        y += 10.0           # a local updated in place after it was printed
        print(y)
        x *= 2.0            # an input updated in place: printed after, stored before and after
        print(x)
        d["x"] = x          # the caller's array itself (it ends with its final contents)
        return y

    def make():
        return np.arange(4.0), {}

    x1, d1 = make()
    ref = f(x1, d1)
    ref_out = capsys.readouterr().out
    jf = jit(f)
    x2, d2 = make()
    got = jf(x2, d2)
    assert capsys.readouterr().out == ref_out
    assert_same(ref, got)
    assert_same(x1, x2)
    assert d2["x"] is x2 and d2["before"] == d1["before"]
    assert_compiled(jf)


def test_stored_objects_keep_their_identity():
    def f(x, d, lst):
        y = x * 3.0
        d["y"] = y
        d["again"] = y
        d["x"] = x
        d["l"] = lst
        s = np.sum(x)        # a NumPy scalar
        lst.append(s)
        lst.append((s, "tag", None))
        return y, s

    x = np.arange(5.0)
    d, lst = {}, []
    ref_d, ref_l = {}, []
    ref = f(x, ref_d, ref_l)
    jf = jit(f)
    y, s = jf(x, d, lst)
    assert d["y"] is y and d["again"] is y and d["x"] is x and d["l"] is lst
    assert lst[0] is s and lst[1][0] is s
    assert type(s) is np.float64 and s == ref[1]
    assert_same(ref[0], y)
    assert lst[1][1:] == ("tag", None)
    assert_compiled(jf)


def test_dict_update_and_list_item_assignment():
    def f(x, d, lst):
        m = float(x.max())
        d.update(best=m, name="run")
        d.update([("pairs", m * 2.0), (3, None)])
        lst[0] = m
        lst[-1] = x
        return x - m

    x = np.linspace(-1.0, 2.0, 7)
    rd, rl = {"keep": 1}, [0, 1, 2]
    gd, gl = {"keep": 1}, [0, 1, 2]
    ref = f(x, rd, rl)
    jf = jit(f)
    got = jf(x, gd, gl)
    assert_same(ref, got)
    assert list(gd.items()) == list(rd.items())
    assert gl[:2] == rl[:2] and gl[2] is x
    assert_compiled(jf, breaks=4)


# ---------------------------------------------------------------------------------------------
# Formatting: exactly as eager

def test_formatting_floats_ints_arrays_and_numpy_scalars(capsys):
    def f(x, i32, n):
        m = float(x.max())            # a Python float at run time
        s32 = (x.astype(np.float32) * 3.0).min()  # a NumPy float32 scalar
        k = i32.sum()                 # a NumPy int64 scalar
        print(m, repr(m), str(m), f"{m:.6f}|{m:e}|{m:>12.3g}|{m!r}|{m!s:>20}")
        print(s32, repr(s32), f"{s32}|{s32:.3f}|{s32!r}")
        print(k, repr(k), f"{k:05d}|{k:x}|{k!r}|{n}|{n:+d}")
        print(x, repr(x), f"{x}|{x!r}")
        print(format(m, ".2f"), format(k), ascii(m), "{} and {:.1f}".format(m, m))
        w, p = 10, 2
        print(f"{m:{w}.{p}f}|", ", ".join([str(m), "z"]))
        print((m, k), [m, s32], sep=" -- ")
        return x * 2.0

    x = np.array([0.1, 1.0 / 3.0, -2.5e-7, 12345.678])
    i32 = np.array([1, -7, 300], dtype=np.int64)
    ref = f(x, i32, 42)
    ref_out = capsys.readouterr().out
    jf = jit(f)
    got = jf(x, i32, 42)
    got_out = capsys.readouterr().out
    assert got_out == ref_out
    assert_same(ref, got)
    assert_compiled(jf, breaks=7)
    x2 = x[::-1].copy()
    f(x2, i32 * 2, 42)
    ref_out = capsys.readouterr().out
    jf(x2, i32 * 2, 42)
    assert capsys.readouterr().out == ref_out
    assert jf.stats()["compiles"] == 1


def test_print_to_stderr_and_flush(capsys):
    def f(x):
        print("loss", float(x.sum()), file=sys.stderr, flush=True)
        print("plain", end="")
        return x + 1.0

    x = np.ones(3)
    f(x)
    ref = capsys.readouterr()
    jf = jit(f)
    jf(x)
    got = capsys.readouterr()
    assert (got.out, got.err) == (ref.out, ref.err) == ("plain", "loss 3.0\n")
    # sys.stderr is guarded by identity: a new capture recompiles, it never prints elsewhere
    assert jf.stats()["compiled_calls"] == 1


# ---------------------------------------------------------------------------------------------
# fullgraph=True

def test_fullgraph_lists_every_break_with_file_and_line():
    f = tracejit.jit(train_step, fullgraph=True, sync=True)
    x, w = np.ones((4, 3)), np.ones((3, 3))
    HISTORY.clear()
    with pytest.raises(tracejit.GraphBreakError) as e:
        f(x, w, 1)
    assert isinstance(e.value, RuntimeError)
    msg = str(e.value)
    line = train_step.__code__.co_firstlineno
    assert f"{__file__}:{line + 3}: print(...)" in msg
    assert f"{__file__}:{line + 4}: HISTORY[...] = ..." in msg
    assert HISTORY == {}  # nothing ran
    with pytest.raises(tracejit.GraphBreakError):  # and again on the next call
        f(x, w, 1)


def test_fullgraph_lists_breaks_and_the_abort():
    def g(x):
        print("start")
        y = x * 2.0
        return sorted([1, 2]), y  # sorted(): not traced

    f = tracejit.jit(g, fullgraph=True, sync=True)
    with pytest.raises(tracejit.GraphBreakError) as e:
        f(np.ones(2))
    msg = str(e.value)
    line = g.__code__.co_firstlineno
    assert f"{__file__}:{line + 1}: print(...)" in msg and "[graph-break]" in msg
    assert f"{__file__}:{line + 3}:" in msg and "sorted" in msg


def test_fullgraph_compiles_a_whole_graph():
    f = tracejit.jit(lambda a: a * 2.0 + 1.0, fullgraph=True, sync=True)
    a = np.arange(3.0)
    assert_same(a * 2.0 + 1.0, f(a))
    assert f.stats()["compiled_calls"] == 1 and f.stats()["graph_breaks"] == 0


# ---------------------------------------------------------------------------------------------
# Aliasing and visibility: abort (eager, with a reason) or handled exactly

def test_reading_a_container_after_a_deferred_store_breaks_the_graph_there():
    def f(x, d):
        d["scale"] = 2.0
        return x * d["scale"]

    x = np.arange(3.0)
    jf = jit(f)
    d = {"scale": 5.0}
    assert_same(x * 2.0, jf(x, d))
    assert d == {"scale": 2.0}
    # the store is performed at the break, the read eagerly after it, the rest compiled
    st = assert_compiled(jf)
    assert any("reads d after the deferred" in r for r in st["graph_break_reasons"]), st


def test_aliased_containers_at_call_time_run_eagerly():
    def f(x, d1, d2):
        d1["k"] = 2.0
        return x * d2["k"]

    x = np.arange(3.0)
    jf = jit(f)
    assert_same(x * 7.0, jf(x, {}, {"k": 7.0}))        # distinct dicts: compiled
    assert jf.stats()["compiled_calls"] == 1
    d = {"k": 7.0}
    assert_same(x * 2.0, jf(x, d, d))                   # the same dict: eager's answer
    assert d == {"k": 2.0}
    assert jf.stats()["fallback_calls"] == 1


def test_updating_a_stored_computed_array_in_place_runs_eagerly():
    def f(x, d):
        y = x * 2.0
        d["y"] = y
        y += 1.0
        return y

    x = np.arange(3.0)
    jf = jit(f)
    d = {}
    r = jf(x, d)
    assert d["y"] is r and np.array_equal(r, x * 2.0 + 1.0)
    assert_fell_back(jf, "updates in place an array a deferred effect stored")


def test_storing_a_view_runs_eagerly():
    def f(x, d):
        d["t"] = x.T
        return x + 1.0

    x = np.ones((2, 3))
    jf = jit(f)
    d = {}
    jf(x, d)
    assert d["t"].base is x
    assert_fell_back(jf, "stores a view")


def test_printing_a_mutable_container_runs_eagerly(capsys):
    def f(x, d):
        print(d)
        return x + 1.0

    jf = jit(f)
    jf(np.ones(2), {"a": 1})
    assert capsys.readouterr().out == "{'a': 1}\n"
    # print(d) runs eagerly with the real dict, between the compiled parts
    assert_broke(jf, "passes a dict to a deferred effect")


def test_appending_to_an_iterated_list_runs_eagerly():
    def f(x, lst):
        for v in lst:
            x = x + v
        lst.append(1.0)
        return x

    lst = [1.0, 2.0]
    jf = jit(f)
    assert_same(np.full(2, 3.0), jf(np.zeros(2), lst))
    assert lst == [1.0, 2.0, 1.0]
    assert_fell_back(jf, "writes a list the traced code iterates")


class Box:
    def __init__(self):
        self.scale = 3.0


def test_writing_a_namespace_runs_eagerly():
    def f(x, ns, obj):
        ns["scale"] = 2.0
        return x * obj.scale

    obj = Box()
    jf = jit(f)
    x = np.arange(3.0)
    assert_same(x * 2.0, jf(x, obj.__dict__, obj))
    assert_fell_back(jf, "namespace")


def test_host_values_cannot_be_used_as_data():
    x = np.arange(3.0)

    def ret(x):
        return f"{float(x.sum())}"

    def length(x):
        s = str(float(x.sum()))
        return x * len(s)

    def branch(x):
        s = repr(x.sum())
        if s:
            return x
        return -x

    # len(s) and `if s:` run eagerly on the real string, between compiled parts (graph breaks)
    for fn, words, broke in ((ret, "returns a string formatted from runtime values", False),
                             (length, "passes a string formatted from runtime values to len()", True),
                             (branch, "branch on the value of a string formatted from runtime values", True)):
        jf = jit(fn)
        r = jf(x)
        e = fn(x)
        assert type(r) is type(e) and (r == e if isinstance(e, str) else np.array_equal(r, e))
        if broke:
            assert_broke(jf, words)
        else:
            assert_fell_back(jf, words)


def test_print_result_used_runs_eagerly(capsys):
    def f(x):
        r = print("hi")
        return x, r

    jf = jit(f)
    assert jf(np.ones(1))[1] is None
    assert capsys.readouterr().out == "hi\n"
    assert_broke(jf, "the result of print(...) is used")  # print runs eagerly, its result used


# ---------------------------------------------------------------------------------------------
# An effect that raises at run time

def test_an_effect_that_raises_propagates_like_eager():
    def f(x, lst):
        x += 1.0
        lst.append(float(x.sum()))
        lst[5] = 0.0          # IndexError: the statement raises
        x += 100.0            # never happens eagerly
        return x

    x1, l1 = np.zeros(3), []
    with pytest.raises(IndexError) as e1:
        f(x1, l1)
    jf = jit(f)
    # trace and compile on a harmless list first
    x0, l0 = np.zeros(3), [0] * 6
    jf(x0, l0)
    assert_compiled(jf)
    x2, l2 = np.zeros(3), []
    with pytest.raises(IndexError) as e2:
        jf(x2, l2)
    assert str(e2.value) == str(e1.value)
    assert_same(x1, x2)            # the in-place update before the statement, not the one after
    assert l2 == l1 == [3.0]       # the append before it happened, once
    top = traceback.extract_tb(e2.value.__traceback__)[-1]
    assert (top.filename, top.lineno) == (__file__, f.__code__.co_firstlineno + 3)


# ---------------------------------------------------------------------------------------------
# Exceptions raised by user code under jit: same type, message and innermost user frame

def helper_that_raises(v):
    if v.shape[0] > 3:
        raise ValueError(f"too long: {v.shape[0]}")
    return v * 2.0


def broadcast(a, b):
    return a + b


def index(a, i):
    return a[i] * 2.0


def user_raise(a, n):
    if n < 0:
        raise ValueError("n must be >= 0")
    return a * n


def inlined(a):
    return helper_that_raises(a) + 1.0


def innermost_user_frame(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == __file__]
    return frames[-1].lineno, frames[-1].name


@pytest.mark.parametrize("fn,good,bad", [
    (broadcast, (np.ones(3), np.ones(3)), (np.ones(3), np.ones(4))),
    (index, (np.ones(5), 1), (np.ones(5), 7)),
    (user_raise, (np.ones(2), 2), (np.ones(2), -1)),
    (inlined, (np.ones(2),), (np.ones(5),)),
])
@pytest.mark.parametrize("cached", [False, True])
def test_user_exceptions_surface_as_eager(fn, good, bad, cached):
    with pytest.raises(Exception) as eager:
        fn(*bad)
    jf = jit(fn)
    if cached:  # a compiled version exists; the bad call misses its guards
        assert_same(fn(*good), jf(*good))
        assert jf.stats()["compiled_calls"] == 1
    for _ in range(2):  # the trace aborts (first call) and the signature stays eager (second)
        with pytest.raises(Exception) as got:
            jf(*bad)
        assert type(got.value) is type(eager.value)
        assert str(got.value) == str(eager.value)
        assert innermost_user_frame(got.value) == innermost_user_frame(eager.value)
