// The state of the loop iterators a graph break inside a for loop carries across (range, list
// and tuple iterators): read from and written to their C structs directly, not through
// __reduce__/__setstate__ (Python calls building tuples, several per loop iteration).
#pragma once

#include "tracer/npy.h"

#include <cstdint>

namespace tracejit::tracer {

// The state of a range iterator (the next value it yields, its step, how many items are left):
// false (no error set) for anything else or a value outside int64.
bool range_iterator_state(PyObject* it, int64_t& next, int64_t& step, int64_t& remaining);

// A new range iterator yielding `left` items next, next + step, ... (exactly
// iter(range(next, next + left * step, step))): a new reference, or nullptr with an exception
// set. The caller checked that next + left * step fits in int64.
PyObject* new_range_iterator(int64_t next, int64_t step, int64_t left);

// The list or tuple a list/tuple iterator goes over and the index of its next item: a new
// reference, or nullptr (no error set) for anything else. An exhausted iterator gives an empty
// sequence (as its __reduce__ does).
PyObject* seq_iterator_state(PyObject* it, Py_ssize_t& index);

// iter(seq) moved to index `index` (as it.__setstate__(index)): a new reference, or nullptr
// with an exception set.
PyObject* seq_iterator_at(PyObject* seq, Py_ssize_t index);

}  // namespace tracejit::tracer
