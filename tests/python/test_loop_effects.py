"""Deferred effects inside compiled loop regions (issue #5): print / append / dict stores /
f-strings in the body of a long `for` or `while` loop run compiled, performed per iteration with
that iteration's values, in order with every other effect (tracer/effects.cpp, the ir `effect`
op, backends/cpu/program.cpp's effect steps, jit/runtime.cpp's Replay).

Every case compares with the eager run: return values, in-place updates of arguments, printed
output, container contents and exceptions; and asserts from stats() that the calls ran compiled.
Values are chosen so the compiled arithmetic is exact (integer-valued or dyadic floats), so
printed text compares exactly."""
import contextlib
import copy
import io
import traceback

import numpy as np
import pytest

import tracejit

N = 1000


def run(f, args, calls=2):
    """Eager and jitted runs of f on copies of args: (result, stdout, args after) each."""
    def once(fn, a):
        out = io.StringIO()
        exc = None
        with contextlib.redirect_stdout(out):
            try:
                r = fn(*a)
            except Exception as e:  # noqa: BLE001 - compared with eager
                r, exc = None, e
        return r, out.getvalue(), a, exc

    eager = once(f, copy.deepcopy(args))
    j = tracejit.jit(f, sync=True, hot=0)
    jitted = [once(j, copy.deepcopy(args)) for _ in range(calls)]
    return eager, jitted, j


def same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(b) is dict and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and (a == b or (a != a and b != b))


def assert_compiled(j, calls=2):
    s = j.stats()
    assert s["fallback_calls"] == 0, s["fallback_reasons"]
    assert s["compiled_calls"] == calls, s


def check(f, args, containers=(), calls=2, compiled=True):
    """Runs eager and jitted (each call with fresh containers) and compares everything."""
    results = []
    for runner in ("eager", "jit"):
        outs = []
        fn = f if runner == "eager" else tracejit.jit(f, sync=True, hot=0)
        for _ in range(1 if runner == "eager" else calls):
            for c in containers:
                c.clear()
            a = copy.deepcopy(args)
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                r = fn(*a)
            outs.append((r, buf.getvalue(), a, [copy.copy(c) for c in containers]))
        results.append((outs, fn))
    (eager,), _ = results[0]
    jitted, j = results[1]
    for got in jitted:
        assert same(eager[0], got[0])
        assert eager[1] == got[1]
        assert same(list(eager[2]), list(got[2]))
        assert same(eager[3], got[3])
    if compiled:
        assert_compiled(j, calls)
    return eager, jitted, j


LOG = []
HIST = {}


def acc_print(x, n):
    acc = np.zeros_like(x)
    for step in range(n):
        acc = acc + x
        if step % 100 == 0:
            print(step, float(acc.sum()), np.sum(acc))
    return acc


def test_print_every_k_steps():
    x = np.arange(6.0).reshape(2, 3)
    eager, jitted, j = check(acc_print, (x, N))
    assert eager[1].count("\n") == 10
    assert "np.float64" not in eager[1]  # print uses str()


def append_each(x, n):
    acc = np.zeros_like(x)
    for step in range(n):
        acc = acc + x
        LOG.append(float(acc[1]))
    return acc


def test_append_per_iteration():
    eager, jitted, j = check(append_each, (np.array([0.5, 1.0, 2.0]), N), containers=(LOG,))
    assert len(eager[3][0]) == N


def dict_store(x, n):
    acc = np.zeros_like(x)
    for step in range(n):
        acc = acc * 0.5 + x
        HIST[step] = acc[0]  # a NumPy scalar per step
    return acc


def test_dict_store_keyed_by_loop_variable():
    eager, jitted, j = check(dict_store, (np.array([1.0, 2.0]), 200), containers=(HIST,))
    assert isinstance(eager[3][0][5], np.float64)
    assert isinstance(jitted[0][3][0][5], np.float64)


def while_print(x):
    t = x.copy()
    while t.sum() > 1.0:
        t = t * 0.5
        print("sum", float(t.sum()))
    return t


def test_effect_in_while_region():
    eager, jitted, j = check(while_print, (np.array([64.0, 32.0]),))
    assert eager[1].count("\n") == 7
    ir = tracejit.explain(while_print, np.array([64.0, 32.0]))
    assert "= while " in ir and "= effect" in ir


def inplace_then_print(w, g, n):
    for step in range(n):
        w -= 0.5 * g
        print(w[0], float(w[1]))
    return w.sum()


def test_effect_reads_argument_updated_in_place():
    w = np.array([100.0, 50.0, 25.0])
    g = np.array([1.0, 2.0, 4.0])
    eager, jitted, j = check(inplace_then_print, (w, g, 20))
    assert eager[2][0][0] == 90.0


