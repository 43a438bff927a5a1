/* rpo._autograd: RPOLoss's common training step as a C++ autograd node.
 *
 * At the paper's batch sizes (M = N = 8) the rpo_loss_f32 call takes a few
 * microseconds and a PyTorch user pays mostly for what surrounds it. Of
 * that, the largest part is the fixed cost of a Python
 * torch.autograd.Function: its apply, and a backward that the autograd
 * engine calls back into Python for. This module builds the graph node in
 * C++ instead (what PyTorch's own operators do): it checks the tensors
 * through the C++ API, allocates the outputs with at::empty, calls librpo
 * through the function addresses the ctypes layer resolved (_loss_call.h,
 * shared with rpo._native: the library used is always the one
 * rpo.load_library found; this module links torch, not librpo), and
 * attaches a node whose backward scales librpo's gradients by the
 * incoming one, without Python.
 *
 * It is optional: it needs libtorch's C++ headers at build time, and where
 * it was not built rpo.torch takes rpo._native (C) or its own Python, with
 * the same values (tests/test_torch.py compares the three).
 *
 * loss(entry, pc, pr, rc, rr, ce, re) -> loss | None | status
 *   entry  as for rpo._native.loss (rpo/_native.c): (context, its lock,
 *          rpo_loss_f32 address, rpo_loss_f64 address, ...)
 *   pc, pr (M), (N); rc, rr None or like them; ce (M, D) or None; re
 *          (N, D) or None: the arguments of rpo_loss_*, as torch tensors,
 *          at least one log-prob requiring grad
 * None when an input is not what librpo reads in place (a contiguous CPU
 * tensor of one floating type, shapes agreeing: the caller converts it,
 * through its Python autograd.Function), a nonzero status when librpo
 * failed (the caller raises it with rpo_ctx_error_detail), else the loss,
 * a 0-dim tensor whose grad_fn is RPOLossBackward: dL/dpc and dL/dpr are
 * librpo's, dL/drc = -dL/dpc and dL/drr = -dL/dpr, each times the incoming
 * gradient; embeddings are constants. Once-differentiable, as the Python
 * path: under create_graph=True the gradients are computed without a
 * graph, and differentiating them again raises.
 */
#include <Python.h>

#include <ATen/ATen.h>
#include <torch/csrc/Exceptions.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/basic_ops.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/version.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>

#include "_loss_call.h"

namespace {

using torch::autograd::Node;
using torch::autograd::variable_list;

loss_call_names names;

/* Whether g is the scalar 1 (what loss.backward() passes), on the CPU. */
bool is_one(const at::Tensor &g)
{
    if (!g.defined() || g.dim() != 0 || !g.is_cpu() || g.is_neg() || g.is_conj())
        return false;
    if (g.scalar_type() == at::kFloat)
        return *g.data_ptr<float>() == 1.0f;
    if (g.scalar_type() == at::kDouble)
        return *g.data_ptr<double>() == 1.0;
    return false;
}

/* The backward of one loss call: holds librpo's dL/dpc and dL/dpr; the
 * inputs' edges are the node's next edges, in the order pc, pr, rc, rr. */
struct RPOLossBackward : public Node {
    at::Tensor gc, gr;
    bool releasing = false;

    RPOLossBackward(at::Tensor c, at::Tensor r) : gc(std::move(c)), gr(std::move(r)) {}

    std::string name() const override { return "RPOLossBackward"; }

    /* the engine says so before the backward after which it frees the
     * graph (no retain_graph) */
    void will_release_variables() override { releasing = true; }
    void release_variables() override
    {
        gc.reset();
        gr.reset();
    }

