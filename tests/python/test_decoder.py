"""The frontend decoder against `dis` on real code: raw stream identical, canonical stream sane."""
import dis
import importlib
import os
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _load_decoder():
    try:
        from tracejit import _tracejit as mod  # the real extension, when built
        if hasattr(mod, "decode_raw") and hasattr(mod, "decode"):
            return mod
    except ImportError:
        pass
    testmod_dir = os.environ.get("TRACEJIT_FRONTEND_TESTMOD_DIR")
    if testmod_dir:
        sys.path.insert(0, testmod_dir)
        try:
            return importlib.import_module("_tracejit_frontend_test")
        finally:
            sys.path.remove(testmod_dir)
    return None


decoder = _load_decoder()
pytestmark = pytest.mark.skipif(
    decoder is None,
    reason="neither tracejit._tracejit (with decode/decode_raw) nor _tracejit_frontend_test "
           "(set TRACEJIT_FRONTEND_TESTMOD_DIR to the build folder holding it) is importable")

CANONICAL = re.findall(r"^CANON\((\w+)\)", (ROOT / "frontend/canonical.def").read_text(), re.M)
JUMPS = {"ForIter", "Jump", "PopJumpIfFalse", "PopJumpIfTrue", "PopJumpIfNone",
         "PopJumpIfNotNone", "JumpIfFalseOrPop", "JumpIfTrueOrPop"}
NEVER_EMITTED_RAW = {"RESUME", "CACHE", "PRECALL", "NOP", "EXTENDED_ARG", "END_FOR", "NOT_TAKEN"}

MODULES = [
    "json.decoder", "json.encoder", "textwrap", "argparse", "collections", "functools",
    "inspect", "ast", "dataclasses", "enum", "pathlib", "difflib", "heapq", "bisect", "string",
    "fractions", "statistics", "random", "calendar", "csv", "shlex", "tokenize", "pprint",
    "copy", "typing", "shutil", "urllib.parse", "email.utils", "logging", "unittest.case",
]


def _walk(code):
    yield code
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            yield from _walk(c)


def _codes_of(module_name):
    """Every code object of a module, compiled from its source (module body included)."""
    mod = importlib.import_module(module_name)
    path = mod.__file__
    source = pathlib.Path(path).read_text(encoding="utf-8")
    return list(_walk(compile(source, path, "exec")))


def _dis_rows(code):
    rows = []
    for ins in dis.get_instructions(code):
        if hasattr(ins, "jump_target"):  # 3.13+
            target = ins.jump_target
        elif ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            target = ins.argval
        else:
            target = None
        rows.append((ins.offset, ins.opname, ins.arg, target))
    return rows


def _line_of(code):
    table = {}
    for start, end, line in code.co_lines():
        for off in range(start, end, 2):
            table[off] = line
    return table


@pytest.mark.parametrize("module_name", MODULES)
def test_raw_matches_dis(module_name):
    codes = _codes_of(module_name)
    assert codes
    for code in codes:
        raw = decoder.decode_raw(code)
        got = [(off, name, arg, target) for off, name, arg, target, _ in raw]
        expected = _dis_rows(code)
        if got != expected:
            for i, (g, e) in enumerate(zip(got, expected)):
                assert g == e, f"{code.co_name} ({code.co_filename}:{code.co_firstlineno}) #{i}"
            assert len(got) == len(expected), code.co_name
        lines = _line_of(code)
        for off, name, _, _, line in raw:
            assert line == lines.get(off), (code.co_name, off, name)


def _check_canonical(code):
    ins = decoder.decode(code)
    n = len(ins)
    for i, (name, arg, target, offset, line, raw_name) in enumerate(ins):
        where = f"{code.co_name}:{offset} {raw_name} -> {name} (#{i})"
        assert name in CANONICAL, where
        assert raw_name not in NEVER_EMITTED_RAW, where
        assert raw_name, where
        if name in JUMPS:
            assert target is not None, where
        if target is not None:
            assert 0 <= target < n, where
        if name == "Unsupported":
            assert arg == dis.opmap.get(raw_name, arg), where
    return ins


@pytest.mark.parametrize("module_name", MODULES)
def test_canonical_stream_is_well_formed(module_name):
    for code in _codes_of(module_name):
        _check_canonical(code)


def test_rejects_non_code():
    with pytest.raises(TypeError):
        decoder.decode_raw(42)
    with pytest.raises(TypeError):
        decoder.decode(lambda: 0)


# --- Straight-line samples: the canonical stack effects must add up ---------------------------