def nested(x):
    acc = np.zeros_like(x)
    for i in range(12):
        for k in range(10):
            acc = acc + x
            if k % 3 == 0:
                LOG.append((i, k, float(acc[0])))
    return acc


def test_nested_loops_effect_in_inner_loop():
    eager, jitted, j = check(nested, (np.array([1.0, 2.0]),), containers=(LOG,))
    assert len(eager[3][0]) == 12 * 4


def fstring_loss(x, n):
    acc = np.zeros_like(x)
    for step in range(n):
        acc = acc + x
        loss = float(acc.mean())
        if step % 250 == 0:
            print(f"step {step}: loss={loss:.3f} raw={loss!r} np={acc.mean()}")
            LOG.append(f"{loss:8.2f}|{step:>5}")
    return acc


def test_fstring_of_runtime_float():
    eager, jitted, j = check(fstring_loss, (np.array([0.25, 0.75]), N), containers=(LOG,))
    assert eager[3][0][0] == "    0.50|    0"


def store_arrays(x, n):
    for step in range(n):
        h = x * step
        LOG.append(h)
    return x.sum()


def test_stored_computed_array_per_iteration():
    x = np.array([1.0, 2.0, 3.0])
    LOG.clear()
    store_arrays(x, 50)
    eager = list(LOG)
    j = tracejit.jit(store_arrays, sync=True, hot=0)
    for _ in range(2):
        LOG.clear()
        r = j(x, 50)
        assert r == 6.0
        assert len(LOG) == 50
        assert len({id(a) for a in LOG}) == 50  # a distinct object per iteration, as eagerly
        for a, b in zip(eager, LOG):
            assert same(a, b)
            assert b.flags.owndata and b.flags.writeable and b is not x
    assert_compiled(j)


def store_and_keep(x, n):
    for step in range(n):
        h = x * step
        LOG.append(h)
    return h  # eager: LOG[-1] is h


def test_stored_array_read_after_loop_runs_eagerly():
    x = np.array([1.0, 2.0])
    j = tracejit.jit(store_and_keep, sync=True, hot=0)
    LOG.clear()
    r = j(x, 50)
    assert r is LOG[-1] and len(LOG) == 50
    s = j.stats()
    assert s["fallback_calls"] == 1
    assert any("stored" in why for why in s["fallback_reasons"]), s["fallback_reasons"]


def store_then_update(x, n):
    acc = x.copy()
    for step in range(n):
        acc += 1.0
        LOG.append(acc)
    return x


def test_stored_array_updated_in_place_later_runs_eagerly():
    x = np.array([1.0, 2.0])
    j = tracejit.jit(store_then_update, sync=True, hot=0)
    LOG.clear()
    j(x, 50)
    assert len(LOG) == 50 and all(a is LOG[0] for a in LOG) and LOG[0][0] == 51.0
    assert j.stats()["fallback_calls"] == 1


BAD = io.BytesIO()


def raises_mid_loop(w, n):
    for step in range(n):
        w += 1.0
        print("step", step, float(w[0]))
        if step == 37:
            print("boom", file=BAD)  # TypeError: a bytes-like object is required, not 'str'
        LOG.append(step)
    return w


def test_exception_from_effect_mid_loop():
    def go(fn):
        LOG.clear()
        w = np.zeros(3)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(TypeError) as ei:
            fn(w, 100)
        return w, out.getvalue(), list(LOG), ei

    we, oe, le, ee = go(raises_mid_loop)
    j = tracejit.jit(raises_mid_loop, sync=True, hot=0)
    for _ in range(2):
        wj, oj, lj, ej = go(j)
        assert str(ej.value) == str(ee.value)
        assert oj == oe and lj == le  # earlier iterations' effects done, nothing after
        assert same(wj, we) and wj[0] == 38.0  # the in-place update up to the failing point
        tb = "".join(traceback.format_tb(ej.tb))
        assert "raises_mid_loop" in tb
    assert j.stats()["compiled_calls"] == 2 and j.stats()["fallback_calls"] == 0


def breaks_out(x, n):
    acc = np.zeros_like(x)
    for step in range(n):
        acc = acc + x
        print(step, float(acc[0]))
        if step == 500:
            break
    return acc


def test_break_after_effect_compiles():
    # A break on the loop variable after the effect: the region leaves at step 500 with 501
    # lines printed, as eagerly.
    x = np.array([1.0, 2.0])
    eager, jitted, j = run(breaks_out, (x, N))
    assert eager[1].count("\n") == 501
    for got in jitted:
        assert same(eager[0], got[0]) and eager[1] == got[1]
    assert_compiled(j)


def best_so_far(x, n):
    acc = np.zeros_like(x)
    best = np.inf
    for step in range(n):
        acc = acc * 0.5 + x
        loss = acc[0] - acc[1]
        if loss < best:
            print("new best", step, loss)
        best = min(best, float(loss))
    return acc


