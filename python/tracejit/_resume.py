"""Eager remainders of a function after a graph break (the runtime's fallback when no compiled
continuation can run): a copy of the function's code that enters at a given instruction with
its frame state passed as arguments.

The new code object is the original one with a prologue: every local slot becomes a positional
parameter (unbound ones are deleted again), the value stack is pushed from extra parameters,
and a forward jump goes to the resume offset. Jumps in 3.11+ are relative, so the original
bytecode is kept as it is; the exception table is shifted by the prologue's length and the
location table gets "no location" entries for the prologue, so tracebacks name the user's
lines. Only code without cells or free variables is handled (the tracer never breaks in other
code). A break inside a try block enters the copy at the break instruction itself, with its
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
    if code.co_cellvars or code.co_freevars:
        raise ValueError("tracejit: no eager remainder for code with cells or free variables")
    nlocals = code.co_nlocals
    stack_names = tuple(f"<stack {k}>" for k in range(nstack))
    varnames = code.co_varnames + stack_names

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
        co_flags=code.co_flags & ~(_CO_VARARGS | _CO_VARKEYWORDS),
        co_stacksize=code.co_stacksize + nstack,
        co_exceptiontable=_shift_exception_table(code.co_exceptiontable, units),
        co_linetable=_no_location(units) + code.co_linetable,
    )
    new = code.replace(**kwargs)
    return types.FunctionType(new, func.__globals__, func.__name__)
