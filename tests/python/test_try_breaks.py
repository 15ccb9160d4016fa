"""Graph breaks inside try blocks: the part before the break runs compiled; the break
instruction and the rest of the function run eagerly in a copy of the function's code entered at
that instruction, with its exception table, so exceptions raised there (by the break itself or
later) meet the user's handlers and `finally` runs once, exactly as eagerly. (`with` blocks:
test_with_blocks.py.) Every case is compared with eager
Python/NumPy: returns, printed output, in-place updates, exceptions."""
import warnings

import numpy as np
import pytest

import tracejit
from conftest import assert_same, jit_now as jit, random_args as arrays, eager_sort


def run_both(fn, make_args, capsys, calls=4):
    """fn eagerly and jitted on the same fresh arguments: the same return or exception (type and
    message), printed output and in-place updates. Returns the jitted function."""
    ref = []
    for k in range(calls):
        args = make_args(k)
        try:
            r, e = fn(*args), None
        except Exception as ex:  # noqa: BLE001
            r, e = None, ex
        ref.append((r, e, args, capsys.readouterr().out))
    jf = jit(fn)
    for k in range(calls):
        args = make_args(k)
        try:
            got, err = jf(*args), None
        except Exception as ex:  # noqa: BLE001
            got, err = None, ex
        out = capsys.readouterr().out
        want, want_err, want_args, want_out = ref[k]
        if want_err is not None:
            assert type(err) is type(want_err) and str(err) == str(want_err), (err, want_err)
        else:
            assert err is None, err
            if isinstance(want, list):
                assert want == got
            else:
                assert_same(want, got, rtol=1e-12)
        assert out == want_out, (out, want_out)
        for wa, ga in zip(want_args, args):
            if isinstance(wa, np.ndarray):
                assert_same(wa, ga)
    return jf


def broke_in_try(jf, calls=4):
    """Every call ran its first part compiled and the rest eagerly from the break in a try."""
    st = jf.stats()
    assert st["compiled_calls"] == calls and st["fallback_calls"] == 0, st
    assert st["graph_breaks"] >= 1, st
    assert st["continuation_fallbacks"] >= calls, st
    assert any("inside a try block" in r and __file__ in r for r in st["graph_break_reasons"]), st
    return st


# ---------------------------------------------------------------------------------------------

def sort_in_try(x):
    y = np.tanh(x) * 2.0
    try:
        z = eager_sort(y)
        w = z[0] + z[-1]
    except ValueError:
        w = -1.0
    return w + y.sum()


def break_raises(x, axis):
    y = x * 2.0
    try:
        z = eager_sort(y, axis=axis)  # AxisError (a ValueError) when axis is out of range
        print("sorted")
    except ValueError as e:
        print("caught", type(e).__name__)
        z = y
    return z + 1.0


def later_raise_caught(x):
    y = x + 1.0
    try:
        z = eager_sort(y)
        if z[0] < 0.0:
            raise KeyError("negative")
        r = z.sum()
    except KeyError as e:
        print("caught", e)
        r = -1.0
    return r


def finally_once(x, log):
    y = np.exp(x)
    try:
        z = eager_sort(y)
        log.append("body")
        return z.max()
    finally:
        log.append("finally")
        print("finally ran")


def uncaught_through_finally(x):
    y = x * 3.0
    try:
        z = eager_sort(y)
        if z[0] < 0.0:
            raise RuntimeError(f"first {z[0]:.3f}")
        return z
    except KeyError:
        return None
    finally:
        print("cleanup")


def method_in_try(x):
    y = x * 2.0
    try:
        lst = y.tolist()
        n = len(lst)
    except AttributeError:
        n = -1
    return n, y


def branch_in_try(x, out):
    s = x.sum()
    try:
        if s > 0:
            print("positive")
            out[0] = 1.0
        else:
            print("not positive")
            out[0] = -1.0
    except ValueError:
        pass
    return s * 2.0


def truth_in_try(x):
    s = x.sum() > 1.0  # a NumPy bool: `if s` is TO_BOOL + POP_JUMP_IF_FALSE on 3.13
    try:
        if s:
            print("big")
        else:
            print("small")
    finally:
        print("done")
    return x * 2.0


def in_place_before_break(x):
    x *= 2.0
    try:
        z = eager_sort(x)
    except ValueError:
        z = x
    return z[0]