def test_branch_on_runtime_data_with_effect():
    check(best_so_far, (np.array([1.0, 4.0]), 60))


def train(x, w, n):
    for step in range(n):
        h = np.tanh(x @ w)
        g = x.T @ (h * (1 - h * h)) / x.shape[0]
        w = w - 0.01 * g
        if step % 100 == 0:
            print(step, float(np.mean(h * h)))
    return w


def test_training_loop():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 8))
    w = rng.standard_normal((8, 4))
    eager, jitted, j = run(train, (x, w, N))
    assert_compiled(j)
    for got in jitted:
        np.testing.assert_allclose(got[0], eager[0], rtol=1e-12, atol=1e-12)
        le, lj = eager[1].splitlines(), got[1].splitlines()
        assert len(le) == len(lj) == 10
        for a, b in zip(le, lj):
            sa, va = a.split()
            sb, vb = b.split()
            assert sa == sb
            assert abs(float(va) - float(vb)) < 1e-12


def effects_around_loop(x, n):
    print("before", float(x[0]))
    acc = x.copy()
    for step in range(n):
        acc = acc + x
        if step % 4 == 3:
            print("in", step, float(acc[0]))
    print("after", float(acc[0]))
    LOG.append(acc)
    return acc


def test_effects_before_and_after_the_loop_keep_order():
    eager, jitted, j = check(effects_around_loop, (np.array([1.0, 3.0]), 20), containers=(LOG,))
    for got in jitted:
        assert got[3][0][0] is got[0]  # the stored array is the returned one, as eagerly


def reads_log(x, n):
    for step in range(n):
        if len(LOG) > 3:
            x = x + 1.0
        LOG.append(step)
    return x


def test_container_read_in_loop_and_written_runs_eagerly():
    # The read (len(LOG)) runs eagerly at a graph break inside the loop, after the appends of
    # the iterations before it were performed: it sees what eager code sees.
    LOG.clear()
    e = reads_log(np.zeros(2), 20)
    j = tracejit.jit(reads_log, sync=True, hot=0)
    for _ in range(3):
        LOG.clear()
        r = j(np.zeros(2), 20)
        assert same(e, r) and LOG == list(range(20))
    st = j.stats()
    assert any("call to len() runs eagerly" in r for r in st["graph_break_reasons"]), st


def raises_before_update(w, x, n):
    for step in range(n):
        print("step", step)
        if step == 20:
            print(float(x[0]), file=BAD)  # raises: w holds 20 updates, as eagerly
        w += x
    return w


def test_exception_before_a_later_in_place_update():
    x = np.array([1.0, 2.0])
    outs = []
    for fn in (raises_before_update, tracejit.jit(raises_before_update, sync=True, hot=0)):
        for _ in range(1 if fn is raises_before_update else 2):
            w = np.zeros(2)
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf), pytest.raises(TypeError) as ei:
                fn(w, x, 100)
            outs.append((w.copy(), buf.getvalue(), str(ei.value)))
    for got in outs[1:]:
        assert same(got[0], outs[0][0]) and got[1:] == outs[0][1:]
    assert outs[0][0][0] == 20.0
    assert fn.stats()["compiled_calls"] == 2 and fn.stats()["fallback_calls"] == 0


def input_in_body(x, n):
    acc = np.zeros_like(x)
    for step in range(n):
        print(x)  # the argument's contents in this iteration
        LOG.append(x)  # the argument object itself, as eagerly
        acc = acc + x
        x += 1.0
    return acc


def test_argument_printed_and_stored_in_the_body():
    x = np.array([1.0, 2.0])
    LOG.clear()
    xe = x.copy()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        re_ = input_in_body(xe, 12)
    le = list(LOG)
    j = tracejit.jit(input_in_body, sync=True, hot=0)
    for _ in range(2):
        LOG.clear()
        xj = x.copy()
        b2 = io.StringIO()
        with contextlib.redirect_stdout(b2):
            rj = j(xj, 12)
        assert b2.getvalue() == buf.getvalue() and same(rj, re_) and same(xj, xe)
        assert len(LOG) == 12 and all(o is xj for o in LOG)
    assert all(o is xe for o in le)
    assert_compiled(j)


def scalar_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
        if i % 250 == 0:
            print(i, s)
    return s


def test_scalar_loop_with_effects_runs_as_program_steps():
    x = np.arange(1000.0)
    eager, jitted, j = check(scalar_sum, (x,))
    (entry,) = j.cache_info()
    loops = entry["loops"]
    assert loops["native"] == 0 and any("host effects" in r for r in loops["not_native"]), loops


def nested_inplace(w, x):
    for i in range(10):
        for k in range(10):
            if k == 9 and i == 6:
                print("boom", file=BAD)  # raises with w updated 6 times, as eagerly
            print(i, k)
        w += x
    return w


