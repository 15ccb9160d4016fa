"""An index the tracer cannot hold (a boolean mask, an index array with an int) is a
graph break at that subscript: the code before it compiled, `container[key]` eager, the rest a
compiled continuation. Before, such a subscript ran the whole call eagerly."""
import numpy as np
import pytest

from conftest import assert_same, jit_now


def masked_sum(x):
    y = np.exp(x) * 2
    m = y[y > 2.5].sum()
    return y / m


def take(x, idx):
    z = x * 3
    return z[idx, 0] + 1  # an array with an int (z[idx] alone compiles: test_gather.py)


def masked_mean(x):
    return np.mean(x[x > 0]) + x.std()


def in_loop(x):
    for i in range(3):
        x = x + x[x > 0].sum()
    return x


def in_try(x):
    try:
        v = x[x > 100]
    except IndexError:
        v = None
    return v


def bad_mask(x, m):
    y = x + 1
    return y[m] * 2


CASES = [
    (masked_sum, lambda r: (r.standard_normal(64),)),
    (take, lambda r: (r.standard_normal((10, 3)), r.integers(0, 10, 7))),
    (masked_mean, lambda r: (r.standard_normal((4, 5)),)),
    (in_loop, lambda r: (r.standard_normal(16),)),
    (in_try, lambda r: (r.standard_normal(16) * 200,)),
]


@pytest.mark.parametrize("fn, make", CASES, ids=[c[0].__name__ for c in CASES])
def test_eager_subscript_between_compiled_graphs(fn, make):
    jf = jit_now(fn)
    for k in range(3):
        args = make(np.random.default_rng(k))
        assert_same(fn(*args), jf(*args), rtol=1e-12)
    s = jf.stats()
    assert s["compiled_calls"] == 3 and s["fallback_calls"] == 0, s
    assert s["graph_breaks"] >= 1 and "indexing" in s["graph_break_reasons"][0], s


def test_numpys_index_error_from_the_eager_subscript():
    jf = jit_now(bad_mask)
    x = np.arange(5.0)
    with pytest.raises(IndexError) as want:
        bad_mask(x, np.array([True, False]))
    with pytest.raises(IndexError) as got:
        jf(x, np.array([True, False]))
    assert str(got.value) == str(want.value)
    assert_same(bad_mask(x, x > 2), jf(x, x > 2))
