/*
 * Reader of the conformance vectors (tests/data/vectors.txt, relative to the
 * project root; RPO_VECTORS names another file;
 * format in the README beside it): every case of the file, in order.
 */
#ifndef RPO_TEST_VECTORS_H
#define RPO_TEST_VECTORS_H

#include <stddef.h>

typedef struct rpo_vec_case {
    char name[128];
    int weighting;          /* RPO_WEIGHTING_*  */
    int placement;          /* RPO_PLACEMENT_*  */
    double beta, tau, alpha;
    size_t m, n, d;
    double *policy_chosen, *ref_chosen;       /* ref NULL: "none"        */
    double *policy_rejected, *ref_rejected;
    double *chosen_emb, *rejected_emb;        /* NULL: "none"            */
    int rejected_emb_same;                    /* "same": paired          */
    double loss;
    double *grad_chosen, *grad_rejected, *weights;
} rpo_vec_case;

typedef struct rpo_vec_set {
    rpo_vec_case *cases;
    size_t count;
} rpo_vec_set;

/* Where the vectors live, relative to the project root (tests run there);
 * RPO_VECTORS in the environment overrides it. */
const char *rpo_vec_path(void);

/* Reads every case. Returns 0 on success; on failure prints why to stderr
 * and returns -1. */
int rpo_vec_load(const char *path, rpo_vec_set *set);
void rpo_vec_free(rpo_vec_set *set);

#endif /* RPO_TEST_VECTORS_H */
