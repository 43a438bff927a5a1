/* rpo._native: the per-step part of rpo.torch.RPOLoss in C.
 *
 * At the paper's batch sizes (M = N = 8) one rpo_loss_f32 call takes about
 * a microsecond, and what a PyTorch user pays is the Python around it:
 * checking six tensors, allocating the loss and two gradients, and the
 * ctypes call (about 1.3 us for its 13 arguments alone). This module does
 * those in C, calling librpo through the function addresses the ctypes
 * layer already resolved (_loss_call.h, shared with rpo._autograd), so
 * the library loaded is always the one rpo.load_library found (this
 * module does not link librpo). Everything else (the general path, errors
 * with their detail, autograd) stays in Python, which falls back to its
 * own copy of this path when the module was not built
 * (bench/bench_python.py measures both).
 *
 * loss(entry, pc, pr, rc, rr, ce, re, grad) -> (loss, grad_chosen,
 * grad_rejected) | None | status
 *   entry  (context, lock, rpo_loss_f32 address, rpo_loss_f64 address,
 *           torch.float32, torch.float64, torch.empty, ...): rpo.torch
 *           builds it (RPOLoss._resolve_entry); items after these are its own
 *   pc, pr (M), (N); rc, rr None or like them; ce (M, D) or None; re (N, D)
 *          or None: the arguments of rpo_loss_*, as torch tensors
 *   grad   false: loss only (the gradients are None)
 * None when an input is not what librpo reads in place (a contiguous CPU
 * tensor of one floating type, shapes agreeing; the caller converts it),
 * a nonzero status when librpo failed (the caller raises it with
 * rpo_ctx_error_detail), else the loss (0-dim) and the gradients.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>

#include "_loss_call.h"

static PyObject *s_dtype, *s_is_cpu, *s_shape, *s_is_contiguous,
    *s_data_ptr, *k_dtype;
static loss_call_names names;

/* t.data_ptr(); 0 with an exception set when reading it failed. */
static uintptr_t address_of(PyObject *t)
{
    PyObject *v = PyObject_CallMethodNoArgs(t, s_data_ptr);
    if (v == NULL)
        return 0;
    uintptr_t a = (uintptr_t)PyLong_AsVoidPtr(v);
    Py_DECREF(v);
    return a;
}

/* 1 when t.name (called, for a method) is the object want, 0 when it is
 * not, -1 with an exception set when reading it failed. */
static int attribute_is(PyObject *t, PyObject *name, int call, PyObject *want)
{
    PyObject *v = call ? PyObject_CallMethodNoArgs(t, name) : PyObject_GetAttr(t, name);
    if (v == NULL)
        return -1;
    const int same = v == want;
    Py_DECREF(v);
    return same;
}

/* The shape of tensor t when it is a contiguous CPU tensor of dtype with
 * `ndim` dimensions: sizes[0..ndim-1] and its address; 0 when it is not,
 * -1 with an exception set when reading it failed. */
static int readable(PyObject *t, PyObject *dtype, int ndim,
                    Py_ssize_t *sizes, uintptr_t *address)
{
    int ok = attribute_is(t, s_dtype, 0, dtype);
    if (ok == 1)
        ok = attribute_is(t, s_is_cpu, 0, Py_True);
    if (ok != 1)
        return ok;
    PyObject *v = PyObject_GetAttr(t, s_shape);      /* torch.Size, a tuple */
    if (v == NULL)
        return -1;
    ok = PyTuple_Check(v) && PyTuple_GET_SIZE(v) == ndim;
    for (int k = 0; ok && k < ndim; k++) {
        sizes[k] = PyLong_AsSsize_t(PyTuple_GET_ITEM(v, k));
        ok = sizes[k] >= 0;
    }
    Py_DECREF(v);
    if (!ok)
        return PyErr_Occurred() ? -1 : 0;
    ok = attribute_is(t, s_is_contiguous, 1, Py_True);
    if (ok != 1)
        return ok;
    *address = address_of(t);
    return PyErr_Occurred() ? -1 : 1;
}

/* A new uninitialised CPU tensor: torch.empty(shape, dtype=dtype). */
static PyObject *empty(PyObject *torch_empty, PyObject *shape, PyObject *dtype)
{
    PyObject *args[2] = {shape, dtype};
    return PyObject_Vectorcall(torch_empty, args, 1, k_dtype);
}

/* The three outputs, or NULL with an exception set. */
static int outputs(PyObject *torch_empty, PyObject *dtype, Py_ssize_t m,
                   Py_ssize_t n, int grad, PyObject **out)
{
    PyObject *scalar = PyTuple_New(0), *sm = NULL, *sn = NULL;
    out[0] = out[1] = out[2] = NULL;
    if (scalar == NULL)
        return -1;
    out[0] = empty(torch_empty, scalar, dtype);
    Py_DECREF(scalar);
    if (out[0] == NULL)
        return -1;
    if (!grad)
        return 0;
    sm = Py_BuildValue("(n)", m);
    sn = Py_BuildValue("(n)", n);
    if (sm != NULL && sn != NULL) {
        out[1] = empty(torch_empty, sm, dtype);
        if (out[1] != NULL)
            out[2] = empty(torch_empty, sn, dtype);
    }
    Py_XDECREF(sm);
    Py_XDECREF(sn);
    return out[2] != NULL ? 0 : -1;
}

