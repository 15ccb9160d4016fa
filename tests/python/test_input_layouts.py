"""Inputs that are transposes of contiguous buffers: F-ordered matrices (`np.asfortranarray`,
`df.values` of pandas, LAPACK outputs), `x.T` or `x.transpose(...)` handed in. The tracer
guards their exact strides and the pipeline reads them as transposes of their buffers
(ir/passes/layout.h): reductions walk the buffer in memory order, and elementwise results come
back in the input's layout, as NumPy's ufuncs return them. Compared with eager NumPy: same
values, dtype and shape, and the same strides where NumPy's result follows the input's layout;
every call compiled."""
import itertools

import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now, random_array, run_compiled


def data(dtype, shape, seed=3):
    return random_array(dtype, shape, seed, span=100)


def fortran(dtype, shape, seed=3):
    return np.asfortranarray(data(dtype, shape, seed))


def same_layout(want, got):
    assert_same(want, got)
    assert got.strides == want.strides, f"strides {got.strides} != NumPy's {want.strides}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.int32, np.int64, np.uint16])
@pytest.mark.parametrize("shape", [(300, 200), (64, 64), (1000, 3), (3, 1000), (2048, 130)], ids=str)
def test_fortran_elementwise_keeps_the_layout(dtype, shape):
    x = fortran(dtype, shape)
    fn = lambda a: a * 3 + 1  # noqa: E731  (int8 wraps, as NumPy's does)
    same_layout(fn(x), run_compiled(fn, x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fortran_math(dtype):
    x = fortran(dtype, (700, 513))
    for fn in (lambda a: np.exp(a) * 2.0 - 1.0, lambda a: np.tanh(a) + np.sqrt(np.abs(a)),
               lambda a: np.where(a > 0, a, 0.1 * a)):
        want, got = fn(x), run_compiled(fn, x)
        assert got.dtype == want.dtype and got.strides == want.strides
        tol = 4e-7 if dtype == np.float32 else 1e-15  # exp(a) - 1 cancels: a few ulp of exp(a)
        np.testing.assert_allclose(got, want, rtol=tol, atol=4 * tol)


@pytest.mark.parametrize("axes", list(itertools.permutations(range(3))), ids=str)
def test_every_transpose_of_a_3d_array(axes):
    x = data(np.float64, (6, 7, 8)).transpose(axes)
    row = data(np.float64, x.shape[-1], seed=4)
    fn = lambda a, r: a - r * 2  # noqa: E731
    want, got = fn(x, row), run_compiled(fn, x, row)
    assert_same(want, got)
    if axes != (0, 1, 2):
        assert got.strides == want.strides, (got.strides, want.strides)
    assert_same(x.sum(axis=1), run_compiled(lambda a: a.sum(axis=1), x), rtol=1e-14)


@pytest.mark.parametrize("shape", [(1, 500, 300), (500, 1, 300), (40, 300, 1)], ids=str)
def test_length_one_axes(shape):
    # A length-1 axis has any stride: the layout is decided by the others.
    x = np.asfortranarray(data(np.float32, shape))
    fn = lambda a: a * a - 1  # noqa: E731
    assert_same(fn(x), run_compiled(fn, x))
    y = data(np.float32, shape).transpose(2, 1, 0)
    assert_same(fn(y), run_compiled(fn, y))


@pytest.mark.parametrize("axis", [0, 1, None, (0, 1)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_fortran_reductions(axis, keepdims):
    x = fortran(np.float64, (513, 300))
    x[7, 9] = 40.0
    for fn in (lambda a: a.sum(axis=axis, keepdims=keepdims), lambda a: a.max(axis=axis, keepdims=keepdims),
               lambda a: (a * a).mean(axis=axis, keepdims=keepdims)):
        assert_same(fn(x), run_compiled(fn, x), rtol=1e-13)
    if axis is None or isinstance(axis, int):
        fn = lambda a: a.argmax(axis=axis)  # noqa: E731
        assert_same(fn(x), run_compiled(fn, x))


def test_fortran_standardize_columns():
    # x - mean and its square share one value; the std's sum still reads the buffer in order.
    x = fortran(np.float32, (2000, 300))
    fn = lambda a: (a - a.mean(axis=0)) / a.std(axis=0)  # noqa: E731
    want, got = fn(x), run_compiled(fn, x)
    assert got.strides == want.strides
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def test_fortran_matmul():
    a = fortran(np.float64, (200, 150))
    b = data(np.float64, (150, 90))
    for fn, args in ((lambda p, q: p @ q, (a, b)), (lambda p, q: np.maximum(p @ q, 0) + 1, (a, b)),
                     (lambda p, q: q.T @ p.T, (a, b)), (lambda p, q: p @ q, (np.asfortranarray(b.T), a.T))):
        np.testing.assert_allclose(run_compiled(fn, *args), fn(*args), rtol=1e-12)


def test_fortran_in_place_updates():
    x = fortran(np.float32, (600, 400))
    g = fortran(np.float32, (600, 400), seed=5)

    def step(w, grad):
        w -= 0.01 * grad
        w *= 2
        return None

    want = x.copy(order="K")
    step(want, g)
    got = x.copy(order="K")
    jf = jit_now(step)
    assert jf(got, g) is None
    assert_compiled(jf)
    assert got.flags.f_contiguous
    assert_same(want, got)


def test_fortran_loop_body():
    x = fortran(np.float64, (300, 200))

    def f(a):
        for _ in range(4):
            a = a * 0.5 + 1.0
        return a

    assert_same(f(x), run_compiled(f, x))


def test_results_used_twice_and_mixed_layouts():
    x = fortran(np.float32, (300, 500))
    c = data(np.float32, (300, 500), seed=8)

    def f(a, b):
        y = np.exp(a)
        return y, y.sum(axis=0), a + b, a.T * 2

    want, got = f(x, c), run_compiled(f, x, c)
    assert_same(want[0], got[0], rtol=4e-7)
    assert_same(want[1], got[1], rtol=2e-6)  # 300-term float32 sums, in another order
    assert_same(want[2], got[2])
    assert_same(want[3], got[3])
    assert got[3].flags.c_contiguous and want[3].flags.c_contiguous


def test_returns_the_input_and_copies_of_it():
    x = fortran(np.int32, (50, 40))
    assert run_compiled(lambda a: a, x) is x
    same_layout(x + 0, run_compiled(lambda a: a + 0, x))
    same_layout(-x, run_compiled(lambda a: -a, x))


def test_layouts_get_their_own_entries():
    def f(a):
        return np.sqrt(np.abs(a)) * 2

    jf = jit_now(f)
    m = data(np.float64, (240, 360))
    calls = [m, np.asfortranarray(m), m[::2, ::3], m.T, np.asfortranarray(m), m.T[::-1], m.T]
    for k, a in enumerate(calls):
        want, got = f(a), jf(a)
        assert_same(want, got)
        if a.flags.f_contiguous or a.flags.c_contiguous:
            assert got.strides == want.strides
    assert_compiled(jf, calls=len(calls))
    # The F-ordered arrays and m.T ran the (1, 0)-transposed entries (static, then dynamic
    # sizes once the shape changed); the stepped and reversed views the strided ones.
    transposed = [e for e in jf.cache_info() if "contiguous with axes (1, 0) outermost first" in e["guards"][0]]
    assert sum(e["hits"] for e in transposed) == 4, jf.cache_info()
    reasons = jf.stats()["recompile_reasons"]
    assert any("expected the strides of a contiguous array with axes (1, 0)" in r for r in reasons), reasons


def test_explain_names_the_layout():
    import tracejit

    x = fortran(np.float32, (30, 20))
    text = tracejit.explain(lambda a: a + 1, x)
    # The optimized IR: the buffer is the param, the result is returned transposed.
    assert "param 0 contiguous : f32[20,30]" in text, text
    assert "transposed(1, 0)" in text.split("return")[1], text


def test_views_that_are_not_transposes_stay_strided():
    x = data(np.float32, (40, 50, 60))
    for a in (x[:, 0, :], x[:, :, 5], x[::2].transpose(2, 0, 1), np.broadcast_to(x[0, 0], (30, 60))):
        fn = lambda v: v * 2 + 1  # noqa: E731
        assert_same(fn(a), run_compiled(fn, a))


def test_fortran_inputs_in_loop_regions():
    # Long loops become loop regions: the transposed input is captured into the body.
    x = fortran(np.float64, (120, 90))
    g = fortran(np.float64, (120, 90), seed=9)

    def f(a, b, n):
        acc = np.zeros_like(a)
        for i in range(n):
            acc = acc * 0.5 + a * i
            b -= 0.001 * acc
        return acc, b

    want_b, got_b = g.copy(order="K"), g.copy(order="K")
    want = f(x, want_b, 300)
    got = run_compiled(f, x, got_b, 300)
    assert_same(want[0], got[0], rtol=1e-14)
    np.testing.assert_allclose(got_b, want_b, rtol=1e-13)
    assert got_b.flags.f_contiguous


def test_copy_is_c_ordered():
    # ndarray.copy() is C-ordered whatever its operand (NumPy's default order='C').
    x = fortran(np.float32, (300, 200))
    for fn in (lambda a: a.copy(), lambda a: a.T.copy(), lambda a: a.copy() + 1, lambda a: (a * 2).copy()):
        want, got = fn(x), run_compiled(fn, x)
        assert_same(want, got)
        assert got.flags.c_contiguous == want.flags.c_contiguous, (got.strides, want.strides)


LIKE = {
    "zeros_like": lambda a: np.zeros_like(a),
    "ones_like": lambda a: np.ones_like(a),
    "full_like": lambda a: np.full_like(a, 7),
    "zeros_like_f32": lambda a: np.zeros_like(a, dtype=np.float32),
    "zeros_like + a": lambda a: np.zeros_like(a) + a,
    "ones_like(a + 1) * a": lambda a: np.ones_like(a + 1) * a,
    "zeros_like(a.T)": lambda a: np.zeros_like(a.T),
}


@pytest.mark.parametrize("name", list(LIKE), ids=str)
@pytest.mark.parametrize("layout", ["F", "T3", "C", "CT"], ids=str)
def test_like_functions_follow_the_layout(name, layout):
    # np.*_like's default order='K' gives the result a's layout (PyArray_NewLikeArray).
    x = {"F": fortran(np.float64, (30, 20)), "T3": data(np.float64, (4, 5, 6)).transpose(2, 0, 1),
         "C": data(np.float64, (30, 20)), "CT": data(np.int32, (30, 20)).T}[layout]
    fn = LIKE[name]
    want, got = fn(x), run_compiled(fn, x)
    same_layout(want, got)
    # np.empty_like's values are whatever memory held: its layout, shape and dtype.
    want, got = np.empty_like(x), run_compiled(lambda a: np.empty_like(a), x)
    assert (got.shape, got.dtype, got.strides) == (want.shape, want.dtype, want.strides)


@pytest.mark.parametrize("order", ["C", "F", "A", "K"])
@pytest.mark.parametrize("layout", ["F", "C", "T3", "F1"], ids=str)
@pytest.mark.parametrize("fn_name", ["zeros_like", "full_like"])
def test_like_functions_order_argument(order, layout, fn_name):
    x = {"F": fortran(np.float32, (40, 7)), "C": data(np.float32, (40, 7)),
         "T3": data(np.float32, (4, 5, 6)).transpose(1, 2, 0), "F1": fortran(np.float32, (40, 1, 7))}[layout]
    if fn_name == "zeros_like":
        fn = lambda a: np.zeros_like(a, order=order) + 1  # noqa: E731
    else:
        fn = lambda a: np.full_like(a, 2.5, order=order)  # noqa: E731
    want, got = fn(x), run_compiled(fn, x)
    assert_same(want, got)
    # A length-1 axis has any stride: compare the others.
    keep = [d for d in range(want.ndim) if want.shape[d] != 1]
    assert [got.strides[d] for d in keep] == [want.strides[d] for d in keep], (got.strides, want.strides)


def test_like_order_errors_match_numpy():
    x = fortran(np.float64, (5, 4))
    fn = lambda a: np.zeros_like(a, order="Q")  # noqa: E731
    with pytest.raises(ValueError) as want:
        fn(x)
    jf = jit_now(fn)
    with pytest.raises(ValueError) as got:
        jf(x)
    assert str(got.value) == str(want.value)
