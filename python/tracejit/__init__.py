"""tracejit: a tracing JIT for eager NumPy code.

    import tracejit

    @tracejit.jit
    def f(a, b, c, d):
        return a * b + c * d - a

The first call of a new signature (argument types, dtypes and shapes) runs eagerly; the next
one traces the function's bytecode into a typed SSA graph, compiles it with LLVM into one fused
loop, and runs that from then on whenever the guards (the facts the trace relied on) hold.
Anything the tracer cannot capture runs eagerly, with the reason in ``f.stats()``.
"""
import atexit as _atexit
import functools as _functools
import logging as _logging
import os as _os

from . import _tracejit
from ._tracejit import GraphBreakError, JitFunction, TracejitWarning

__all__ = ["jit", "JitFunction", "TracejitWarning", "GraphBreakError", "explain",
           "wait_for_compiles", "mark_dynamic", "blas_library", "memory_info", "release_memory"]

from ._tracejit import blas_library, memory_info, release_memory, wait_for_compiles

# Let running background compiles finish before the interpreter tears down.
_atexit.register(wait_for_compiles)
__version__ = "0.1.0"

#: Calls of a signature that run eagerly before it is compiled. One eager call first keeps
#: one-off notebook calls from paying compile time; a second call compiles.
DEFAULT_HOT = 1
DEFAULT_HOT_LOOP = 100  # loop iterations in one call that make it hot on its own
DEFAULT_RECOMPILE_LIMIT = 8


if _os.environ.get("TRACEJIT_LOG"):
    # TRACEJIT_LOG=recompiles,guards,aborts,ir,stubs: the "tracejit" logger, on stderr unless the
    # application configured it.
    _logger = _logging.getLogger("tracejit")
    if not _logger.handlers:
        _h = _logging.StreamHandler()
        _h.setFormatter(_logging.Formatter("[tracejit] %(message)s"))
        _logger.addHandler(_h)
        _logger.setLevel(_logging.INFO)


def _sync_default():
    return _os.environ.get("TRACEJIT_SYNC", "") not in ("", "0")


# {id(array): (dims...)} for arrays marked with mark_dynamic (entries die with their arrays).
_dynamic_marks = {}


def mark_dynamic(array, dim):
    """Compile dimension ``dim`` (an int or a sequence of ints) of ``array`` as a runtime size
    the first time a jitted function sees this array, instead of waiting for a size change."""
    import weakref

    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    key = id(array)
    if key not in _dynamic_marks:
        weakref.finalize(array, _dynamic_marks.pop, key, None)
    _dynamic_marks[key] = tuple(sorted(set(_dynamic_marks.get(key, ()) + dims)))
    return array


def jit(fn=None, *, hot=None, hot_loop=DEFAULT_HOT_LOOP, recompile_limit=DEFAULT_RECOMPILE_LIMIT,
        sync=None, dynamic=None, fullgraph=False):
    """Compile ``fn`` with tracejit. Use as ``@jit``, ``@jit(...)`` or ``jit(fn, ...)``.

    hot: calls of a new signature that run eagerly before it is compiled (0: compile at once;
        default DEFAULT_HOT, or 0 with fullgraph=True).
    hot_loop: hotness per loop: a cold call of a function with a loop is traced (milliseconds,
        once per signature); if it runs at least this many loop iterations (nested loops
        multiplied) it is compiled right away instead of after ``hot`` calls. 0 turns it off.
    recompile_limit: compiled versions kept per function; past it new signatures run eagerly
        and one TracejitWarning says so.
    dynamic: None (default): the first compile is static; a dimension whose size changes
        between compiles is compiled as a runtime size from then on (sizes 0 and 1 stay
        specialized). True: every dimension dynamic from the start. False: always static.
    fullgraph: the whole function must compile to one graph: a graph break (a print or a dict
        update deferred around the compiled code), an abort or an eager fallback raises
        GraphBreakError listing every break with its reason and file:line instead of running.
        Without it, statements the graph cannot hold (print(...), d[k] = v, lst.append(x))
        run after the compiled code with the real values, in order (stats()['graph_breaks']).
        A call the tracer cannot hold whose result is used (np.partition(x, k), x.tolist(), a C
        extension, a method that mutates its object) or a branch on array data whose arms are
        not pure splits the function instead (TorchDynamo-style resume): the part before runs
        compiled, the statement runs eagerly with the real values, and the rest runs as a
        compiled continuation (cached per statement, behind its own guards; cache_info()
        entries with 'resume_at') or eagerly from that statement when it cannot be compiled
        (stats()['continuation_calls'] / ['continuation_fallbacks']). Inside a try block the
        statement and the rest of the function run eagerly (the user's handlers and `finally`
        in force). A `with` statement splits the function around the whole statement (it
        runs eagerly, __enter__ to __exit__; stats()['with_blocks']). Functions with cells or
        free variables split too (closures and the rest share the cell objects). Not in
        inlined callees (the call site splits instead) nor for `with` inside loops.
    sync: compile on the calling thread, which waits for LLVM. The default (None) compiles on a
        background thread while calls keep running eagerly, and switches to the compiled code
        as soon as it is ready; TRACEJIT_SYNC=1 makes every function synchronous.
    """
    if fn is None:
        return lambda f: jit(f, hot=hot, hot_loop=hot_loop, recompile_limit=recompile_limit, sync=sync,
                             dynamic=dynamic, fullgraph=fullgraph)
    if isinstance(fn, JitFunction):
        return fn
    if sync is None:
        sync = _sync_default()
    if hot is None:
        hot = 0 if fullgraph else DEFAULT_HOT
    wrapper = JitFunction(fn, hot=hot, hot_loop=hot_loop, recompile_limit=recompile_limit, sync=bool(sync),
                          dynamic=None if dynamic is None else bool(dynamic),
                          fullgraph=bool(fullgraph))
    _functools.update_wrapper(wrapper, fn)
    return wrapper


def explain(fn, *args, **kwargs):
    """Trace ``fn(*args, **kwargs)`` without running it: returns the optimized IR text (followed
    by one ``# graph break: file:line: ...`` line per deferred side effect, and one for the call
    or branch the trace ends at when the function is split there), or raises
    ``RuntimeError`` with the reason the tracer would fall back (file:line)."""
    import inspect

    f = getattr(fn, "__wrapped__", fn)
    bound = inspect.signature(f).bind(*args, **kwargs)
    bound.apply_defaults()
    ok, text = _tracejit._trace_ir(f, *bound.args)
    if not ok:
        raise RuntimeError(text)
    return text
