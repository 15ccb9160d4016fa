"""Graph breaks with resume (TorchDynamo-style): a call the tracer cannot hold whose result is
used, or a branch on runtime data whose arms are not pure, splits the function: the part before
runs compiled, the statement runs eagerly with the real values, the rest runs compiled again (a
continuation, cached per instruction behind its own guards) or eagerly when it cannot be
compiled. Every case is compared with eager Python/NumPy, several calls each: returns, printed
output, in-place updates, object state, exceptions; and stats() shows which parts ran compiled."""
import traceback

import numpy as np
import pytest

import tracejit
from conftest import assert_same, compare_eager as compare, jit_now as jit, random_args as rng_args, same_nested as same, eager_sort


def assert_resumed(jf, calls=3, breaks=1, words=None):
    """Every call ran its first part compiled and the part after each break compiled too."""
    st = jf.stats()
    assert st["compiled_calls"] == calls and st["fallback_calls"] == 0, st
    assert st["graph_breaks"] >= breaks, st
    assert st["continuation_calls"] >= calls * breaks and st["continuation_fallbacks"] == 0, st
    assert all(__file__ in r for r in st["graph_break_reasons"]), st["graph_break_reasons"]
    if words:
        assert any(words in r for r in st["graph_break_reasons"]), st["graph_break_reasons"]
    return st


# ---------------------------------------------------------------------------------------------
# Unknown calls whose result is used

def sort_middle(x):
    y = np.tanh(x) * 2.0
    s = eager_sort(y)  # not traced: runs eagerly with the real y
    return s * 3.0 + y


def unique_middle(x):
    y = np.round(x * 2.0)
    u = np.unique(y)  # a data-dependent size
    return u * 2.0, y.sum()


def eigvalsh_middle(a):
    s = a @ a.T + np.eye(a.shape[0])
    w = np.linalg.eigvalsh(s)
    return np.sqrt(w) / w.max()


@pytest.mark.parametrize("fn,make,words", [
    (sort_middle, rng_args((9,)), "eager_sort()"),
    (unique_middle, rng_args((12,)), "np.unique()"),
    (eigvalsh_middle, rng_args((4, 4)), "eigvalsh"),
])
def test_unknown_call_in_the_middle_runs_eagerly_between_compiled_parts(fn, make, words, capsys):
    jf = compare(fn, make, capsys)
    assert_resumed(jf, words=words)
    infos = jf.cache_info()
    assert any(i["graph_break"] and "runs eagerly between compiled graphs" in i["graph_break"] for i in infos)
    assert any(i["resume_at"] and i["resume_at"].startswith(__file__) for i in infos), infos
    assert jf.stats()["continuations"] >= 1


def tolist_sorted(x):
    y = x * 2.0 + 1.0
    vals = sorted(y.tolist(), reverse=True)
    top = vals[0]
    return y - top, vals


