/* The similarity stage through the native kernels or CBLAS. */
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

size_t rpo_similarity_scratch(const rpo_similarity *sim, size_t rows)
{
    return sim->backend == RPO_SIM_TILES ? rpo_packed_count(rows, sim->d, sim->k->mr) : 0;
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

/* The mirror goes through a small square block: a block of upper rows is
 * read row by row into it, then written row by row into the lower
 * triangle, so every cache line is read or written whole, once (copying
 * element by element down a column would revisit a line per element, and
 * with a power-of-two row stride all those lines fall into one cache set).
 * Strips of MIRROR_BLOCK source rows are independent: workers may take
 * them in any order. */
#define MIRROR_BLOCK 32

#define MIRROR_STRIP(NAME, T)                                                  \
    static void NAME(T *p, size_t lds, size_t count, size_t j0)               \
    {                                                                          \
        T tmp[MIRROR_BLOCK][MIRROR_BLOCK];                                     \
        const size_t j1 = j0 + MIRROR_BLOCK < count ? j0 + MIRROR_BLOCK : count; \
        for (size_t i0 = j0; i0 < count; i0 += MIRROR_BLOCK) {                 \
            const size_t i1 = i0 + MIRROR_BLOCK < count ? i0 + MIRROR_BLOCK : count; \
            for (size_t j = j0; j < j1; j++)                                   \
                for (size_t i = i0; i < i1; i++)                               \
                    tmp[j - j0][i - i0] = p[j * lds + i];                      \
            for (size_t i = i0; i < i1; i++) {                                 \
                const size_t j_end = j1 < i ? j1 : i;                          \
                for (size_t j = j0; j < j_end; j++)                            \
                    p[i * lds + j] = tmp[j - j0][i - i0];                      \
            }                                                                  \
        }                                                                      \
    }

MIRROR_STRIP(mirror_strip_f32, float)
MIRROR_STRIP(mirror_strip_f64, double)

size_t rpo_mirror_strips(size_t count)
{
    return (count + MIRROR_BLOCK - 1) / MIRROR_BLOCK;
}

void rpo_mirror_strip(rpo_dtype type, void *s, size_t lds, size_t count,
                      size_t strip)
{
    if (type == RPO_F32)
        mirror_strip_f32(s, lds, count, strip * MIRROR_BLOCK);
    else
        mirror_strip_f64(s, lds, count, strip * MIRROR_BLOCK);
}

void rpo_mirror_upper(rpo_dtype type, void *s, size_t lds, size_t count)
{
    for (size_t strip = 0; strip < rpo_mirror_strips(count); strip++)
        rpo_mirror_strip(type, s, lds, count, strip);
}
