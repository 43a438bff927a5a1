/* The similarity stage through the native kernels or CBLAS. */
#include <stdint.h>

#include "pack.h"
#include "similarity.h"

#ifdef RPO_USE_CBLAS
#include <limits.h>

#include <cblas.h>
#endif

/* Below this many rows or columns, packing into tiles (and padding to
 * them) costs more than the dot products it speeds up. */
#define DOTS_MAX_SIDE 160

rpo_sim_backend rpo_similarity_backend(size_t m, size_t n, size_t d)
{
#ifdef RPO_USE_CBLAS
    /* CBLAS counts in int; larger problems stay native */
    if (m <= (size_t)INT_MAX && n <= (size_t)INT_MAX && d <= (size_t)INT_MAX &&
        (double)m * (double)n * (double)d >= (double)RPO_BLAS_MIN_WORK)
        return RPO_SIM_BLAS;
#endif
    (void)d;
    return m <= DOTS_MAX_SIDE || n <= DOTS_MAX_SIDE ? RPO_SIM_DOTS : RPO_SIM_TILES;
}

#ifdef RPO_USE_CBLAS
/* CBLAS counts in int: rpo_similarity_backend chose it only when every
 * size fits, so these conversions are exact. */
static void blas_rows(const rpo_similarity *sim, size_t i0, size_t rows,
                      void *s, size_t lds, int upper)
{
    const int n = (int)sim->n, d = (int)sim->d, r = (int)rows, ld = (int)lds;
    if (sim->type == RPO_F32) {
        const float *e = (const float *)sim->e_rows + i0 * sim->d;
        if (upper)
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, r, d, 1.0f,
                        e, d, 0.0f, s, ld);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, n, d, 1.0f,
                        e, d, sim->f_rows, d, 0.0f, s, ld);
    } else {
        const double *e = (const double *)sim->e_rows + i0 * sim->d;
        if (upper)
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, r, d, 1.0,
                        e, d, 0.0, s, ld);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, n, d, 1.0,
                        e, d, sim->f_rows, d, 0.0, s, ld);
    }
}
#endif

void rpo_similarity_rows(const rpo_similarity *sim, size_t i0, size_t rows,
                         void *s, size_t lds, void *scratch, int upper)
{
    const size_t elem = sim->type == RPO_F32 ? sizeof(float) : sizeof(double);
    switch (sim->backend) {
    case RPO_SIM_BLAS:
#ifdef RPO_USE_CBLAS
        blas_rows(sim, i0, rows, s, lds, upper);
#endif
        return;
    case RPO_SIM_DOTS:
        sim->k->dots(rows, sim->n, sim->d, (const char *)sim->e_rows + i0 * sim->d * elem,
                     sim->f_rows, s, lds, upper ? i0 : RPO_NOT_SYMMETRIC);
        return;
    case RPO_SIM_TILES:
        rpo_pack_tiles(sim->type, sim->e, sim->e_norm, i0, rows, sim->d,
                       sim->k->mr, scratch);
        sim->k->product(rows, sim->n, sim->d, scratch, sim->f_tiles, s, lds,
                        upper ? i0 : RPO_NOT_SYMMETRIC);
        return;
    }
}

/* From this many bytes of matrix on, the mirror writes the lower triangle
 * with streaming stores: the matrix is then too large for the caches to
 * keep it until the softmax reads it back, and a plain store would first
 * read each line from memory. Below it the lines stay in the caches. */
#define MIRROR_STREAM_BYTES ((size_t)16 << 20)

rpo_mirror rpo_mirror_plan(const rpo_kernels_of_type *k, rpo_dtype type,
                           void *s, size_t lds, size_t count)
{
    const size_t elem = type == RPO_F32 ? sizeof(float) : sizeof(double);
    rpo_mirror m;
    m.copy = k->mirror;
    m.s = s;
    m.lds = lds;
    m.count = count;
    m.width = 64 / elem;  /* a cache line */
    /* strips start on a line when every row does */
    const size_t to_line = (64 - (size_t)((uintptr_t)s % 64)) % 64;
    m.lead = lds * elem % 64 == 0 && to_line % elem == 0 ? to_line / elem : 0;
    if (m.lead > count)
        m.lead = count;
    m.stream = (double)count * (double)lds * (double)elem >= (double)MIRROR_STREAM_BYTES;
    return m;
}

size_t rpo_mirror_strips(const rpo_mirror *m)
{
    return (m->lead > 0) + (m->count - m->lead + m->width - 1) / m->width;
}

void rpo_mirror_strip(const rpo_mirror *m, size_t strip)
{
    size_t j0 = 0, j1 = m->lead;
    if (m->lead == 0 || strip > 0) {
        j0 = m->lead + (strip - (m->lead > 0)) * m->width;
        j1 = m->count - j0 < m->width ? m->count : j0 + m->width;
    }
    m->copy(m->s, m->lds, m->count, j0, j1, m->stream);
}