def test_nested_effect_raises_while_outer_loop_updates_an_argument():
    x = np.array([1.0, 2.0])
    outs = []
    j = tracejit.jit(nested_inplace, sync=True, hot=0)
    for fn in (nested_inplace, j, j):
        w = np.zeros(2)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), pytest.raises(TypeError) as ei:
            fn(w, x)
        outs.append((w.copy(), buf.getvalue(), str(ei.value)))
    for got in outs[1:]:
        assert same(got[0], outs[0][0]) and got[1:] == outs[0][1:]
    assert outs[0][0][0] == 6.0
    assert j.stats()["fallback_calls"] + j.stats()["compiled_calls"] == 2


def raises_mid_loop_after_print(w, n):
    print("start")  # an effect before the loop: the loop's effects are recorded, then replayed
    for step in range(n):
        w += 1.0
        print("step", step, float(w[0]))
        if step == 37:
            print("boom", file=BAD)
        LOG.append(step)
    print("never")
    return w


def test_exception_from_recorded_effect_mid_loop():
    outs = []
    j = tracejit.jit(raises_mid_loop_after_print, sync=True, hot=0)
    for fn in (raises_mid_loop_after_print, j, j):
        LOG.clear()
        w = np.zeros(3)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), pytest.raises(TypeError) as ei:
            fn(w, 100)
        outs.append((w.copy(), buf.getvalue(), list(LOG), str(ei.value)))
    for got in outs[1:]:
        assert same(got[0], outs[0][0]) and got[1:] == outs[0][1:]
    assert outs[0][0][0] == 38.0 and "never" not in outs[0][1]
    assert j.stats()["compiled_calls"] == 2 and j.stats()["fallback_calls"] == 0


def slow_append(x, w, n):
    for step in range(n):
        w = np.tanh(x @ w)
        LOG.append(step)
    return w


def test_loop_effects_happen_while_the_loop_runs():
    # The loop's effects come first in program order: performed as the program reaches them
    # (the kernels run without the GIL, so another thread sees the list grow before the call
    # returns).
    import threading
    import time

    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 300)) / 20
    w = rng.standard_normal((300, 300)) / 20
    n = 200
    j = tracejit.jit(slow_append, sync=True, hot=0)
    j(x, w, 2)
    seen = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen.append(len(LOG))
            time.sleep(0.0005)

    LOG.clear()
    t = threading.Thread(target=watch)
    t.start()
    try:
        r = j(x, w, n)
    finally:
        done.set()
        t.join()
    LOG.clear()
    e = slow_append(x, w, n)
    np.testing.assert_allclose(r, e, rtol=1e-9, atol=1e-12)
    assert_compiled(j)
    assert any(0 < k < n for k in seen), seen[:20]


# Effects together with breaks out of a region (region_break): an effect after the break runs
# only in iterations that did not leave; a speculative trace of the code after a `break` test
# (tried first as the while loop's test) must not leave its effect behind.

def while_break_then_append(x, t):
    s = 0.0
    i = 0
    while i < x.shape[0]:
        s = s + x[i]
        if s > t:
            break
        LOG.append(float(s))
        i += 1
    return i


def for_break_then_append(x, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            break
        LOG.append(float(x[i]))
    return i


def for_print_then_break(x, t):
    for i in range(x.shape[0]):
        print("at", i)
        if x[i] > t:
            break
    return i


@pytest.mark.parametrize("f", [while_break_then_append, for_break_then_append, for_print_then_break])
@pytest.mark.parametrize("t", [150.5, 1e9, -1.0])  # breaks mid-way, never, in the first iteration
def test_effect_with_break(f, t):
    check(f, (np.arange(300.0), t), containers=(LOG,))


def append_then_break(x, t):
    s = 0.0
    i = 0
    while i < x.shape[0]:
        s = s + x[i]
        if s > t:
            LOG.append(-1.0)  # an effect on the way out: not a plain break (eager, correct)
            break
        i += 1
    return i


def test_effect_in_break_arm_runs_eagerly():
    for t in (150.5, -1.0):
        LOG.clear()
        want = append_then_break(np.arange(300.0), t)
        log_e = list(LOG)
        LOG.clear()
        j = tracejit.jit(append_then_break, sync=True, hot=0)
        assert j(np.arange(300.0), t) == want and LOG == log_e
        # the part before the branch compiled (a graph break inside the loop); after it, the
        # arm compiled, or (not taken) the rest eagerly: the counter i would specialize every
        # continuation of the loop
        st = j.stats()
        assert st["compiled_calls"] == 1 and st["fallback_calls"] == 0, st
        assert st["continuation_calls"] + st["continuation_fallbacks"] == 1, st