@pytest.mark.parametrize("fn,make", [
    (sort_in_try, arrays(5)),
    (break_raises, lambda k: (np.arange(6.0).reshape(2, 3) - k, [0, 1, 3, -4][k])),
    (later_raise_caught, lambda k: (np.arange(4.0) - 2.0 * k,)),
    (finally_once, lambda k: (np.arange(3.0) + k, [])),
    (uncaught_through_finally, lambda k: (np.arange(3.0) - k,)),
    (method_in_try, arrays(3)),
    (branch_in_try, lambda k: (np.arange(3.0) - 2.0 * k, np.zeros(1))),
    (in_place_before_break, arrays(4)),
    (truth_in_try, lambda k: (np.arange(3.0) - k,)),
], ids=lambda p: getattr(p, "__name__", ""))
def test_break_in_try(fn, make, capsys):
    jf = run_both(fn, make, capsys)
    broke_in_try(jf)


def test_finally_runs_once_log(capsys):
    log_e, log_j = [], []
    x = np.arange(3.0)
    want = finally_once(x, log_e)
    jf = jit(finally_once)
    got = jf(x, log_j)
    assert_same(want, got)
    assert log_e == log_j == ["body", "finally"]


def errstate_block(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x)
    return y * 2.0


def test_errstate_block_runs_eagerly():
    jf = jit(errstate_block)
    x = np.array([0.0, 1.0, -1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # np.errstate must be in force: no RuntimeWarning
        for _ in range(3):
            assert_same(errstate_block(x), jf(x))
    # np.errstate(...) itself is a graph break, the with statement another (test_with_blocks.py):
    # the block runs eagerly with errstate in force, the rest compiled as a continuation.
    st = jf.stats()
    assert st["fallback_calls"] == 0 and st["with_blocks"] == 3, st
    assert st["continuation_calls"] >= 3 and st["continuation_fallbacks"] == 0, st


def try_in_loop(x):
    acc = 0.0
    for v in (x, x * 2.0):
        try:
            acc = acc + eager_sort(v)[0]
        except ValueError:
            pass
    return acc


def test_break_in_try_inside_loop_refused(capsys):
    jf = run_both(try_in_loop, arrays(3), capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 0 and st["fallback_calls"] == 4, st
    assert any("inside a loop" in r for r in st["fallback_reasons"]), st["fallback_reasons"]


# Deferred effects that may raise inside a try block: performed after the kernel their exception
# would pass the handler, so they run eagerly (a break at a call, else the whole call).

def store_in_try(x, lst):
    y = x * 2.0
    try:
        lst[len(x) - 2] = float(y.sum())  # IndexError for a short list, caught below
    except IndexError:
        y = y + 1.0
    return y


def _set_item(lst, i, v):
    lst[i] = v


def callee_store_in_try(x, lst):
    y = x * 2.0
    try:
        _set_item(lst, len(x) - 2, float(y.sum()))
    except IndexError:
        y = y - 1.0
    return y


def print_in_try(x):
    y = np.exp(x)
    try:
        print("total", y.sum())
    except ValueError:
        y = y * 0.0
    return y + 1.0


@pytest.mark.parametrize("fn", [store_in_try, callee_store_in_try])
def test_raising_store_effect_in_try_meets_handler(fn, capsys):
    # calls 0, 1: a 2-element list (the store raises and is caught); 2, 3: it fits
    jf = run_both(fn, lambda k: (np.arange(4.0) + k, [0.0] * (2 if k < 2 else 4)), capsys)
    st = jf.stats()
    reasons = st["fallback_reasons"] + st["graph_break_reasons"]
    assert any("may raise inside a try block" in r for r in reasons), reasons


def test_print_in_try_breaks_there(capsys):
    jf = run_both(print_in_try, arrays(5), capsys)
    broke_in_try(jf)
    assert any("may raise inside a try block" in r for r in jf.stats()["graph_break_reasons"])


def format_in_try(x):
    y = np.exp(x)
    try:
        s = f"{float(y.sum()):.3f}"  # formatting is not a call: the whole call runs eagerly
    except ValueError:
        s = "?"
    return s, y


def test_format_in_try_runs_eagerly(capsys):
    jf = run_both(format_in_try, arrays(3), capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 0, st
    assert any("may raise inside a try block" in r for r in st["fallback_reasons"]), st


def dict_store_in_try(x, d):
    y = x + 1.0
    try:
        d["total"] = float(y.sum())  # a str key: the store cannot raise, stays deferred
    except KeyError:
        y = y * 0.0
    return y


def test_dict_store_in_try_stays_compiled(capsys):
    jf = run_both(dict_store_in_try, lambda k: (np.arange(3.0) * k, {}), capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 4 and st["fallback_calls"] == 0 and st["continuation_fallbacks"] == 0, st
