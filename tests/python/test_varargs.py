"""*args, **kwargs and keyword-only parameters, in the jitted function itself and in the
functions it calls, and calls that unpack (f(*xs), f(**kw)): compiled, compared with eager
(returns, in-place updates, exceptions); a different set or order of keywords is another
version, never a wrong answer."""
import numpy as np
import pytest

from conftest import assert_same, jit_now, same_nested


def total(*xs):
    s = xs[0] * 0.0
    for x in xs:
        s = s + x
    return s, len(xs)


def options(x, *, scale=2.0, shift=0.0, **extra):
    y = x * scale + shift
    for k in extra:
        y = y + extra[k] * len(k)
    return y, list(extra)


def posonly(a, b=1.0, /, c=2.0, **kw):
    return a * b + c, kw


def layer(x, w, *, act="relu", bias=None):
    y = x @ w
    if bias is not None:
        y = y + bias
    if act == "relu":
        return np.maximum(y, 0)
    return np.tanh(y)


def forward(*args, **kwargs):
    return layer(*args, **kwargs)


def model(x, w, b):
    cfg = {"act": "tanh", "bias": b}
    h = forward(x, w, act="relu")
    return forward(h, w.T @ w, **cfg), layer(*[x, w], **{"bias": b})


def fills(x, **bufs):
    bufs["out"][...] = x * 2.0  # an array reached through **kwargs, updated in place
    return bufs["out"].sum()


def calls(fn, argsets, same=same_nested):
    jf = jit_now(fn)
    for args, kw in argsets:
        want = fn(*args, **kw)
        got = jf(*args, **kw)
        same(want, got)
    return jf


def compiled(jf):
    st = jf.stats()
    assert st["fallback_calls"] == 0 and st["compiled_calls"] > 0, st
    return st


def test_star_args():
    x = np.arange(4.0)
    compiled(calls(total, [((x,), {}), ((x, x + 1), {}), ((x, x, x * 2), {}), ((x, x + 1), {})]))


def test_keyword_only_and_extra_keywords():
    x = np.arange(3.0)
    jf = calls(options, [
        ((x,), {}), ((x,), {"scale": 3.0}), ((x,), {"shift": 1.0, "scale": 0.5}),
        ((x,), {"alpha": x, "be": x * 2}), ((x,), {"be": x * 2, "alpha": x}),  # another order
        ((x,), {"alpha": x + 1, "be": x}),
    ])
    st = compiled(jf)
    assert st["compiles"] >= 3, st  # a version per set and order of extra keywords (3 here)


def test_positional_only():
    x = np.arange(3.0)
    compiled(calls(posonly, [((x,), {}), ((x, 2.0), {"c": 1.0}), ((x,), {"b": 5.0})]))  # b into **kw


def test_forwarding_and_unpacking_calls():
    r = np.random.default_rng(0)
    x, w, b = r.standard_normal((4, 3)), r.standard_normal((3, 3)), r.standard_normal(3)
    compiled(calls(model, [((x, w, b), {}), ((x * 2, w, b), {})],
                   same=lambda e, g: same_nested(e, g, rtol=1e-12)))


def test_kwargs_array_updated_in_place():
    x = np.arange(3.0)
    out_e, out_j = np.zeros(3), np.zeros(3)
    jf = jit_now(fills)
    assert fills(x, out=out_e) == jf(x, out=out_j)
    assert_same(out_e, out_j)
    out_j2 = np.zeros(3)
    jf(x + 1, out=out_j2)
    assert_same(x * 2 + 2, out_j2)


@pytest.mark.parametrize("args,kw", [
    ((np.arange(2.0),), {"nope": 1, "scale": 1.0, "shift": 2.0, "scale2": 3}),
    ((np.arange(2.0), 1.0), {}),  # too many positional arguments
])
def test_binding_errors_are_pythons(args, kw):
    def strict(x, *, scale, shift=0.0):
        return x * scale + shift
    with pytest.raises(TypeError) as want:
        strict(*args, **kw)
    jf = jit_now(strict)
    with pytest.raises(TypeError) as got:
        jf(*args, **kw)
    assert str(got.value).split("(")[-1] == str(want.value).split("(")[-1]


def test_missing_keyword_only_and_positional_only_by_name():
    jf = jit_now(posonly)
    with pytest.raises(TypeError):
        jf(a=np.arange(2.0))  # `a` is positional-only and there is no default: Python's error
    def needs(x, *, k):
        return x * k
    with pytest.raises(TypeError):
        jit_now(needs)(np.arange(2.0))
