// Loop iterator state read and written through the iterators' C structs (see iterstate.h).
//
// The structs are private to CPython (Objects/rangeobject.c, listobject.c, tupleobject.c in
// 3.11; Include/internal/pycore_range.h, pycore_list.h, pycore_tuple.h in 3.12 and 3.13):
// mirrored here per version and checked against the type's tp_basicsize once; anything else (a
// later CPython, a free-threaded build, a size that does not match) goes through
// __reduce__/__setstate__ as before, which give the same answers, slower.
#include "tracer/iterstate.h"

namespace tracejit::tracer {
namespace {

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000 && !defined(Py_GIL_DISABLED)
// 3.11: yields start + index * step while index < len.
struct RangeIterLayout {
  PyObject ob_base;
  long index;
  long start;
  long step;
  long len;
};
#define TRACEJIT_RANGEITER_INDEX 1
#elif PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030E0000 && !defined(Py_GIL_DISABLED)
// 3.12, 3.13: `start` is the next value; len items are left.
struct RangeIterLayout {
  PyObject ob_base;
  long start;
  long step;
  long len;
};
#define TRACEJIT_RANGEITER_INDEX 0
#endif

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000 && !defined(Py_GIL_DISABLED)
// listiterobject / tupleiterobject (3.11-3.13): it_seq is NULL once exhausted.
struct SeqIterLayout {
  PyObject ob_base;
  Py_ssize_t it_index;
  PyObject* it_seq;
};
#define TRACEJIT_SEQITER 1
#endif

bool range_layout_ok() {
#ifdef TRACEJIT_RANGEITER_INDEX
  static const bool ok = PyRangeIter_Type.tp_basicsize == static_cast<Py_ssize_t>(sizeof(RangeIterLayout));
  return ok;
#else
  return false;
#endif
}

bool seq_layout_ok() {
#ifdef TRACEJIT_SEQITER
  static const bool ok = PyListIter_Type.tp_basicsize == static_cast<Py_ssize_t>(sizeof(SeqIterLayout)) &&
                         PyTupleIter_Type.tp_basicsize == static_cast<Py_ssize_t>(sizeof(SeqIterLayout));
  return ok;
#else
  return false;
#endif
}

// From a range iterator's start of its items, step, items yielded and length: the state, or
// false where a value leaves int64.
bool range_state(int64_t start, int64_t step, int64_t index, int64_t len, int64_t& next, int64_t& st,
                 int64_t& remaining) {
  if (index < 0 || len < 0 || step == 0) return false;
  const int64_t done = index < len ? index : len;
  const int64_t left = len - done;
  const __int128 n = static_cast<__int128>(start) + static_cast<__int128>(done) * step;
  const __int128 end = n + static_cast<__int128>(left) * step;
  if (n < INT64_MIN || n > INT64_MAX || end < INT64_MIN || end > INT64_MAX) return false;
  next = static_cast<int64_t>(n);
  st = step;
  remaining = left;
  return true;
}

// The portable ways: __reduce__ / range(...) / __setstate__.
bool range_state_reduce(PyObject* it, int64_t& next, int64_t& step, int64_t& remaining) {
  // (iter, (range(start, stop, step),), index) on 3.11, (iter, (range,), None) on 3.12+ (whose
  // range starts at the next value).
  PyObject* r = PyObject_CallMethod(it, "__reduce__", nullptr);
  bool ok = false;
  if (r && PyTuple_Check(r) && PyTuple_GET_SIZE(r) >= 2 && PyTuple_Check(PyTuple_GET_ITEM(r, 1)) &&
      PyTuple_GET_SIZE(PyTuple_GET_ITEM(r, 1)) == 1 && PyRange_Check(PyTuple_GET_ITEM(PyTuple_GET_ITEM(r, 1), 0))) {
    PyObject* rng = PyTuple_GET_ITEM(PyTuple_GET_ITEM(r, 1), 0);
    PyObject* idx = PyTuple_GET_SIZE(r) >= 3 ? PyTuple_GET_ITEM(r, 2) : Py_None;
    PyObject* start = PyObject_GetAttrString(rng, "start");
    PyObject* st = PyObject_GetAttrString(rng, "step");
    const Py_ssize_t len = PyObject_Length(rng);
    int o1 = 0, o2 = 0, o3 = 0;
    long long a = start ? PyLong_AsLongLongAndOverflow(start, &o1) : 0;
    long long s = st ? PyLong_AsLongLongAndOverflow(st, &o2) : 0;
    long long k = PyLong_Check(idx) ? PyLong_AsLongLongAndOverflow(idx, &o3) : 0;
    if (start && st && len >= 0 && !o1 && !o2 && !o3 && !PyErr_Occurred())
      ok = range_state(a, s, k, len, next, step, remaining);
    Py_XDECREF(start);
    Py_XDECREF(st);
  }
  Py_XDECREF(r);
  if (PyErr_Occurred()) PyErr_Clear();
  return ok;
}

PyObject* seq_state_reduce(PyObject* it, Py_ssize_t& index) {
  // (iter, (seq,), index), or (iter, (empty,)) once exhausted.
  PyObject* r = PyObject_CallMethod(it, "__reduce__", nullptr);
  PyObject* out = nullptr;
  if (r && PyTuple_Check(r) && PyTuple_GET_SIZE(r) >= 2 && PyTuple_Check(PyTuple_GET_ITEM(r, 1)) &&
      PyTuple_GET_SIZE(PyTuple_GET_ITEM(r, 1)) == 1) {
    PyObject* seq = PyTuple_GET_ITEM(PyTuple_GET_ITEM(r, 1), 0);
    if (PyList_CheckExact(seq) || PyTuple_CheckExact(seq)) {
      if (PyTuple_GET_SIZE(r) >= 3 && PyLong_Check(PyTuple_GET_ITEM(r, 2))) {
        index = PyLong_AsSsize_t(PyTuple_GET_ITEM(r, 2));
        if (!(index == -1 && PyErr_Occurred())) out = Py_NewRef(seq);
      } else if (PyObject_Length(seq) == 0) {  // exhausted: its sequence is gone
        index = 0;
        out = Py_NewRef(seq);
      }
    }
  }
  Py_XDECREF(r);
  if (PyErr_Occurred()) PyErr_Clear();
  return out;
}

}  // namespace

bool range_iterator_state(PyObject* it, int64_t& next, int64_t& step, int64_t& remaining) {
  if (!it || Py_TYPE(it) != &PyRangeIter_Type) return false;
#ifdef TRACEJIT_RANGEITER_INDEX
  if (range_layout_ok()) {
    const auto* r = reinterpret_cast<const RangeIterLayout*>(it);
#if TRACEJIT_RANGEITER_INDEX
    return range_state(r->start, r->step, r->index, r->len, next, step, remaining);
#else
    return range_state(r->start, r->step, 0, r->len, next, step, remaining);
#endif
  }
#endif
  return range_state_reduce(it, next, step, remaining);
}

PyObject* new_range_iterator(int64_t next, int64_t step, int64_t left) {
#ifdef TRACEJIT_RANGEITER_INDEX
  if (range_layout_ok() && left >= 0 && step != 0) {
    RangeIterLayout* r = PyObject_New(RangeIterLayout, &PyRangeIter_Type);
    if (!r) return nullptr;
#if TRACEJIT_RANGEITER_INDEX
    r->index = 0;
#endif
    r->start = next;
    r->step = step;
    r->len = left;
    return reinterpret_cast<PyObject*>(r);
  }
#endif
  PyObject* rng = PyObject_CallFunction(reinterpret_cast<PyObject*>(&PyRange_Type), "LLL", static_cast<long long>(next),
                                        static_cast<long long>(next + left * step), static_cast<long long>(step));
  if (!rng) return nullptr;
  PyObject* out = PyObject_GetIter(rng);
  Py_DECREF(rng);
  return out;
}

PyObject* seq_iterator_state(PyObject* it, Py_ssize_t& index) {
  if (!it || (Py_TYPE(it) != &PyListIter_Type && Py_TYPE(it) != &PyTupleIter_Type)) return nullptr;
#ifdef TRACEJIT_SEQITER
  if (seq_layout_ok()) {
    const auto* s = reinterpret_cast<const SeqIterLayout*>(it);
    if (!s->it_seq) {  // exhausted: as __reduce__, an empty sequence of its kind
      index = 0;
      PyObject* out = Py_TYPE(it) == &PyListIter_Type ? PyList_New(0) : PyTuple_New(0);
      if (!out) PyErr_Clear();
      return out;
    }
    if (!PyList_CheckExact(s->it_seq) && !PyTuple_CheckExact(s->it_seq)) return nullptr;
    index = s->it_index;
    return Py_NewRef(s->it_seq);
  }
#endif
  return seq_state_reduce(it, index);
}

PyObject* seq_iterator_at(PyObject* seq, Py_ssize_t index) {
  PyObject* it = PyObject_GetIter(seq);
  if (!it || index <= 0) return it;
#ifdef TRACEJIT_SEQITER
  if (seq_layout_ok() && (Py_TYPE(it) == &PyListIter_Type || Py_TYPE(it) == &PyTupleIter_Type)) {
    auto* s = reinterpret_cast<SeqIterLayout*>(it);
    if (s->it_seq) {  // as listiter/tupleiter __setstate__: clamped to the length
      const Py_ssize_t n =
          Py_TYPE(it) == &PyListIter_Type ? PyList_GET_SIZE(s->it_seq) : PyTuple_GET_SIZE(s->it_seq);
      s->it_index = index > n ? n : index;
    }
    return it;
  }
#endif
  PyObject* r = PyObject_CallMethod(it, "__setstate__", "n", index);
  if (!r) {
    Py_DECREF(it);
    return nullptr;
  }
  Py_DECREF(r);
  return it;
}

}  // namespace tracejit::tracer
