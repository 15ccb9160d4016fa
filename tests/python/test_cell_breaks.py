"""Graph breaks in functions with cell or free variables: the part before the break runs
compiled; the eager remainder (and a compiled continuation, where one can be traced) sees the
same cell objects as the closures made before the break, so `nonlocal` updates made on either
side of the break are seen on the other, exactly as eagerly. Each case is compared with eager
Python/NumPy, and what compiled is asserted from stats()."""
import numpy as np

from conftest import assert_same, jit_now as jit, eager_sort


def compare(fn, make_args, capsys, calls=3):
    jf = jit(fn)
    for k in range(calls):
        want = fn(*make_args(k))
        want_out = capsys.readouterr().out
        got = jf(*make_args(k))
        got_out = capsys.readouterr().out
        assert_same(want, got, rtol=1e-12)
        assert got_out == want_out, (got_out, want_out)
    return jf


def vec(k):
    return (np.array([3.0, 1.0, 2.0, -4.0]) * (k + 1),)


def nonlocal_across_break(x):
    total = 0.0

    def add(v):
        nonlocal total
        total = total + v

    add(float(x.sum()))  # inlined: the cell is abstract in the trace
    y = eager_sort(x)  # graph break: the cell and `add` are made for the rest
    add(float(y[0]))  # the closure made before the break updates the same cell
    return total, y * 2


def test_closure_mutated_via_nonlocal_across_a_break(capsys):
    jf = compare(nonlocal_across_break, vec, capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    # The rest runs compiled; its call to add(), which assigns the real cell, is another graph
    # break (the call runs eagerly, on the cell the continuation reads back).
    assert st["continuation_calls"] >= 3 and st["continuation_fallbacks"] == 0, st
    assert any("closure variable 'total' after a graph break" in r for r in st["graph_break_reasons"]), st


def closure_read_across_break(x):
    scale = float(x[0])

    def mul(v):
        return v * scale

    y = eager_sort(mul(x))  # graph break: mul and the cell holding scale are made for the rest
    return mul(y) + scale  # the closure made before the break, compiled in the continuation


def test_closure_made_before_a_break_called_compiled_after_it(capsys):
    jf = compare(closure_read_across_break, vec, capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["continuation_calls"] == 3 and st["continuation_fallbacks"] == 0, st
    assert not st["fallback_reasons"], st


def eager_part_writes_the_cell(x):
    count = 0

    def bump(v):
        nonlocal count
        count = count + 1
        return v

    ys = list(map(bump, [x, x * 2]))  # graph break: map() calls the closure eagerly
    return ys[1] + count, count


def test_eager_call_writes_the_cell_the_compiled_part_made(capsys):
    jf = compare(eager_part_writes_the_cell, vec, capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["graph_breaks"] >= 1, st


def cell_read_after_break(x):
    scale = 2.0

    def unused():
        return scale  # makes `scale` a cell variable

    y = eager_sort(x) * scale  # graph break
    return y + scale


def test_cell_variable_read_by_a_compiled_continuation(capsys):
    jf = compare(cell_read_after_break, vec, capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["continuation_calls"] == 3 and st["continuation_fallbacks"] == 0, st
    assert not st["fallback_reasons"], st


def cell_assigned_after_break(x):
    acc = 1.0

    def get():
        return acc

    y = eager_sort(x)
    acc = acc + float(y[0])  # STORE_DEREF after the break: the continuation runs eagerly
    return y * acc


def test_cell_assigned_after_a_break_runs_the_rest_eagerly(capsys):
    jf = compare(cell_assigned_after_break, vec, capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["continuation_fallbacks"] == 3, st
    assert any("closure variable 'acc' after a graph break" in r for r in st["fallback_reasons"]), st


def make_closure(offset):
    def f(x):
        y = eager_sort(x) + offset  # a break in a closure (free variable `offset`)
        print("min", float(y[0]))
        return y * offset
    return f


def test_jitted_closure_breaks_and_resumes_compiled(capsys):
    f = make_closure(1.5)
    jf = compare(f, vec, capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["continuation_calls"] >= 3 and st["continuation_fallbacks"] == 0, st


def test_with_block_in_a_closure_writing_a_nonlocal(capsys):
    import contextlib

    hits = []

    @contextlib.contextmanager
    def counted():
        hits.append(1)
        yield 5

    def outer(x):
        n = 0

        def read():
            return n

        with counted() as c:  # the with statement runs eagerly, writing the cell
            n = n + c
        return x * 2 + n  # (a STORE_DEREF came before: this part reads the cell)

    jf = compare(outer, vec, capsys)
    st = jf.stats()
    assert st["compiled_calls"] == 3 and st["fallback_calls"] == 0, st
    assert st["with_blocks"] == 3, st
