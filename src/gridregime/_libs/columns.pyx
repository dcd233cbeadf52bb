# cython: cdivision=True
"""Decoded JSON arrays (Python lists) to typed columns, checking every element's exact type.

The snapshot reader's hot path: a 1h file holds six columns of up to 1000 values. numpy's
``np.array(values, dtype=...)`` would silently accept ``true`` (as 1) and truncate ``1.5`` to 1, so
the reader must check types first, and a Python-level type scan costs more than the conversion.
Here the scan and the conversion are one C loop.

Each function returns ``(array, bad)``: ``bad`` is the index of the first element of the wrong type
(or, for floats, not finite), ``-1`` when every element is good. The caller words the error; on
``bad >= 0`` the array's content is unspecified.
"""
import numpy as np

cimport numpy as cnp
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsDouble, PyLong_AsLongLong
from cpython.ref cimport PyObject
from libc.math cimport isfinite

cnp.import_array()

ctypedef cnp.int64_t i8
ctypedef cnp.float64_t f8

cdef extern from "Python.h":
    # Exact-type checks: bool is a subclass of int and must not pass as an integer.
    bint PyLong_CheckExact(PyObject*)
    bint PyFloat_CheckExact(PyObject*)


def int64_column(list values):
    """Exact Python ``int`` elements to int64. Raises OverflowError past the 64-bit range."""
    cdef Py_ssize_t n = PyList_GET_SIZE(values), i
    out = np.empty(n, dtype=np.int64)
    cdef i8[::1] o = out
    cdef PyObject* v
    for i in range(n):
        v = PyList_GET_ITEM(values, i)
        if not PyLong_CheckExact(v):
            return out, i
        o[i] = PyLong_AsLongLong(<object>v)  # raises OverflowError itself
    return out, -1


def float64_column(list values):
    """Exact ``int`` or ``float`` elements to float64; non-finite values count as bad."""
    cdef Py_ssize_t n = PyList_GET_SIZE(values), i
    out = np.empty(n, dtype=np.float64)
    cdef f8[::1] o = out
    cdef PyObject* v
    cdef f8 x
    for i in range(n):
        v = PyList_GET_ITEM(values, i)
        if PyFloat_CheckExact(v):
            x = PyFloat_AS_DOUBLE(<object>v)
        elif PyLong_CheckExact(v):
            x = PyLong_AsDouble(<object>v)  # raises OverflowError past the float range
        else:
            return out, i
        if not isfinite(x):
            return out, i
        o[i] = x
    return out, -1
