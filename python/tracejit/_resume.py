"""Eager remainders of a function after a graph break (the runtime's fallback when no compiled
continuation can run): a copy of the function's code that enters at a given instruction with
its frame state passed as arguments.

The new code object is the original one with a prologue: every local slot becomes a positional
parameter (unbound ones are deleted again), the value stack is pushed from extra parameters,
and a forward jump goes to the resume offset. Jumps in 3.11+ are relative, so the original
bytecode is kept as it is; the exception table is shifted by the prologue's length and the
location table gets "no location" entries for the prologue, so tracebacks name the user's
lines. Cell and free variables become plain locals holding their cell objects (the runtime passes
the function's own closure cells; see make_remainder). A break inside a try block enters the copy at the break instruction itself, with its
operands on the stack (jit/runtime.cpp), so that the shifted exception table sends its
exceptions, and later ones, to the user's handlers.
"""
import dis
import sys
import types

_OP = dis.opmap
_CO_VARARGS = 0x04
_CO_VARKEYWORDS = 0x08


def _instr(op, arg):
    """Bytes of one instruction with EXTENDED_ARG prefixes (no inline caches: only ops that
    have none are used)."""
    out = bytearray()
    ext = []
    a = arg >> 8
    while a:
        ext.append(a & 0xFF)
        a >>= 8
    for e in reversed(ext):
        out += bytes((_OP["EXTENDED_ARG"], e))
    out += bytes((_OP[op], arg & 0xFF))
    return out


def _read_varint(data, i):
    b = data[i]
    i += 1
    v = b & 63
    while b & 64:
        b = data[i]
        i += 1
        v = (v << 6) | (b & 63)
    return v, i


def _write_varint(v, first):
    chunks = [v & 63]
    v >>= 6
    while v:
        chunks.append(v & 63)
        v >>= 6
    chunks.reverse()
    out = bytearray(c | 64 for c in chunks[:-1])
    out.append(chunks[-1])
    if first:
        out[0] |= 128
    return out


def _shift_exception_table(table, units):
    out = bytearray()
    i = 0
    while i < len(table):
        start, i = _read_varint(table, i)
        size, i = _read_varint(table, i)
        target, i = _read_varint(table, i)
        depth, i = _read_varint(table, i)
        out += _write_varint(start + units, True)
        out += _write_varint(size, False)
        out += _write_varint(target + units, False)
        out += _write_varint(depth, False)
    return bytes(out)


def _no_location(units):
    out = bytearray()
    while units > 0:
        n = min(units, 8)
        out.append(0x80 | (15 << 3) | (n - 1))
        units -= n
    return bytes(out)


