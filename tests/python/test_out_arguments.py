"""Arguments that change a call's result (an `out` array, positional or keyword; a positional
`initial` or `where`; clip's, concatenate's and stack's dtype=; *_like's shape=) must never be dropped: such calls run eagerly and give
NumPy's result, the out array written. (Positional initial/where/out of reductions and out of
clip/round, concatenate/stack's out/dtype/casting and *_like's shape used to be ignored by the
tracer: a wrong sum, an unwritten out, a wrong dtype or shape.)"""
import numpy as np
import pytest

from conftest import check_compiled, jit_now

CALLS = {
    "sum initial": lambda a, o: a.sum(None, None, None, False, 5.0),
    "np.sum initial": lambda a, o: np.sum(a, None, None, None, False, 5.0),
    "max initial": lambda a, o: a.max(None, None, False, 9.0),
    "prod out": lambda a, o: (np.prod(a, 0, None, o[0]), o),
    "mean out": lambda a, o: (np.mean(a, 1, None, o[:, 0]), o),
    "clip out": lambda a, o: (np.clip(a, 1, 3, o), o),
    "clip out kw": lambda a, o: (np.clip(a, 1, 3, out=o), o),
    "x.clip out": lambda a, o: (a.clip(1, 3, o), o),
    "clip dtype": lambda a, o: np.clip(a, 1, 3, dtype=np.float32),
    "round out": lambda a, o: (np.round(a, 0, o), o),
    "around out kw": lambda a, o: (np.around(a, out=o), o),
    "x.round out": lambda a, o: (a.round(1, o), o),
    "x.any positional": lambda a, o: a.any(0, None, True),  # (axis, dtype, out): out=True raises
    "ones_like shape": lambda a, o: np.ones_like(a, shape=(4,)),
    "full_like shape": lambda a, o: np.full_like(a, 2, None, "K", True, (3, 1)),
    "empty_like shape": lambda a, o: np.empty_like(a, shape=(3,)).shape,
    "concatenate dtype": lambda a, o: np.concatenate([a, a], axis=0, dtype=np.float32),
    "concatenate out": lambda a, o: (np.concatenate([a[:1], a[1:]], 0, o), o),
    "concatenate casting": lambda a, o: np.concatenate([a, a], casting="unsafe", dtype=np.int32),
    "stack out": lambda a, o: (np.stack([a[0], a[1]], 0, o), o),
    "stack dtype": lambda a, o: np.stack([a, a], dtype=np.float32),
    "hstack dtype": lambda a, o: np.hstack([a, a], dtype=np.float32),
    "vstack casting": lambda a, o: np.vstack([a, a], dtype=np.int32, casting="unsafe"),
    "hstack arrays=": lambda a, o: np.hstack(arrays=[a, a]),      # TypeError: the keyword is tup
    "concatenate tup=": lambda a, o: np.concatenate(tup=[a, a]),  # TypeError: the keyword is arrays
    "zeros_like device": lambda a, o: np.zeros_like(a, device="gpu"),  # ValueError
}


@pytest.mark.parametrize("name", list(CALLS))
def test_result_changing_arguments_run_eagerly(name):
    call = CALLS[name]
    x = np.arange(6.0).reshape(2, 3) * 0.7
    o1, o2 = np.zeros((2, 3)), np.zeros((2, 3))
    try:
        want = call(x, o1)
    except Exception as e:  # noqa: BLE001 - the same exception, from the eager run
        with pytest.raises(type(e)):
            jit_now(call)(x, o2)
        return
    got = jit_now(call)(x, o2)
    for w, g in zip(want if isinstance(want, tuple) else (want,), got if isinstance(got, tuple) else (got,)):
        assert type(g) is type(w) and np.array_equal(g, w) and np.asarray(g).dtype == np.asarray(w).dtype
    assert np.array_equal(o1, o2)


def test_none_out_and_keywords_still_compile():
    x = np.arange(6.0).reshape(2, 3) * 0.7
    check_compiled(lambda a: (np.sum(a, 0, None, None, True), np.clip(a, 1, 3, None), np.round(a, 1, None),
                              a.clip(min=1), np.max(a, 1, None, False), np.std(a, 0, None, None, 1, True),
                              np.concatenate([a, a], 1), np.stack((a, a), axis=1), np.zeros_like(a, None, "K", True, None),
                              np.full_like(a, 3, shape=None)), x)
