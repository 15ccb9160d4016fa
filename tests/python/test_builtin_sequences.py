"""Builtins over sequences the traced code holds: sum() of arrays and NumPy scalars (what
CPython's generic path adds, in order), list()/tuple() of tuples, lists, dicts and their views.
Compared with eager; Python floats in sum() are refused (CPython 3.12+ adds runs of them with
compensated summation) and run eagerly."""
import numpy as np
import pytest

from conftest import compare_eager, random_args


def sum_of_arrays(x):
    return sum([x * i for i in range(4)]), sum((x, x), x), sum([x[0], x[1]]), sum([1, 2, 3])


def sum_of_scalars_f32(x):
    return sum([x[i] for i in range(3)]), sum([x[i] for i in range(3)], np.float32(1.0))


def lists_and_tuples(x):
    d = {"a": x, "b": x * 2.0}
    ks = list(d)
    vs = tuple(d.values())
    pairs = list(d.items())
    return ks, vs[0] + vs[1], pairs[1][0], list((x, x + 1.0)), tuple([x])


def python_floats(x):
    return sum([0.1, 0.2, 0.3, x[0].item()]) + x  # runs eagerly (compensated on 3.12+)


@pytest.mark.parametrize("fn,make", [
    (sum_of_arrays, random_args(5)),
    (sum_of_scalars_f32, lambda k: (np.random.default_rng(k).standard_normal(3).astype(np.float32),)),
    (lists_and_tuples, random_args(3)),
], ids=lambda p: getattr(p, "__name__", ""))
def test_compiled(fn, make, capsys):
    jf = compare_eager(fn, make, capsys)
    st = jf.stats()
    assert st["fallback_calls"] == 0 and st["compiled_calls"] > 0, st


def test_python_floats_run_eagerly(capsys):
    compare_eager(python_floats, random_args(3), capsys)


def sum_of_argument_ints(xs, s):
    return sum(xs, s)


def max_of_unpacked(xs, a):
    return max(*xs) * a


@pytest.mark.parametrize("fn", [sum_of_argument_ints, max_of_unpacked])
def test_ints_read_from_arguments_are_guarded(fn):
    # The ints come from a list argument: each is guarded by value once used (a new value is
    # another version, never the stale one).
    from conftest import assert_same, jit_now
    jf = jit_now(fn)
    s = np.float64(0.5)
    for xs in ([1, 2, 3], [10, 20, 30], [1, 2, 3], [4, 0, 9]):
        assert_same(fn(xs, s), jf(xs, s))
