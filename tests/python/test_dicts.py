"""Dicts built by the traced code (tracer/dicts.cpp): literals, comprehensions, stores through
any alias, reads, `in`, len(), iteration, .get/.keys/.values/.items, merges, and returning them.
Each compared with eager Python/NumPy (returns with their types and key order, printed output,
arguments afterwards), asserting what compiled; what is refused runs eagerly with eager's
answer or exception."""
import numpy as np
import pytest

from conftest import compare_eager, jit_now, random_args


def metrics(x, y):
    err = x - y
    return {"mse": (err ** 2).mean(), "mae": np.abs(err).mean(), "n": x.shape[0]}


def comprehension(x):
    d = {k: x * k for k in range(3)}
    return d[0] + d[1] + d[2], len(d)


def named_comprehension(x):
    names = ("relu", "tanh", "exp")
    acts = {"relu": np.maximum(x, 0), "tanh": np.tanh(x), "exp": np.exp(x)}
    return {n: acts[n].sum() for n in names}


def stores_through_alias(x):
    out = {}
    out["a"] = x * 2.0
    alias = out
    alias["b"] = out["a"] + 1.0
    out["a"] = out["a"] - 3.0  # replaces the value, keeps the position
    return out, len(alias)


def reads_and_membership(x):
    p = {"w": x * 0.5, "b": x.sum()}
    s = 0.0
    if "w" in p:
        s = s + p["w"].sum()
    if "z" not in p:
        s = s + 1.0
    s = s + p.get("b") + p.get("missing", 10.0)
    return s, p.get("nope") is None


def iterate(x):
    d = {"a": x, "b": x * 2.0, "c": x * 3.0}
    total = np.zeros_like(x)
    for k in d:
        total = total + d[k]
    for k, v in d.items():
        total = total + v * len(k)
    for v in d.values():
        total = total - v
    keys = [k for k in d.keys()]
    return total, keys


def helper(params, x):
    return np.tanh(x @ params["w"] + params["b"])


def passes_to_helper(x, w, b):
    params = {"w": w, "b": b}
    return helper(params, x), helper({**params, "b": b * 0.0}, x)


def duplicate_keys(x):
    d = {"a": x, "b": 2.0, "a": x * 3.0}  # noqa: F601 (the later value wins, the first position)
    return d


def int_and_tuple_keys(x):
    d = {0: x, (1, "t"): x + 1.0, 2.5: x * 2.0}
    return d[0] + d[(1, "t")] + d[2.5], d


def is_none_and_in(x, mode=None, scale=None):
    if scale is None:
        scale = 2.0
    if mode in ("double", "twice"):
        x = x * 2.0
    if mode is not None and mode in "triple":
        x = x * 3.0
    return x * scale


@pytest.mark.parametrize("fn,make", [
    (metrics, random_args(7, 7)),
    (comprehension, random_args((3, 4))),
    (named_comprehension, random_args(5)),
    (stores_through_alias, random_args(4)),
    (reads_and_membership, random_args(3)),
    (iterate, random_args(4)),
    (passes_to_helper, random_args((2, 3), (3, 2), 2)),
    (duplicate_keys, random_args(3)),
    (int_and_tuple_keys, random_args(3)),
    (is_none_and_in, random_args(3)),
    (lambda x: is_none_and_in(x, "double"), random_args(3)),
    (lambda x: is_none_and_in(x, "triple", 0.5), random_args(3)),
], ids=lambda p: getattr(p, "__name__", ""))
def test_dict_compiled(fn, make, capsys):
    jf = compare_eager(fn, make, capsys)
    st = jf.stats()
    assert st["fallback_calls"] == 0 and st["compiled_calls"] > 0, st


def test_returned_dict_keeps_order_and_types():
    x, y = np.arange(4.0), np.ones(4)
    got = jit_now(metrics)(x, y)
    want = metrics(x, y)
    assert type(got) is dict and list(got) == list(want)
    assert type(got["mse"]) is type(want["mse"]) and type(got["n"]) is int


# ---------------------------------------------------------------------------------------------
# Refused: eager's answer or exception, with a reason

def key_error(x):
    d = {"a": x}
    return d["b"]


def unhashable_key(x):
    return {[1, 2]: x}


def array_key(x):
    return {x: 1}


def grows_while_iterating(x):
    d = {"a": x}
    for k in d:
        d[k + "x"] = x
    return d


def returns_items_view(x):
    d = {"a": x * 2.0}
    return d.items()


def printed(x):
    d = {"a": x * 2.0}
    print(d)
    return d["a"] + 1.0


def store_in_long_loop(x):
    d = {"s": 0.0}
    for i in range(x.shape[0]):
        d["s"] = d["s"] + x[i]
    return d


@pytest.mark.parametrize("fn,exc", [
    (key_error, KeyError), (unhashable_key, TypeError), (array_key, TypeError),
    (grows_while_iterating, RuntimeError),
])
def test_errors_match_eager(fn, exc):
    x = np.arange(3.0)
    with pytest.raises(exc) as want:
        fn(x)
    jf = jit_now(fn)
    for _ in range(2):
        with pytest.raises(exc) as got:
            jf(x)
        assert str(got.value) == str(want.value)


def test_views_and_effects_run_eagerly(capsys):
    x = np.arange(3.0)
    want = returns_items_view(x)
    got = jit_now(returns_items_view)(x)
    assert type(got) is type(want) and len(got) == 1 and np.array_equal(list(got)[0][1], list(want)[0][1])
    compare_eager(printed, random_args(3), capsys)
    jf = compare_eager(store_in_long_loop, random_args(200), capsys)
    assert jf.stats()["calls"] == 3
