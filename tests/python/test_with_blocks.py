"""`with` statements at graph breaks: code before the statement runs compiled, the statement
itself (__enter__, the block, __exit__ once, exceptions handled by __exit__ as eagerly, including
suppression) runs eagerly in a copy of the function's code entered at its BEFORE_WITH, and the
code after it resumes compiled as a continuation. np.errstate blocks take the same path (the
block's ops run eagerly under the block's state; compiled code outside it sees the caller's).
Every case is compared with eager Python/NumPy: returns, exceptions (type and message), printed
output, warnings, in-place updates, and the context manager's own log of calls."""
import contextlib

import numpy as np
import pytest

import tracejit
from conftest import assert_same, jit_now as jit, record


class Log:
    """A context manager that logs its calls (and what __exit__ saw) into a shared list."""

    def __init__(self, log, suppress=False, value=2.0):
        self.log, self.suppress, self.value = log, suppress, value

    def __enter__(self):
        self.log.append("enter")
        return self.value

    def __exit__(self, et, ev, tb):
        self.log.append(("exit", et.__name__ if et else None, str(ev) if ev else None))
        return self.suppress


def outcome(fn, args):
    try:
        return fn(*args), None
    except Exception as e:  # noqa: BLE001
        return None, e


def run_both(fn, make_args, capsys=None, calls=4):
    """fn eagerly and jitted on equal fresh arguments (make_args(k, log)); the same return or
    exception, printed output, context manager log and in-place updates. Returns the jitted fn."""
    ref = []
    for k in range(calls):
        log = []
        args = make_args(k, log)
        r, e = outcome(fn, args)
        ref.append((r, e, args, log, capsys.readouterr().out if capsys else ""))
    jf = jit(fn)
    for k in range(calls):
        log = []
        args = make_args(k, log)
        got, err = outcome(jf, args)
        want, want_err, want_args, want_log, want_out = ref[k]
        if want_err is not None:
            assert type(err) is type(want_err) and str(err) == str(want_err), (err, want_err)
        else:
            assert err is None, err
            assert_same(want, got, rtol=1e-12)
        assert log == want_log, (log, want_log)
        if capsys:
            out = capsys.readouterr().out
            assert out == want_out, (out, want_out)
        for wa, ga in zip(want_args, args):
            if isinstance(wa, np.ndarray):
                assert_same(wa, ga)
    return jf


def compiled_around(jf, calls=4, withs=None):
    """Every call ran compiled before the with statement, the statement eagerly, and compiled
    after it (a continuation); the break is listed with this file's name."""
    st = jf.stats()
    assert st["compiled_calls"] == calls and st["fallback_calls"] == 0, st
    assert not st["fallback_reasons"], st["fallback_reasons"]
    assert st["with_blocks"] == (calls if withs is None else withs), st
    assert st["continuation_calls"] >= calls, st
    assert any("with statement" in r and __file__ in r for r in st["graph_break_reasons"]), st
    return st


def arrays(k, log):
    r = np.random.default_rng(k)
    return r.standard_normal(6), log


def test_compiled_before_and_after_a_with_block():
    def f(x, log):
        y = np.sin(x) * 2
        with Log(log, value=3.0) as c:
            y = y * c
            log.append(round(float(y.sum()), 9))
        return np.cos(y) + 1

    compiled_around(run_both(f, arrays))


def test_exception_inside_the_block_reaches_exit_and_the_caller():
    def f(x, log):
        y = x + 1
        with Log(log):
            if y[0] > 0:
                raise KeyError("positive")
            y = y * 2
        return y - 1

    def args(k, log):
        return np.array([(-1.0) ** k * 3, 1.0]), log

    jf = run_both(f, args)
    st = jf.stats()
    assert st["fallback_calls"] == 0 and st["with_blocks"] == 4, st
    assert st["continuation_calls"] >= 2, st  # the calls that did not raise went on compiled


def test_exit_suppressing_the_exception_goes_on_after_the_block():
    def f(x, log):
        y = x * 3
        with Log(log, suppress=True):
            y = y + 1
            if y[0] > 0:
                raise ValueError("suppressed")
            y = y * 100
        return y / 2

    def args(k, log):
        return np.array([(-1.0) ** k * 3, 1.0]), log

    compiled_around(run_both(f, args))


def test_nested_with_blocks():
    def f(x, log):
        y = x * 2
        with Log(log, value=1.5) as a:
            with Log(log, suppress=True, value=2.5) as b:
                y = y * a * b
                raise RuntimeError("inner")
            y = y + 1
        return np.exp(y * 0.1)

    compiled_around(run_both(f, arrays))


def test_return_inside_the_block():
    def f(x, log):
        y = np.abs(x)
        with Log(log):
            if y.sum() > 4:
                return y * 2
            y = y + 1
        return y - 1

    def args(k, log):
        return np.full(4, float(k)), log

    jf = run_both(f, args)
    st = jf.stats()
    assert st["compiled_calls"] == 4 and st["fallback_calls"] == 0 and st["with_blocks"] == 4, st
    assert st["continuation_calls"] >= 2, st  # the calls that left the block at its end


def test_return_of_a_constant_inside_the_block():
    def f(x, log):
        y = x + 1
        with Log(log):
            if y[0] > 0:
                return None
            y = y * 2
        return y

    def args(k, log):
        return np.array([(-1.0) ** k * 3, 1.0]), log

    jf = run_both(f, args)
    assert jf.stats()["fallback_calls"] == 0, jf.stats()