def _effect(name, arg):
    fixed = {
        "PopTop": -1, "PushNull": 1, "Copy": 1, "Swap": 0, "LoadFast": 1, "LoadFastAndClear": 1,
        "StoreFast": -1, "DeleteFast": 0, "LoadConst": 1, "LoadGlobal": 1, "LoadName": 1,
        "StoreGlobal": -1, "LoadAttr": 0, "LoadMethod": 1, "StoreAttr": -2, "LoadDeref": 1,
        "StoreDeref": -1, "DeleteDeref": 0, "LoadClosure": 1, "MakeCell": 0, "CopyFreeVars": 0, "BinaryOp": -1,
        "CompareOp": -1, "IsOp": -1, "ContainsOp": -1, "UnaryNegative": 0, "UnaryNot": 0,
        "UnaryInvert": 0, "UnaryPositive": 0, "ToBool": 0, "BinarySubscr": -1,
        "StoreSubscr": -3, "DeleteSubscr": -2, "ListAppend": -1, "ListExtend": -1,
        "SetAdd": -1, "MapAdd": -2, "DictUpdate": -1, "DictMerge": -1, "ListToTuple": 0,
        "GetIter": 0, "ReturnValue": -1, "SetFunctionAttribute": -1, "LoadAssertionError": 1,
        "ConvertValue": 0,
    }
    if name in fixed:
        return fixed[name]
    if name in ("BuildTuple", "BuildList", "BuildSet", "BuildSlice", "BuildString"):
        return 1 - arg
    return {
        "Call": lambda: -(arg + 1),
        "CallKw": lambda: -(arg + 2),
        "CallFunctionEx": lambda: -(2 + (arg & 1)),
        "BuildMap": lambda: 1 - 2 * arg,
        "BuildConstKeyMap": lambda: -arg,
        "UnpackSequence": lambda: arg - 1,
        "UnpackEx": lambda: (arg & 0xFF) + (arg >> 8),
        "FormatValue": lambda: -1 if arg & 4 else 0,
        "MakeFunction": lambda: -bin(arg & 0xF).count("1"),
    }[name]()


import numpy as np  # noqa: E402  (only referenced by the samples' bytecode)


def s_expr(a, b, c):
    return a * b + np.exp(c)


def s_kwcall(h):
    y = h.sum(axis=1, keepdims=True)
    return y


def s_slices(a, b, i):
    a[1:i] = b[i:]
    return a[::2], b[:-1]


def s_fstring(a, b):
    return f"{a!r:>10}{b}{a:{b}}" + str(a)


def s_swap_unpack(a, b):
    a, b = b, a
    x, *y = a
    return x, y, +b, (*a,)


def s_calls(f, args, kw):
    print(*args, **kw)
    return f(1, 2, key=3), len(args), kw.get("a", None)


def s_compare(a, b):
    c = a < b
    d = a is not b
    e = a not in b
    return [c, d, e], {"k": a, "j": b}, {a, b}, not a, -b, ~a


def s_attrs(self, x):
    self.w = x.T.reshape(-1)
    del x[0]
    return self.w


SAMPLES = [s_expr, s_kwcall, s_slices, s_fstring, s_swap_unpack, s_calls, s_compare, s_attrs]


@pytest.mark.parametrize("fn", SAMPLES, ids=lambda f: f.__name__)
def test_straight_line_stack_effects(fn):
    ins = _check_canonical(fn.__code__)
    depth = 0
    for name, arg, target, offset, line, raw_name in ins:
        assert name != "Unsupported", raw_name
        assert target is None, f"{fn.__name__} is meant to be straight-line ({raw_name})"
        if name == "ReturnValue":
            assert depth == 1, f"{fn.__name__}: depth {depth} at return"
        depth += _effect(name, arg)
        assert depth >= 0, f"{fn.__name__}: stack underflow at {offset} {raw_name}"
    assert depth == 0


def _names(fn):
    return [name for name, *_ in decoder.decode(fn.__code__)]


def test_expr_golden():
    # `np.exp(c)` on a global module: the compiler pushes a NULL and loads a plain attribute;
    # the NULL sits below the callable before 3.13 and above it from 3.13 on.
    if sys.version_info >= (3, 13):
        call = ["LoadGlobal", "LoadAttr", "PushNull"]
    else:
        call = ["PushNull", "LoadGlobal", "LoadAttr"]
    assert _names(s_expr) == (["LoadFast", "LoadFast", "BinaryOp"] + call +
                              ["LoadFast", "Call", "BinaryOp", "ReturnValue"])


def test_kwcall_golden():
    ins = decoder.decode(s_kwcall.__code__)
    assert [i[0] for i in ins] == ["LoadFast", "LoadMethod", "LoadConst", "LoadConst",
                                   "LoadConst", "CallKw", "StoreFast", "LoadFast",
                                   "ReturnValue"]
    consts = s_kwcall.__code__.co_consts
    assert consts[ins[4][1]] == ("axis", "keepdims")
    assert s_kwcall.__code__.co_names[ins[1][1]] == "sum"
    assert ins[5][1] == 2


def _global_call(x):
    return len(x)


def test_load_global_push_null_order():
    names = _names(_global_call)
    if sys.version_info >= (3, 13):
        assert names[:2] == ["LoadGlobal", "PushNull"]
    else:
        assert names[:2] == ["PushNull", "LoadGlobal"]
    assert names[-2:] == ["Call", "ReturnValue"]


def _loop(xs):
    t = 0
    for x in xs:
        t += x
    return t


def test_for_iter_exits_past_the_loop():
    ins = decoder.decode(_loop.__code__)
    names = [i[0] for i in ins]
    fi = names.index("ForIter")
    exit_ = ins[fi][2]
    # After the loop: `return t`, with no END_FOR/POP_TOP of the iterator in between.
    assert names[exit_:] == ["LoadFast", "ReturnValue"]
    back = [i for i in ins if i[0] == "Jump"]
    assert back and back[-1][2] == fi


def _branch(a):
    if a > 0:
        return 1
    return 2


def test_conditional_jump_targets():
    ins = decoder.decode(_branch.__code__)
    names = [i[0] for i in ins]
    j = [k for k, n in enumerate(names) if n.startswith("PopJumpIf")]
    assert len(j) == 1
    target = ins[j[0]][2]
    assert names[target:] == ["LoadConst", "ReturnValue"]
    assert _branch.__code__.co_consts[ins[target][1]] == 2