    variable_list apply(variable_list &&grads) override
    {
        if (!gc.defined())
            throw std::runtime_error(
                "Trying to backward through the RPOLoss graph a second time: "
                "its gradients were freed by the first backward. Specify "
                "retain_graph=True the first time, as for PyTorch's own "
                "operators.");
        const at::Tensor &g = grads[0];
        if (!g.defined())       /* a zero incoming gradient, unmaterialised */
            return variable_list(4);
        const bool want[4] = {task_should_compute_output(0),
                              task_should_compute_output(1),
                              task_should_compute_output(2),
                              task_should_compute_output(3)};
        variable_list out(4);
        const bool graph = at::GradMode::is_enabled();
        if (releasing && !graph && !want[2] && !want[3] && is_one(g)) {
            /* loss.backward(): librpo's tensors become .grad themselves
             * (autograd keeps, without a copy, a tensor no one else holds);
             * the graph is freed after this call anyway */
            if (want[0])
                out[0] = std::move(gc);
            if (want[1])
                out[1] = std::move(gr);
            return out;
        }
        {
            /* once-differentiable: no graph through librpo's constants */
            at::NoGradGuard no_grad;
            at::Tensor c, r;
            if (want[0] || want[2])
                c = gc * g;     /* new tensors: a retained graph's second
                                 * backward gives the same bits again */
            if (want[1] || want[3])
                r = gr * g;
            if (want[2])
                out[2] = -c;
            if (want[3])
                out[3] = -r;
            if (want[0])
                out[0] = std::move(c);
            if (want[1])
                out[1] = std::move(r);
        }
        if (graph && g.requires_grad()) {
            /* create_graph=True with an incoming gradient that needs one:
             * the results get a node that raises when differentiated, as
             * torch.autograd.function.once_differentiable does */
            variable_list fake;
            for (auto &t : out)
                fake.push_back(t.defined() ? t.detach().requires_grad_(true) : t);
            torch::autograd::DelayedError err(
                "trying to differentiate twice a function that was marked "
                "with @once_differentiable (RPOLoss)",
                static_cast<int>(fake.size()));
            return err.apply(std::move(fake));
        }
        return out;
    }
};

/* The tensor behind obj when it is a contiguous CPU tensor of `type` with
 * `ndim` dimensions (no lazy negation or conjugation), else nullptr. */
const at::Tensor *readable(PyObject *obj, at::ScalarType type, int64_t ndim)
{
    if (!THPVariable_Check(obj))
        return nullptr;
    const at::Tensor &t = THPVariable_Unpack(obj);
    if (t.scalar_type() != type || t.layout() != at::kStrided || !t.is_cpu()
        || t.dim() != ndim || !t.is_contiguous() || t.is_neg() || t.is_conj())
        return nullptr;
    return &t;
}

const void *address(const at::Tensor *t) { return t ? t->data_ptr() : nullptr; }

PyObject *autograd_loss(PyObject *, PyObject *const *args, Py_ssize_t nargs)
{
    HANDLE_TH_ERRORS
    if (nargs != 7 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) < 4) {
        PyErr_SetString(PyExc_TypeError, "loss(entry, pc, pr, rc, rr, ce, re)");
        return nullptr;
    }
    PyObject *entry = args[0];
    if (!THPVariable_Check(args[1]))
        Py_RETURN_NONE;
    /* policy_chosen's dtype decides; every other input must match it */
    const at::ScalarType type = THPVariable_Unpack(args[1]).scalar_type();
    if (type != at::kFloat && type != at::kDouble)
        Py_RETURN_NONE;
    const at::Tensor *pc = readable(args[1], type, 1);
    const at::Tensor *pr = readable(args[2], type, 1);
    if (pc == nullptr || pr == nullptr)
        Py_RETURN_NONE;
    const int64_t m = pc->size(0), n = pr->size(0);
    const at::Tensor *rc = nullptr, *rr = nullptr, *ce = nullptr, *re = nullptr;
    if (args[3] != Py_None
        && ((rc = readable(args[3], type, 1)) == nullptr || rc->size(0) != m))
        Py_RETURN_NONE;
    if (args[4] != Py_None
        && ((rr = readable(args[4], type, 1)) == nullptr || rr->size(0) != n))
        Py_RETURN_NONE;
    int64_t d = 0;
    if (args[5] != Py_None) {
        if ((ce = readable(args[5], type, 2)) == nullptr || ce->size(0) != m)
            Py_RETURN_NONE;
        d = ce->size(1);
    }
    if (args[6] != Py_None
        && (ce == nullptr || (re = readable(args[6], type, 2)) == nullptr
            || re->size(0) != n || re->size(1) != d))
        Py_RETURN_NONE;

    const auto options = at::TensorOptions().dtype(type);
    at::Tensor loss = at::empty({}, options);
    at::Tensor gc = at::empty({m}, options), gr = at::empty({n}, options);
    void *const a[9] = {const_cast<void *>(pc->data_ptr()),
                        const_cast<void *>(address(rc)),
                        const_cast<void *>(pr->data_ptr()),
                        const_cast<void *>(address(rr)),
                        const_cast<void *>(address(ce)),
                        const_cast<void *>(address(re)),
                        loss.data_ptr(), gc.data_ptr(), gr.data_ptr()};
    int status = 0;
    if (!loss_call_locked(&names, entry, type == at::kDouble, a, (size_t)m,
                          (size_t)n, (size_t)d, &status))
        return nullptr;
    if (status != 0)
        return PyLong_FromLong(status);

    auto node = std::make_shared<RPOLossBackward>(std::move(gc), std::move(gr));
    const at::Tensor none;
    node->set_next_edges(torch::autograd::collect_next_edges(
        *pc, *pr, rc ? *rc : none, rr ? *rr : none));
    torch::autograd::create_gradient_edge(loss, std::move(node));
    return THPVariable_Wrap(std::move(loss));
    END_HANDLE_TH_ERRORS
}

PyMethodDef methods[] = {
    {"loss", (PyCFunction)(void (*)(void))autograd_loss, METH_FASTCALL,
     "loss(entry, pc, pr, rc, rr, ce, re): see the module's comment"},
    {nullptr, nullptr, 0, nullptr},
};

struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rpo._autograd",
    "RPOLoss's training step as a C++ autograd node (see _autograd.cpp).", -1,
    methods, nullptr, nullptr, nullptr, nullptr,
};

} // namespace

PyMODINIT_FUNC PyInit__autograd(void)
{
    if (!loss_call_names_init(&names))
        return nullptr;
    PyObject *mod = PyModule_Create(&module);
    /* rpo/_library.py loads this module only when INTERFACE is the one it
     * was written for, and with the torch it was built against */
    if (mod != nullptr
        && (PyModule_AddIntConstant(mod, "INTERFACE", 1) < 0
            || PyModule_AddStringConstant(mod, "TORCH_VERSION", TORCH_VERSION) < 0)) {
        Py_DECREF(mod);
        return nullptr;
    }
    return mod;
}
