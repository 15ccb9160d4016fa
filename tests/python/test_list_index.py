"""A Python list as an array's index is an integer (or bool) index array to NumPy, never a tuple
of indices: x[[0, 2]] is rows 0 and 2 (shape (2, 5)), not the element x[0, 2]. The tracer used
to read the list as a tuple (a wrong shape and value when its length matched the rank); these
compare every form with eager NumPy, values, shapes and exceptions."""
import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now, random_array

X = np.arange(30.0).reshape(6, 5)
V = np.arange(7.0)

COMPILED = {
    "two-rows": lambda x, v: x[[0, 2]] * 2,
    "one-row": lambda x, v: x[[0]] * 2,
    "three-rows": lambda x, v: x[[0, 2, 4]] + 1,
    "negative": lambda x, v: x[[-1, 0]] + 0,
    "columns": lambda x, v: x[:, [1, 3]] * 1,
    "rows-and-slice": lambda x, v: x[[0, 2], 1:] * 1,
    "repeated": lambda x, v: v[[1, 1, 6]] * 1,
    "nested": lambda x, v: v[[[0, 1], [2, 3]]] * 1,
}

OTHERS = {  # graph breaks or eager runs, with NumPy's answer
    "pairs": lambda x, v: x[[0, 1], [2, 3]] * 1,
    "bools": lambda x, v: v[[True, False, True, False, True, False, True]] * 1,
    "int-and-list": lambda x, v: x[1, [0, 4]] * 1,
    "floats": lambda x, v: v[[1.0, 2.0]],
    "empty": lambda x, v: v[[]] * 1,
    "out-of-bounds": lambda x, v: v[[1, 70]],
}


def eager_or_exception(fn, *args):
    try:
        return fn(*args), None
    except Exception as e:  # noqa: BLE001 (the comparison is the exception type)
        return None, type(e)


@pytest.mark.parametrize("name", list(COMPILED))
@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.uint8], ids=str)
def test_list_index_compiles_as_an_index_array(name, dtype):
    fn = COMPILED[name]
    x, v = X.astype(dtype), V.astype(dtype)
    jf = jit_now(fn)
    assert_same(fn(x, v), jf(x, v))
    assert_compiled(jf)


@pytest.mark.parametrize("name", list(OTHERS))
def test_other_list_indexes_give_numpy_results(name):
    fn = OTHERS[name]
    want, want_exc = eager_or_exception(fn, X, V)
    got, got_exc = eager_or_exception(jit_now(fn), X, V)
    assert got_exc is want_exc
    if want_exc is None:
        assert_same(want, got)


def test_list_index_stores():
    def rows(x, v):
        y = x.copy()
        y[[0, 2]] = -1.0
        return y

    def add(x, v):
        y = v.copy()
        y[[1, 3]] += 10
        return y

    def pairs(x, v):
        y = x.copy()
        y[[0, 2], [1, 1]] = v[:2]
        return y

    def in_loop(x, v):
        y = x.copy()
        for i in range(10):
            y[[0, 2]] = i
        return y

    for fn, compiled in ((rows, True), (add, True), (pairs, False), (in_loop, False)):
        for x in (X, random_array(np.float32, (6, 5), seed=1)):
            jf = jit_now(fn)
            assert_same(fn(x, V), jf(x, V))
            if compiled:
                assert_compiled(jf)
