"""np.einsum with one or two operands and letter subscripts, compiled as transposes, sums in the
operands' dtype, broadcast products and matmuls. Every case compares with NumPy's own einsum:
integers bit-exact (sums wrap in the operand dtype, as NumPy's loops do), floats within
(k + 2) eps (|A| . |B|) elementwise (two summation orders), same type (NumPy scalar for a 0-d
result), dtype and shape; and asserts the call compiled, so it cannot pass by running eagerly."""
import numpy as np
import pytest

import tracejit

from conftest import jit_now

# (subscripts, shape of A, shape of B or None)
CASES = [
    ("ij,jk->ik", (3, 4), (4, 5)), ("ij,jk", (3, 4), (4, 5)), ("ij,jk->ki", (3, 4), (4, 5)),
    ("ij,kj->ik", (3, 4), (5, 4)), ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("bhqd,bhkd->bhqk", (2, 3, 4, 5), (2, 3, 6, 5)), ("abc,cd->abd", (2, 3, 4), (4, 5)),
    ("ijk,k->ij", (2, 3, 4), (4,)), ("i,i", (7,), (7,)), ("i,i->", (7,), (7,)), ("i,j->ij", (3,), (4,)),
    ("ij,ij->ij", (3, 4), (3, 4)), ("ij,ij->i", (3, 4), (3, 4)), ("ij,jk->", (3, 4), (4, 5)),
    ("ij,k->ik", (3, 4), (5,)), ("ij,jk->ik", (0, 4), (4, 5)), ("ij,jk->ik", (3, 0), (0, 5)),
    ("ij,jk->ik", (1, 1), (1, 1)), ("ij->i", (3, 4), None), ("ij->", (3, 4), None),
    ("ijk->kj", (2, 3, 4), None), ("ijk->k", (2, 3, 4), None),
]
DTYPES = [np.float64, np.float32, np.int64, np.int32, np.int8, np.uint8]


def operands(a_shape, b_shape, dtype, seed=0):
    r = np.random.default_rng(seed)
    make = lambda s: ((r.standard_normal(s) * 3) if np.dtype(dtype).kind == "f" else r.integers(-60, 60, s)).astype(dtype)
    return (make(a_shape),) if b_shape is None else (make(a_shape), make(b_shape))


def close(spec, args, want, got):
    assert type(got) is type(want), (type(got), type(want))
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype and g.shape == w.shape
    if w.dtype.kind != "f":
        assert np.array_equal(g, w)
        return
    k = max(1, max(a.size for a in args))
    bound = np.einsum(spec, *[np.abs(a).astype(np.float64) for a in args])
    assert np.all(np.abs(g.astype(np.float64) - w) <= (k + 2) * np.finfo(w.dtype).eps * bound)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec,sa,sb", CASES)
def test_matches_numpy(spec, sa, sb, dtype):
    args = operands(sa, sb, dtype)

    def f(*x):
        return np.einsum(spec, *x)

    want = f(*args)
    jf = jit_now(f)
    got = jf(*args)
    st = jf.stats()
    assert st["compiled_calls"] == 1 and st["graph_breaks"] == 0, st
    close(spec, args, want, got)


def test_mixed_dtypes_promote_as_numpy():
    a = np.arange(12, dtype=np.int16).reshape(3, 4)
    b = np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5)
    f = lambda a, b: np.einsum("ij,jk->ik", a, b)
    jf = jit_now(f)
    close("ij,jk->ik", (a, b), f(a, b), jf(a, b))
    assert jf.stats()["compiled_calls"] == 1


def test_attention_scores_compile_whole():
    def attn(q, k, v):
        s = np.einsum("bhqd,bhkd->bhqk", q, k) / np.sqrt(q.shape[-1])
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        p = s / s.sum(axis=-1, keepdims=True)
        return np.einsum("bhqk,bhkd->bhqd", p, v)

    r = np.random.default_rng(3)
    q, k, v = (r.standard_normal((2, 4, 16, 8)) for _ in range(3))
    jf = jit_now(attn)
    np.testing.assert_allclose(jf(q, k, v), attn(q, k, v), rtol=1e-12, atol=1e-14)
    st = jf.stats()
    assert st["compiled_calls"] == 1 and st["graph_breaks"] == 0, st


def test_permutation_is_numpys_view():
    """einsum('ij->ji', a) is a view of a: returned, the function runs eagerly (memory sharing
    stays NumPy's); used inside, it compiles."""
    a = np.arange(6.0).reshape(2, 3)
    ret = tracejit.jit(lambda a: np.einsum("ij->ji", a), hot=0, sync=True)
    r = ret(a)
    assert np.shares_memory(r, a) and np.array_equal(r, a.T)
    inner = jit_now(lambda a: np.einsum("ij->ji", a) * 2)
    assert np.array_equal(inner(a), a.T * 2) and inner.stats()["compiled_calls"] == 1


@pytest.mark.parametrize("spec,shapes", [
    ("ij,jk->ik", [(3, 4), (5, 6)]),      # size mismatch: ValueError
    ("ij,jk->iz", [(3, 4), (4, 5)]),      # output label never seen: ValueError
    ("ijk,jk->ik", [(3, 4), (4, 5)]),     # too many labels for operand 0: ValueError
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),  # three operands: eager
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),  # ellipsis: eager
    ("ii->i", [(3, 3)]),                  # a diagonal: eager
    ("ij,j->i", [(3, 1), (4,)]),          # size 1 against 4: NumPy's broadcasting, eager
])
def test_other_forms_give_numpys_answer_or_error(spec, shapes):
    r = np.random.default_rng(1)
    args = [r.standard_normal(s) for s in shapes]
    f = lambda *x: np.einsum(spec, *x)
    try:
        want, err = f(*args), None
    except Exception as e:
        want, err = None, e
    jf = tracejit.jit(f, hot=0, sync=True)
    if err is not None:
        with pytest.raises(type(err)):
            jf(*args)
    else:
        np.testing.assert_allclose(jf(*args), want, rtol=1e-12)


def test_booleans_run_eagerly_with_numpys_answer():
    a = np.array([[True, False], [False, True]])
    f = lambda a, b: np.einsum("ij,jk->ik", a, b)
    jf = tracejit.jit(f, hot=0, sync=True)
    assert np.array_equal(jf(a, a), f(a, a)) and jf(a, a).dtype == np.bool_
