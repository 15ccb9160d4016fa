"""The steering side's example programs (copied to tests/python/examples/), at small sizes: each
runs eagerly and under tracejit.jit, and returns, in-place updates and printed output must match.
Programs that compile today are asserted to run compiled; the rest must fall back with a reason."""
import contextlib
import copy
import importlib.util
import io
import pathlib

import numpy as np
import pytest

import tracejit

HERE = pathlib.Path(__file__).resolve().parent / "examples"

# name: (make_inputs keyword arguments for a small case, runs compiled today?)
CASES = {
    "black_scholes": (dict(n=10_000), True),
    "kmeans": (dict(n=4_000, iters=4), True),  # (n=2000 has a near-tie that summation order flips)
    "logistic_gd": (dict(n=2_000, d=16, iters=10), True),
    "mlp_model": ({}, True),
    "gray_scott": (dict(n=32, steps=10), True),   # a loop region (>= 8 steps)
    "heat2d": (dict(n=24, steps=9), True),
    "lu_inplace": (dict(n=12), True),             # windows of runtime extent: native loop nests
    "transformer_block": (dict(T=16, C=32), True),
    "edit_distance": (dict(n=12, m=9), True),    # a scalar loop nest: native nested loops
    "nbody": (dict(n=32, steps=9), True),         # a loop region; softening ** 2 value-guarded
    "training_log": (dict(n=256, d=8), True),     # print + dict store: deferred effects (graph breaks)
}


def load(name):
    spec = importlib.util.spec_from_file_location(f"tj_example_{name}", HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def flatten(v):
    if isinstance(v, (tuple, list)):
        return [x for item in v for x in flatten(item)]
    return [v]


def run(fn, args):
    fresh = copy.deepcopy(args)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ret = fn(*fresh)
    return ret, fresh, out.getvalue()


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_matches_eager(name):
    kwargs, compiles = CASES[name]
    mod = load(name)
    entry, args = mod.make_inputs(seed=0, **kwargs)
    ref, ref_args, ref_out = run(entry, args)
    jf = tracejit.jit(entry, hot=0, sync=True)
    for _ in range(2):
        got, got_args, got_out = run(jf, args)
        r, g = flatten(ref), flatten(got)
        assert len(r) == len(g)
        for a, b in zip(r, g):
            a, b = np.asarray(a), np.asarray(b)
            assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
            assert np.allclose(a, b, rtol=mod.RTOL, atol=mod.RTOL * 1e-3, equal_nan=True)
        for i in mod.MUTATES:
            assert np.allclose(ref_args[i], got_args[i], rtol=mod.RTOL, atol=mod.RTOL * 1e-3)
        assert got_out == ref_out
    st = jf.stats()
    if compiles:
        assert st["compiled_calls"] == 2 and st["fallback_calls"] == 0, st
    else:
        assert st["compiled_calls"] == 0 and st["fallback_reasons"], st
    if name == "training_log":  # its print and dict update run around the compiled graph
        assert st["graph_breaks"] == 2 and len(st["graph_break_reasons"]) == 2, st
        assert mod.HISTORY and all(isinstance(v, float) for v in mod.HISTORY.values())