def test_generator_context_manager():
    @contextlib.contextmanager
    def scope(log, name):
        log.append(("in", name))
        try:
            yield name.upper()
        except ZeroDivisionError as e:
            log.append(("caught", str(e)))
        finally:
            log.append(("out", name))

    def f(x, log):
        y = x * x
        with scope(log, "a") as tag:
            log.append(tag)
            if y.sum() > 10:
                raise ZeroDivisionError("big")
            y = y + 1
        return y.sum() + np.float64(1)

    def args(k, log):
        return np.full(3, float(k + 1)), log

    compiled_around(run_both(f, args))


def test_printing_timer_block(capsys):
    class Timer:
        def __enter__(self):
            print("start")
            return self

        def __exit__(self, *exc):
            print("stop", exc[0])
            return False

    def f(x, log):
        y = np.tanh(x)
        with Timer():
            z = y * 2
            print("sum", round(float(z.sum()), 6))
        return z + y

    compiled_around(run_both(f, arrays, capsys))


def test_open_file_block(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("2.5")

    def f(x, log):
        y = x + 1
        with open(log[0]) as fh:
            s = float(fh.read())
        return y * s

    def args(k, log):
        return np.arange(4.0) + k, [str(path)]

    compiled_around(run_both(f, args))


def test_the_block_writes_an_array_in_place():
    def f(x, log):
        y = x * 2
        with Log(log):
            y[0] = -7.0
            x += 1
        return y + x

    compiled_around(run_both(f, arrays))


def test_a_with_block_inside_a_try_runs_the_rest_eagerly():
    def f(x, log):
        y = x + 1
        try:
            with Log(log, suppress=False):
                if y[0] > 0:
                    raise KeyError("k")
                y = y * 2
        except KeyError:
            y = y - 100
        return y

    def args(k, log):
        return np.array([(-1.0) ** k * 3, 1.0]), log

    jf = run_both(f, args)
    st = jf.stats()
    assert st["compiled_calls"] == 4 and st["fallback_calls"] == 0, st
    assert any("inside a try block" in r for r in st["graph_break_reasons"]), st


def test_with_inside_a_loop_is_refused_with_a_reason():
    def f(x, log):
        y = x * 1
        for i in range(3):
            with Log(log, value=float(i)) as c:
                y = y + c
        return y

    jf = run_both(f, arrays)
    st = jf.stats()
    # The call to Log() breaks as loop breaks do; the with statement and the rest of the
    # function then run eagerly (no continuation is traced there), with the reason recorded.
    assert st["with_blocks"] == 0, st
    assert any("inside a loop" in r and __file__ in r for r in st["fallback_reasons"]), st


def test_fullgraph_lists_the_with_block_with_its_line():
    def f(x, cm):
        y = x + 1
        with cm:
            y = y * 2
        return y

    jf = jit(f, fullgraph=True)
    with pytest.raises(tracejit.GraphBreakError) as e:
        jf(np.ones(3), contextlib.nullcontext())
    msg = str(e.value)
    line = f.__code__.co_firstlineno + 2
    assert f"{__file__}:{line}: with statement" in msg and "[graph-break]" in msg, msg


# np.errstate


def test_errstate_raise_inside_the_block():
    def f(x, z):
        y = np.sqrt(x) + 1
        with np.errstate(divide="raise"):
            q = y / z
        return q * 2

    jf = jit(f)
    for z in (np.array([1.0, 2.0]), np.array([1.0, 0.0]), np.array([4.0, 1.0])):
        x = np.array([4.0, 9.0])
        want = record(f, x, z)
        got = record(jf, x, z)
        assert want[1] == got[1] and want[2] == got[2], (want, got)
        if want[1] is None:
            assert_same(want[0], got[0])
    st = jf.stats()
    assert st["fallback_calls"] == 0 and st["with_blocks"] == 3, st
    assert st["continuation_calls"] >= 2, st  # the calls that did not raise went on compiled


def test_errstate_per_region_warnings_in_order():
    def f(x):
        a = 1.0 / x  # the caller's state (warn): a warning, compiled
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.log(x) + 0.0 / x  # ignored inside the block
        c = np.log(x) * 2  # warns again after the block
        return a + b + c

    jf = jit(f)
    for x in (np.array([1.0, 2.0]), np.array([0.0, 2.0]), np.array([3.0, 0.0]), np.array([1.0, 5.0])):
        want = record(f, x)
        got = record(jf, x)
        assert want[1] == got[1], (want, got)
        assert [w[:2] for w in want[2]] == [w[:2] for w in got[2]], (want[2], got[2])
        assert_same(want[0], got[0])
    st = jf.stats()
    # Calls whose compiled part raised a flag NumPy warns about re-ran eagerly (fp_reruns).
    assert st["compiled_calls"] == 2 and st["fp_reruns"] == 2 and st["with_blocks"] == 2, st


def test_errstate_raise_in_the_caller_but_ignore_in_the_block():
    def f(x):
        with np.errstate(all="ignore"):
            y = np.log(x)
        return y + 1.0 / x  # raises under the caller's state when x has a zero

    jf = jit(f)
    with np.errstate(divide="raise"):
        for x in (np.array([1.0, 2.0]), np.array([0.0, 2.0]), np.array([2.0, 3.0])):
            want = record(f, x)
            got = record(jf, x)
            assert want[1] == got[1] and want[2] == got[2], (want, got)
            if want[1] is None:
                assert_same(want[0], got[0])
    assert jf.stats()["with_blocks"] == 3, jf.stats()