static PyObject *native_loss(PyObject *self, PyObject *const *args,
                             Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 8 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) < 7) {
        PyErr_SetString(PyExc_TypeError,
                        "loss(entry, pc, pr, rc, rr, ce, re, grad)");
        return NULL;
    }
    PyObject *entry = args[0];
    PyObject *torch_empty = PyTuple_GET_ITEM(entry, 6);
    PyObject *pc = args[1], *pr = args[2], *rc = args[3], *rr = args[4];
    PyObject *ce = args[5], *re = args[6];
    int grad = PyObject_IsTrue(args[7]);
    if (grad < 0)
        return NULL;

    /* policy_chosen's dtype decides; every other input must match it */
    PyObject *dtype = PyObject_GetAttr(pc, s_dtype);
    if (dtype == NULL) {
        PyErr_Clear();              /* not a tensor: the general path */
        Py_RETURN_NONE;
    }
    Py_DECREF(dtype);               /* still referenced by the entry */
    int f64;
    if (dtype == PyTuple_GET_ITEM(entry, 4))
        f64 = 0;
    else if (dtype == PyTuple_GET_ITEM(entry, 5))
        f64 = 1;
    else
        Py_RETURN_NONE;

    Py_ssize_t m, n, size[2], d = 0;
    uintptr_t a_pc, a_pr, a_rc = 0, a_rr = 0, a_ce = 0, a_re = 0;
    int ok = readable(pc, dtype, 1, &m, &a_pc);
    if (ok == 1)
        ok = readable(pr, dtype, 1, &n, &a_pr);
    if (ok == 1 && rc != Py_None) {
        ok = readable(rc, dtype, 1, size, &a_rc);
        ok = ok == 1 && size[0] != m ? 0 : ok;
    }
    if (ok == 1 && rr != Py_None) {
        ok = readable(rr, dtype, 1, size, &a_rr);
        ok = ok == 1 && size[0] != n ? 0 : ok;
    }
    if (ok == 1 && ce != Py_None) {
        ok = readable(ce, dtype, 2, size, &a_ce);
        ok = ok == 1 && size[0] != m ? 0 : ok;
        d = size[1];
    }
    if (ok == 1 && re != Py_None) {
        ok = ce == Py_None ? 0 : readable(re, dtype, 2, size, &a_re);
        ok = ok == 1 && (size[0] != n || size[1] != d) ? 0 : ok;
    }
    if (ok < 0)
        return NULL;
    if (ok == 0)
        Py_RETURN_NONE;

    PyObject *out[3];
    if (outputs(torch_empty, dtype, m, n, grad, out) < 0)
        goto fail;
    uintptr_t a_loss = address_of(out[0]);
    uintptr_t a_gc = grad ? address_of(out[1]) : 0;
    uintptr_t a_gr = grad ? address_of(out[2]) : 0;
    if (PyErr_Occurred())
        goto fail;

    void *const a[9] = {(void *)a_pc, (void *)a_rc, (void *)a_pr, (void *)a_rr,
                        (void *)a_ce, (void *)a_re, (void *)a_loss, (void *)a_gc,
                        (void *)a_gr};
    int status = 0;
    if (!loss_call_locked(&names, entry, f64, a, (size_t)m, (size_t)n, (size_t)d,
                          &status))
        goto fail;
    if (status != 0) {
        Py_XDECREF(out[0]);
        Py_XDECREF(out[1]);
        Py_XDECREF(out[2]);
        return PyLong_FromLong(status);
    }
    if (!grad) {
        out[1] = Py_None;
        out[2] = Py_None;
        Py_INCREF(Py_None);
        Py_INCREF(Py_None);
    }
    PyObject *r = PyTuple_New(3);
    if (r == NULL)
        goto fail;
    for (int k = 0; k < 3; k++)
        PyTuple_SET_ITEM(r, k, out[k]);   /* steals */
    return r;

fail:
    Py_XDECREF(out[0]);
    Py_XDECREF(out[1]);
    Py_XDECREF(out[2]);
    return NULL;
}

static PyMethodDef methods[] = {
    {"loss", (PyCFunction)(void (*)(void))native_loss, METH_FASTCALL,
     "loss(entry, pc, pr, rc, rr, ce, re, grad): see the module's comment"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rpo._native",
    "The per-step part of rpo.torch.RPOLoss in C (see _native.c).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void);

PyMODINIT_FUNC PyInit__native(void)
{
    s_dtype = PyUnicode_InternFromString("dtype");
    s_is_cpu = PyUnicode_InternFromString("is_cpu");
    s_shape = PyUnicode_InternFromString("shape");
    s_is_contiguous = PyUnicode_InternFromString("is_contiguous");
    s_data_ptr = PyUnicode_InternFromString("data_ptr");
    k_dtype = Py_BuildValue("(s)", "dtype");
    if (!s_dtype || !s_is_cpu || !s_shape || !s_is_contiguous || !s_data_ptr
        || !k_dtype || !loss_call_names_init(&names))
        return NULL;
    PyObject *mod = PyModule_Create(&module);
    /* rpo/_library.py loads this module only when INTERFACE is the one it
     * was written for: a stale build is ignored, not misused */
    if (mod != NULL && PyModule_AddIntConstant(mod, "INTERFACE", 1) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
