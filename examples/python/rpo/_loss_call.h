/* The librpo call that rpo._native (_native.c, C) and rpo._autograd
 * (_autograd.cpp, C++) share: rpo_loss_f32 or rpo_loss_f64 under the
 * rpo.Context's lock (the Context serialises its calls), with the handle
 * read under it (a closed Context has none), through the function address
 * the ctypes layer resolved, so that neither module links librpo and the
 * library called is always the one rpo.load_library found. Each module
 * includes this once; C and C++ alike. */
#ifndef RPO_LOSS_CALL_H
#define RPO_LOSS_CALL_H

#include <Python.h>
#include <stddef.h>
#include <stdint.h>

typedef int (*rpo_loss_f32_fn)(void *, size_t, const float *, const float *,
                               size_t, const float *, const float *, size_t,
                               const float *, const float *, float *, float *,
                               float *);
typedef int (*rpo_loss_f64_fn)(void *, size_t, const double *, const double *,
                               size_t, const double *, const double *, size_t,
                               const double *, const double *, double *,
                               double *, double *);

/* The attribute names the call reads, interned once by the module. */
typedef struct loss_call_names {
    PyObject *ptr, *value, *acquire, *release;
} loss_call_names;

/* 1, or 0 with an exception set. */
static int loss_call_names_init(loss_call_names *k)
{
    k->ptr = PyUnicode_InternFromString("_ptr");
    k->value = PyUnicode_InternFromString("value");
    k->acquire = PyUnicode_InternFromString("acquire");
    k->release = PyUnicode_InternFromString("release");
    return k->ptr != NULL && k->value != NULL && k->acquire != NULL && k->release != NULL;
}

/* entry: (context, its lock, rpo_loss_f32 address, rpo_loss_f64 address,
 * ...), as rpo.torch builds it; a: the addresses of pc, rc, pr, rr, ce, re,
 * loss, grad_chosen, grad_rejected in the order of rpo_loss_* (NULL where
 * absent). Returns 1 with librpo's status in *status, or 0 with an
 * exception set (a closed Context, an entry without the address, a lock
 * that failed); the lock is released whatever happened after it was
 * taken. */
static int loss_call_locked(const loss_call_names *k, PyObject *entry, int f64,
                            void *const a[9], size_t m, size_t n, size_t d,
                            int *status)
{
    PyObject *ctx = PyTuple_GET_ITEM(entry, 0), *lock = PyTuple_GET_ITEM(entry, 1);
    PyObject *r = PyObject_CallMethodNoArgs(lock, k->acquire);
    if (r == NULL)
        return 0;
    Py_DECREF(r);
    void *handle = NULL;
    PyObject *ptr = PyObject_GetAttr(ctx, k->ptr);
    if (ptr != NULL && ptr != Py_None) {
        PyObject *value = PyObject_GetAttr(ptr, k->value);
        if (value != NULL) {
            handle = PyLong_AsVoidPtr(value);
            Py_DECREF(value);
        }
    }
    if (ptr != NULL && ptr != Py_None && !PyErr_Occurred()) {
        /* an address from ctypes: integer to function pointer, as dlsym's
         * callers do */
        uintptr_t fn = (uintptr_t)PyLong_AsUnsignedLongLong(
            PyTuple_GET_ITEM(entry, 2 + f64));
        if (fn == 0 && !PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "entry holds no rpo_loss address");
        if (PyErr_Occurred())
            ;                                     /* raised after the unlock */
        else if (f64)
            *status = ((rpo_loss_f64_fn)fn)(
                handle, m, (const double *)a[0], (const double *)a[1], n,
                (const double *)a[2], (const double *)a[3], d,
                (const double *)a[4], (const double *)a[5], (double *)a[6],
                (double *)a[7], (double *)a[8]);
        else
            *status = ((rpo_loss_f32_fn)fn)(
                handle, m, (const float *)a[0], (const float *)a[1], n,
                (const float *)a[2], (const float *)a[3], d,
                (const float *)a[4], (const float *)a[5], (float *)a[6],
                (float *)a[7], (float *)a[8]);
    } else if (ptr == Py_None) {
        PyErr_SetString(PyExc_ValueError, "the Context is closed");
    }
    Py_XDECREF(ptr);
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);   /* release even then */
    r = PyObject_CallMethodNoArgs(lock, k->release);
    if (r == NULL) {
        Py_XDECREF(exc_type);
        Py_XDECREF(exc_value);
        Py_XDECREF(exc_tb);
        return 0;
    }
    Py_DECREF(r);
    PyErr_Restore(exc_type, exc_value, exc_tb);
    return !PyErr_Occurred();
}

#endif /* RPO_LOSS_CALL_H */
