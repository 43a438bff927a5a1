/*
 * Builds one kernel table from the templates in this folder. Included by
 * each isa_*.c after it has defined
 *   RPO_SIMD_BYTES  vector width in bytes (the file's -m flags must allow it)
 *   RPO_MR          rows of the product's register tile (6 or 12)
 *   RPO_ISA_TABLE   the name of the function returning the table (kernels.h)
 *   RPO_ISA_NAME, RPO_ISA_ID
 * The templates are expanded twice, for float and for double.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../kernels.h"
#include "simd.h"
#include "vmath.h"

#define RPO_PASTE_(a, b) a##_##b
#define RPO_PASTE(a, b) RPO_PASTE_(a, b)
#define TNAME(name) RPO_PASTE(name, RPO_T)

/* ------------------------------------------------------------- float */
#define RPO_T f32
#define REAL float
#define REAL_MAX FLT_MAX
#define VREAL vf32
#define VLR VL32
#define VMASK vi32
#define FIRST_LANES first_lanes_32
#include "product.h"
#include "dots.h"
#include "weights_softmax.h"
#include "pairs.h"
#include "rows.h"
#include "mirror.h"
#include "linear.h"
#include "tokens.h"
#undef RPO_T
#undef REAL
#undef REAL_MAX
#undef VREAL
#undef VLR
#undef VMASK
#undef FIRST_LANES

/* ------------------------------------------------------------ double */
#define RPO_T f64
#define REAL double
#define REAL_MAX DBL_MAX
#define VREAL vf64
#define VLR VL64
#define VMASK vi64
#define FIRST_LANES first_lanes_64
#include "product.h"
#include "dots.h"
#include "weights_softmax.h"
#include "pairs.h"
#include "rows.h"
#include "mirror.h"
#include "linear.h"
#include "tokens.h"
#include "sinkhorn_lse.h"

/* Float rows into double (the table's widen_scale). */
static void widen_scale(const void *x_, size_t d, double inv, void *out_)
{
    const float *x = x_;
    double *out = out_;
    size_t k = 0;
    for (; k + VL64 <= d; k += VL64)
        store_f64(out + k, load_wide_f32(x + k) * inv);
    for (; k < d; k++)
        out[k] = (double)x[k] * inv;
}

static const rpo_kernels table = {
    RPO_ISA_NAME,
    RPO_ISA_ID,
    {RPO_MR, 2 * VL32, product_f32, dots_f32, softmax_f32, row_entropy_f32, pairs_f32, sumsq_f32, scale_f32, mirror_f32,
     product_acc_f32, chunk_lse_f32, chunk_grad_f32,
     token_scan_f32, token_lse_f32, token_grad_f32},
    {RPO_MR, 2 * VL64, product_f64, dots_f64, softmax_f64, row_entropy_f64, pairs_f64, sumsq_f64, scale_f64, mirror_f64,
     product_acc_f64, chunk_lse_f64, chunk_grad_f64,
     token_scan_f64, token_lse_f64, token_grad_f64},
    widen_scale,
    sinkhorn_lse_rows,
    sinkhorn_lse_columns,
};

const rpo_kernels *RPO_ISA_TABLE(void)
{
    return &table;
}