def make_remainder(func, offset, unbound, nstack, stack_nulls=()):
    """A function f(*locals, *stack) that runs func's code from byte `offset` with those local
    slots (the ones listed in `unbound` are unbound) and that value stack (the entries listed in
    `stack_nulls` are the call protocol's NULL; their arguments are ignored)."""
    code = func.__code__
    # Cell and free variables become plain locals of the copy (the same slots: CPython orders
    # them after the other locals), each passed its cell object: LOAD_DEREF / STORE_DEREF /
    # LOAD_CLOSURE read the slot as a cell whatever its kind, and the copy skips the MAKE_CELL
    # and COPY_FREE_VARS of the original prologue.
    if "__class__" in code.co_freevars:
        raise ValueError("tracejit: no eager remainder for code using super() or __class__")
    slots = code.co_varnames + tuple(c for c in code.co_cellvars if c not in code.co_varnames) + code.co_freevars
    nlocals = len(slots)
    stack_names = tuple(f"<stack {k}>" for k in range(nstack))
    varnames = slots + stack_names

    def prologue(jump):
        p = bytearray(_instr("RESUME", 0))
        for k in unbound:
            p += _instr("DELETE_FAST", k)
        for k in range(nstack):
            p += _instr("PUSH_NULL", 0) if k in stack_nulls else _instr("LOAD_FAST", nlocals + k)
        p += _instr("JUMP_FORWARD", jump)
        return p

    # JUMP_FORWARD counts code units from the end of the prologue: the original offset.
    p = prologue(offset // 2)
    size = len(p)
    units = size // 2
    kwargs = dict(
        co_code=bytes(p) + code.co_code,
        co_argcount=nlocals + nstack,
        co_posonlyargcount=0,
        co_kwonlyargcount=0,
        co_nlocals=nlocals + nstack,
        co_varnames=varnames,
        co_cellvars=(),
        co_freevars=(),
        co_flags=code.co_flags & ~(_CO_VARARGS | _CO_VARKEYWORDS),
        co_stacksize=code.co_stacksize + nstack,
        co_exceptiontable=_shift_exception_table(code.co_exceptiontable, units),
        co_linetable=_no_location(units) + code.co_linetable,
    )
    new = code.replace(**kwargs)
    return types.FunctionType(new, func.__globals__, func.__name__)


# ---------------------------------------------------------------------------------------------
# `with` statements at graph breaks: the statement runs eagerly in a copy of the code entered at
# its BEFORE_WITH (the context manager on the stack); where either of its exits (the end of the
# block, after __exit__ suppressing an exception) gets back to the statement level, the copy
# returns the frame's locals instead of going on, and the runtime resumes compiled from there.

WITH_DONE = object()  # the first item of what a `with` remainder returns at a stub point

_TERMINAL = {"RETURN_VALUE", "RETURN_CONST", "RERAISE", "RAISE_VARARGS"}
_UNCONDITIONAL = {"JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT"}


def _caches(name):
    import opcode
    table = getattr(opcode, "_inline_cache_entries", None)
    if table is None:
        return 0
    if isinstance(table, dict):
        return table.get(name, 0)
    return table[_OP[name]]


def _call0(const_index):
    """Bytes that call co_consts[const_index]() and return its result."""
    out = bytearray()
    if sys.version_info >= (3, 13):
        out += _instr("LOAD_CONST", const_index) + _instr("PUSH_NULL", 0)
    else:
        out += _instr("PUSH_NULL", 0) + _instr("LOAD_CONST", const_index)
    if sys.version_info < (3, 12):
        out += _instr("PRECALL", 0) + bytes(2 * _caches("PRECALL"))
    out += _instr("CALL", 0) + bytes(2 * _caches("CALL"))
    out += _instr("RETURN_VALUE", 0)
    return out


def _effect(ins, jump):
    try:
        return dis.stack_effect(ins.opcode, ins.arg, jump=jump)
    except (ValueError, TypeError):
        return dis.stack_effect(ins.opcode, jump=jump)


def with_exits(code, entry):
    """Byte offsets where the `with` statement whose BEFORE_WITH is at byte `entry` (its context
    manager the only value on the stack) is left with an empty stack, in the order first met:
    the instructions after the statement (one per exit path the compiler laid out). Raises
    ValueError when the flow cannot be followed."""
    instrs = list(dis.get_instructions(code))
    at = {ins.offset: k for k, ins in enumerate(instrs)}
    if entry not in at or instrs[at[entry]].opname != "BEFORE_WITH":
        raise ValueError("no BEFORE_WITH at the entry")
    table = dis._parse_exception_table(code)
    depth_at = {}
    exits = []
    work = [(entry, 1)]
    while work:
        off, depth = work.pop()
        if depth == 0:
            if off not in exits:
                exits.append(off)
            continue
        if depth < 0 or off not in at:
            raise ValueError("the stack of the with statement cannot be followed")
        if off in depth_at:
            if depth_at[off] != depth:
                raise ValueError("inconsistent stack depths in the with statement")
            continue
        depth_at[off] = depth
        ins = instrs[at[off]]
        for e in table:
            if e.start <= off < e.end:
                work.append((e.target, e.depth + (1 if e.lasti else 0) + 1))
                break
        name = ins.opname
        if name in _TERMINAL:
            continue
        jumps = ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs
        if jumps:
            work.append((ins.argval, depth + _effect(ins, True)))
        if name not in _UNCONDITIONAL:
            k = at[off] + 1
            if k >= len(instrs):
                raise ValueError("the with statement runs past the end of the code")
            work.append((instrs[k].offset, depth + _effect(ins, False)))
    return exits, set(depth_at)


def make_with_remainder(func, entry, unbound, nstack, stack_nulls=()):
    """(f, exits): f(*locals, *stack) runs func's code from the BEFORE_WITH at byte `entry` (as
    make_remainder) and returns either the function's return value (a return inside the block)
    or, where the statement is left at exits[k] (a byte offset of func's code), the tuple
    (WITH_DONE, k, {name: value} of the bound locals)."""
    code = func.__code__
    exits, inside = with_exits(code, entry)
    base = make_remainder(func, entry, unbound, nstack, stack_nulls)
    bcode = base.__code__
    units = (len(bcode.co_code) - len(code.co_code)) // 2  # the prologue
    consts = list(bcode.co_consts)
    raw = bytearray(bcode.co_code)
    stubs = bytearray()
    starts = sorted(set(i.offset for i in dis.get_instructions(code)))
    for k, off in enumerate(exits):

        def capture(k=k):
            return (WITH_DONE, k, dict(sys._getframe(1).f_locals))

        consts.append(capture)
        stub_at = (len(raw) + len(stubs)) // 2
        at = off // 2 + units
        jump = None
        for size in (1, 2, 3):
            j = _instr("JUMP_FORWARD", stub_at - (at + size))
            if len(j) == 2 * size:
                jump = j
                break
        if jump is None:
            raise ValueError("tracejit: the with statement's exit is too far from the code's end")
        # The jump may cover the instructions after the exit: none of them is part of the
        # statement (the copy never runs past an exit).
        end = off + len(jump)
        nxt = [s for s in starts if off < s < end]
        if any(s in inside or (s in exits and s != off) for s in nxt):
            raise ValueError("tracejit: the with statement's exit is followed by its own code")
        raw[2 * at:2 * at + len(jump)] = jump
        stubs += _call0(len(consts) - 1)
    new = bcode.replace(
        co_code=bytes(raw + stubs),
        co_consts=tuple(consts),
        co_stacksize=bcode.co_stacksize + 2,
        co_linetable=bcode.co_linetable + _no_location(len(stubs) // 2),
    )
    return types.FunctionType(new, func.__globals__, func.__name__), exits


# The instructions a graph break performs itself (jit/runtime.cpp resume_from), as expressions.
_BREAK_FORMS = {
    "call": "lambda f, a, k: f(*a, **k)",
    "subscr": "lambda c, k: c[k]",
    "method_call": "lambda v, n: getattr(v, n)()",
}


def make_break_op(func, line, kind):
    """A function performing a graph break's instruction (`kind`, a key of _BREAK_FORMS) in a
    frame at the user's file and line, with the function's globals and name: the warnings it
    emits (NumPy's RuntimeWarnings) name the user's line and module, and a traceback through it
    the user's line, as they do eagerly."""
    code = func.__code__
    expr = compile("\n" * max(line - 1, 0) + _BREAK_FORMS[kind], code.co_filename, "eval")
    op = eval(expr, func.__globals__).__code__
    op = op.replace(co_name=code.co_name, co_qualname=code.co_qualname)
    return types.FunctionType(op, func.__globals__, code.co_name)