def test_tolist_and_sorted_results_flow_into_compiled_code(capsys):
    jf = compare(tolist_sorted, rng_args((5,)), capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert any(".tolist()" in r for r in st["graph_break_reasons"]), st["graph_break_reasons"]


class Accumulator:
    def __init__(self):
        self.total = 0.0
        self.count = 0

    def add(self, v):
        self.total += float(v)  # attribute stores: the tracer cannot inline this method
        self.count += 1
        return self.count


def method_mutates(x, acc):
    m = np.mean(x * x)
    n = acc.add(m)
    return x / n, n


def test_a_user_method_that_mutates_the_object_runs_once_with_the_real_object(capsys):
    eager_acc, jit_acc = Accumulator(), Accumulator()
    x = np.linspace(0.0, 1.0, 6)
    want = [method_mutates(x, eager_acc) for _ in range(4)]
    jf = jit(method_mutates)
    got = [jf(x, jit_acc) for _ in range(4)]
    for w, g in zip(want, got):
        same(w, g)
    assert (jit_acc.total, jit_acc.count) == (eager_acc.total, eager_acc.count)
    st = jf.stats()
    assert st["compiled_calls"] == 4 and st["continuation_calls"] >= 4, st
    assert any("add" in r for r in st["graph_break_reasons"]), st["graph_break_reasons"]


# ---------------------------------------------------------------------------------------------
# Data-dependent branches whose arms are not pure

def keep_best(w, loss_scale, best):
    loss = np.sum((w * loss_scale) ** 2)
    best_w = None
    if loss < best:
        best_w = w.copy()
        print(f"new best {float(loss):.4f}")
        best = float(loss)
    return best, best_w


def test_branch_on_runtime_value_with_a_print_in_one_arm(capsys):
    w = np.array([0.5, -1.0, 2.0])

    def make(k):
        return (w.copy(), 0.5 + k, [10.0, 0.1, 100.0][k])

    jf = compare(keep_best, make, capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert any("branch on" in r for r in st["graph_break_reasons"]), st["graph_break_reasons"]
    assert st["continuation_calls"] >= 3, st  # both directions continued compiled


def sign_report(x):
    s = x.sum()
    if s > 0:
        print("positive", round(float(s), 6))
        y = x * 2
    else:
        y = -x
    return y + 1


def test_each_branch_direction_gets_its_own_continuation(capsys):
    def make(k):
        return (np.arange(4.0) * (1 if k % 2 == 0 else -1),)

    jf = compare(sign_report, make, capsys, calls=4)
    assert_resumed(jf, calls=4)
    assert jf.stats()["continuations"] >= 2


# ---------------------------------------------------------------------------------------------
# Live state across the break, several breaks, in-place updates

def live_state(x, n, scale):
    k = n * 2                      # a Python int
    f = scale / 3.0                # a Python float
    pair = (x * f, x + k)          # a tuple of arrays
    parts = [x[:2] * 1.0, x.sum()]  # a list built here
    s = eager_sort(x)                 # break
    return pair[0] + s, pair[1] * k, parts, f, k


def test_live_state_of_ints_floats_tuples_and_lists_is_rebuilt(capsys):
    def make(k):
        return (np.array([3.0, 1.0, 2.0]) + k, 2 + k % 2, 1.5)

    jf = compare(live_state, make, capsys)
    assert_resumed(jf)


def two_breaks(x):
    a = eager_sort(x)
    b = a * 2.0
    c = np.unique(np.round(b))
    d = c.sum() + b.sum()
    return d, c


def test_two_breaks_in_a_row(capsys):
    jf = compare(two_breaks, rng_args((10,)), capsys)
    assert_resumed(jf, breaks=2)
    assert jf.stats()["continuations"] >= 2


SEEN = []


def record(arr):
    SEEN.append(eager_sort(arr))  # what the eager part saw (np.sort: not traced, so record() runs eagerly)
    return float(arr.sum())


def inplace_around(x, y):
    x += 1.0
    y[0] = 7.0
    t = record(x)  # must see x after `x += 1.0`
    x *= 2.0
    y[1] = t
    return x + t


def test_in_place_updates_before_and_after_the_break(capsys):
    def make(k):
        return (np.arange(3.0) + k, np.zeros(2))

    SEEN.clear()
    eager_seen = []
    for k in range(3):
        inplace_around(*make(k))
    eager_seen, SEEN[:] = list(SEEN), []
    jf = compare(inplace_around, make, capsys)
    assert len(SEEN) == 6  # compare() ran 3 eager + 3 jitted calls: once per call
    for e, g in zip(eager_seen, SEEN[3:]):
        assert_same(e, g)
    assert_resumed(jf)


COUNTER = {"n": 0}


def bump(v):
    COUNTER["n"] += 1
    return COUNTER["n"] + v


def side_effects_once(x):
    print("before", x.shape)
    n = bump(1)
    print("after", n)
    return x * n


def test_every_side_effect_happens_once_and_in_order(capsys):
    def make(k):
        if k == 0:
            COUNTER["n"] = 0  # the eager and the jitted runs each start from 0
        return (np.ones(2),)

    jf = compare(side_effects_once, make, capsys)
    assert COUNTER["n"] == 3
    assert_resumed(jf)


# ---------------------------------------------------------------------------------------------
# Exceptions

def raises_in_eager_part(a, log):
    a *= 2.0
    log.append("before")
    c = np.linalg.cholesky(a)  # not positive definite: LinAlgError, eagerly
    log.append("after")
    return c


def raises_like_eager(fn, check=lambda got: None, calls=3):
    """fn(a, log) on a matrix that is not positive definite, eagerly and jitted `calls` times: the
    same LinAlgError, the same in-place update of a and the same log; check(excinfo) on each
    jitted exception. Returns the jitted function and the eager log."""
    def make():
        return np.array([[1.0, 2.0], [2.0, 1.0]]), []

    a, log = make()
    with pytest.raises(np.linalg.LinAlgError) as want:
        fn(a, log)
    jf = jit(fn)
    for _ in range(calls):
        b, jlog = make()
        with pytest.raises(np.linalg.LinAlgError) as got:
            jf(b, jlog)
        assert str(got.value) == str(want.value)
        assert_same(a, b)  # the in-place updates before the raise happened, as eagerly
        assert jlog == log
        check(got)
    return jf, log


def test_exception_raised_by_the_eager_part_is_the_eager_one():
    def names_the_statement(got):  # the traceback names the user's statement
        lines = [fs.line for fs in traceback.extract_tb(got.tb)]
        assert any("np.linalg.cholesky(a)" in (ln or "") for ln in lines), lines

    jf, log = raises_like_eager(raises_in_eager_part, names_the_statement)
    assert log == ["before"]
    assert jf.stats()["compiled_calls"] == 0 or jf.stats()["graph_breaks"] >= 1


def raises_in_continuation(x):
    s = eager_sort(x)
    print("sorted")
    return s[int(x.size) + 5]  # IndexError after the break


def test_exception_raised_after_the_break_is_the_eager_one(capsys):
    x = np.arange(3.0)
    with pytest.raises(IndexError) as want:
        raises_in_continuation(x)
    want_out = capsys.readouterr().out
    jf = jit(raises_in_continuation)
    for _ in range(3):
        with pytest.raises(IndexError) as got:
            jf(x)
        assert str(got.value) == str(want.value)
        assert capsys.readouterr().out == want_out
    assert jf.stats()["graph_breaks"] >= 1


def uncompilable_rest(x, items):
    y = eager_sort(x)
    first, *rest = items  # the tracer refuses starred unpacking: the rest runs eagerly
    print(first, len(rest))
    return y * first


def test_a_continuation_that_cannot_be_traced_runs_the_rest_eagerly(capsys):
    jf = compare(uncompilable_rest, lambda k: (np.array([2.0, 1.0, 3.0]), [k + 1, 2, 3]), capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["continuation_fallbacks"] == 3 and st["continuation_calls"] == 0, st
    assert any("continuation after" in r for r in st["fallback_reasons"]), st["fallback_reasons"]


# ---------------------------------------------------------------------------------------------
# Where no break is made, and fullgraph=True

def break_in_loop(x):
    for _ in range(3):
        x = eager_sort(x) + 1.0
    return x


def break_in_try(x):
    try:
        y = eager_sort(x)
    except ValueError:
        y = x
    return y * 2.0


def test_break_inside_loop_resumes():
    # A break inside a for loop over a range (test_loop_graph_breaks.py): each iteration's part
    # after it runs as a compiled continuation.
    x = np.array([3.0, 1.0, 2.0])
    jf = jit(break_in_loop)
    for _ in range(2):
        assert_same(break_in_loop(x), jf(x))
    st = jf.stats()
    assert st["compiled_calls"] == 2 and st["fallback_calls"] == 0, st
    assert st["continuation_calls"] == 2 * 3 and st["continuation_fallbacks"] == 0, st


def test_break_inside_try_runs_the_rest_eagerly():
    # The break instruction and what follows run eagerly inside the user's try block
    # (test_try_breaks.py has the exception cases).
    x = np.array([3.0, 1.0, 2.0])
    jf = jit(break_in_try)
    for _ in range(2):
        assert_same(break_in_try(x), jf(x))
    st = jf.stats()
    assert st["compiled_calls"] == 2 and st["fallback_calls"] == 0, st
    assert st["continuation_fallbacks"] == 2 and st["continuation_calls"] == 0, st
    assert any("inside a try block" in r for r in st["graph_break_reasons"]), st["graph_break_reasons"]


def test_fullgraph_lists_every_break_with_its_reason_and_line():
    def f(x):
        print("start")
        s = eager_sort(x)
        return s + 1

    jf = jit(f, fullgraph=True)
    with pytest.raises(tracejit.GraphBreakError) as e:
        jf(np.ones(3))
    msg = str(e.value)
    assert "print(...)" in msg and "eager_sort()" in msg and "[graph-break]" in msg, msg
    assert f"{__file__}:" in msg, msg


def test_an_object_argument_is_returned_as_itself():
    # (found with continuations, whose lists arrive as arguments) a list argument is guarded by
    # type and length only: the version must return the call's list, not the trace-time one
    def f(x, lst):
        return x + 1, lst

    jf = jit(f)
    for lst in ([1, 2], [3, 4], [5, 6]):
        r = jf(np.ones(1), lst)
        assert r[1] is lst
    assert jf.stats()["compiled_calls"] == 3


def handler_reads_local(x):
    z = x * 3.0  # read only by the exception handler after the break
    s = eager_sort(x)
    try:
        y = s[int(x.size) + 1]
    except IndexError:
        y = z
    return y


def test_locals_read_only_by_a_later_exception_handler_stay_bound(capsys):
    jf = compare(handler_reads_local, lambda k: (np.arange(3.0) + k,), capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["graph_breaks"] >= 1, st


def method_with_args(x, v):
    y = eager_sort(x * 2.0)
    i = y.compress(y > v)  # a method load then a call with an argument: two breaks
    return y * 2.0, i


def test_a_method_call_with_arguments_breaks_at_the_load_and_the_call(capsys):
    jf = compare(method_with_args, lambda k: (np.array([3.0, 1.0, 2.0]) + k, 4.5), capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert any(".compress()" in r for r in st["graph_break_reasons"]), st["graph_break_reasons"]


def traced_method_with_untraced_args(x, v):
    y = eager_sort(x * 2.0)
    i = y.searchsorted(v, sorter=np.arange(y.size))  # a method the tracer knows, arguments it does not
    return y * 2.0, i + 1


def test_a_traced_method_breaks_at_its_call_with_the_bound_method_rebuilt(capsys):
    jf = compare(traced_method_with_untraced_args, lambda k: (np.array([3.0, 1.0, 2.0]) + k, 4.5), capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0 and not st["continuation_fallbacks"], st
    assert any("call to ndarray.searchsorted()" in r and "sorter=" in r for r in st["graph_break_reasons"]), st


def test_background_compiles_switch_both_parts_to_compiled_code(capsys):
    # the default: compiles on the background thread, calls run eagerly (or the rest eagerly)
    # until the versions are ready
    jf = tracejit.jit(keep_best, hot=1)
    w = np.array([0.5, -1.0, 2.0])
    for k in range(8):
        args = (w.copy(), 1.0, [10.0, 0.1][k % 2])
        want = keep_best(*args)
        want_out = capsys.readouterr().out
        same(want, jf(*args))
        assert capsys.readouterr().out == want_out
        tracejit.wait_for_compiles()
    st = jf.stats()
    assert st["compiled_calls"] > 0 and st["continuation_calls"] > 0, st
    assert st["continuation_fallbacks"] > 0, st  # before the continuations were compiled


def raises_in_second_break(a, log):
    s = eager_sort(a, axis=None)  # first break: the continuation after it is compiled
    log.append(float(s[0]))    # a deferred effect of the continuation
    a += 1.0                   # an in-place update in the continuation
    c = np.linalg.cholesky(a)  # second break raises LinAlgError
    return c


def test_exception_raised_at_a_break_of_a_compiled_continuation():
    jf, _ = raises_like_eager(raises_in_second_break)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["continuation_calls"] == 3, st  # ran compiled, raised
    assert st["graph_breaks"] >= 2 and st["continuation_fallbacks"] == 0, st


def combine(s, opts):
    return s * opts["k"]


def pending_call_rest_eager(x, d):
    return combine(eager_sort(x), {**d})  # combine's call is pending below the break


def test_the_eager_rest_gets_a_pending_call_on_its_stack(capsys):
    jf = compare(pending_call_rest_eager, lambda k: (np.array([3.0, 1.0, 2.0]) * (k + 1), {"k": 2.0}), capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["graph_breaks"] >= 1, st
    # whichever way the rest runs (compiled, or eagerly with the call protocol's NULL rebuilt)
    assert st["continuation_calls"] + st["continuation_fallbacks"] == 3, st


def test_a_continuation_recompiles_for_new_shapes_and_says_why(capsys):
    # like the function's own versions: a size that changed becomes a runtime size
    jf = compare(sort_middle, lambda k: (np.linspace(-1.0, 1.0, 5 + k),), capsys, calls=6)
    st = jf.stats()
    assert st["compiled_calls"] == 6 and st["continuation_calls"] == 6, st
    assert any("continuation after" in r and "shape" in r for r in st["recompile_reasons"]), st["recompile_reasons"]
    continuations = [i for i in jf.cache_info() if i["resume_at"]]
    assert len(continuations) == 2, continuations  # static at 5, then dynamic
    assert any("(dyn,)" in g for g in continuations[1]["guards"]), continuations[1]["guards"]


def test_dynamic_true_continuations_take_every_size(capsys):
    jf = compare(sort_middle, lambda k: (np.linspace(-1.0, 1.0, 5 + k),), capsys, calls=4, dynamic=True)
    st = jf.stats()
    assert st["compiled_calls"] == 4 and st["continuation_calls"] == 4, st
    assert len([i for i in jf.cache_info() if i["resume_at"]]) == 1


def warn_to_caller(x):
    import warnings
    warnings.warn("checked by the caller's line", UserWarning, stacklevel=2)
    return eager_sort(x)


def warns_at_break(x, idx):
    y = x * 2.0
    s = warn_to_caller(y)  # a break: its warning names this line
    z = np.log(np.abs(y))[y > idx[1]]  # a (boolean mask) subscript break after the compiled log
    w = np.reciprocal(s[0] * 0.0 + np.float64(0.0))  # a NumPy scalar op: runs eagerly, warns here
    return s + z.sum() + w


@pytest.mark.parametrize("mode", ["default", "always"])
def test_warnings_at_a_break_name_the_users_line_and_module(mode):
    """A warning raised while a break instruction runs (a helper's warnings.warn(stacklevel=2),
    NumPy's RuntimeWarning) names the user's file and line and is deduplicated in the user's
    module, as eagerly: the instruction runs in a frame at that line with the function's
    globals, not in the caller's frame."""
    import warnings
    jf = jit(warns_at_break)
    x = np.arange(1.0, 7.0)
    idx = np.array([0, 2])

    def run(fn):
        warnings.resetwarnings()
        globals().pop("__warningregistry__", None)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter(mode)
            outs = [fn(x, idx) for _ in range(2)]
        return outs, [(x.category, str(x.message), x.filename, x.lineno) for x in w]

    want, got = run(warns_at_break), run(jf)
    assert got[1] == want[1] and len(want[1]) == (2 if mode == "default" else 4), (want[1], got[1])
    assert all(fn == __file__ for _, _, fn, _ in got[1])
    for a, b in zip(want[0], got[0]):
        assert_same(a, b)
    st = jf.stats()
    assert st["compiled_calls"] == 2 and st["graph_breaks"] >= 2, st


def test_an_unknown_numpy_function_is_named_as_such_with_keywords_too():
    """np.partition(x, 1, axis=1): the reason names the function as not traced, not its
    keywords (it is not traced without them either); the call runs at a graph break, the rest
    compiled."""
    def f(x):
        return np.partition(x * 2.0, 1, axis=1) + 1.0

    x = np.arange(12.0).reshape(3, 4)
    jf = jit(f)
    for _ in range(2):
        assert_same(f(x), jf(x))
    reasons = jf.stats()["graph_break_reasons"]
    assert any("call to np.partition() is not traced yet" in r for r in reasons), reasons
    assert jf.stats()["continuation_calls"] == 2
