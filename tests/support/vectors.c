/* A strict reader of the conformance vector format: an unknown key, a
 * missing field or a wrong count fails loudly rather than testing less. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpo.h"
#include "vectors.h"

const char *rpo_vec_path(void)
{
    const char *env = getenv("RPO_VECTORS");
    return env != NULL && *env != '\0' ? env : "tests/data/vectors.txt";
}

/* Parses exactly count numbers from text into a new array. "none" gives
 * NULL with *none set. */
static int parse_numbers(const char *text, size_t count, double **out, int *none)
{
    *out = NULL;
    if (none != NULL)
        *none = 0;
    while (*text == ' ')
        text++;
    if (strncmp(text, "none", 4) == 0 && none != NULL) {
        *none = 1;
        return 0;
    }
    double *v = malloc((count ? count : 1) * sizeof *v);
    if (v == NULL)
        return -1;
    char *end = NULL;
    for (size_t k = 0; k < count; k++) {
        v[k] = strtod(text, &end);
        if (end == text) {
            free(v);
            return -1;
        }
        text = end;
    }
    while (*text == ' ' || *text == '\n' || *text == '\r')
        text++;
    if (*text != '\0') {       /* more numbers than announced */
        free(v);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_enum(const char *text, const char *const *names, int count)
{
    for (int k = 0; k < count; k++)
        if (strcmp(text, names[k]) == 0)
            return k;
    return -1;
}

static void free_case(rpo_vec_case *c)
{
    free(c->policy_chosen);
    free(c->ref_chosen);
    free(c->policy_rejected);
    free(c->ref_rejected);
    free(c->chosen_emb);
    free(c->rejected_emb);
    free(c->grad_chosen);
    free(c->grad_rejected);
    free(c->weights);
}

/* Applies one "key value" line to the case being read. */
static int apply_line(rpo_vec_case *c, const char *key, const char *val,
                      unsigned *seen)
{
    static const char *const weightings[] = {"uniform", "diagonal", "embedding"};
    static const char *const placements[] = {"auto", "logit", "loss"};
    int none = 0;
    if (strcmp(key, "weighting") == 0) {
        c->weighting = parse_enum(val, weightings, 3);
        return c->weighting < 0 ? -1 : 0;
    }
    if (strcmp(key, "placement") == 0) {
        c->placement = parse_enum(val, placements, 3);
        return c->placement < 0 ? -1 : 0;
    }
    if (strcmp(key, "beta") == 0) { c->beta = strtod(val, NULL); return 0; }
    if (strcmp(key, "tau") == 0) { c->tau = strtod(val, NULL); return 0; }
    if (strcmp(key, "alpha") == 0) { c->alpha = strtod(val, NULL); return 0; }
    if (strcmp(key, "m") == 0) { c->m = strtoul(val, NULL, 10); *seen |= 1; return 0; }
    if (strcmp(key, "n") == 0) { c->n = strtoul(val, NULL, 10); *seen |= 2; return 0; }
    if (strcmp(key, "d") == 0) { c->d = strtoul(val, NULL, 10); *seen |= 4; return 0; }
    if ((*seen & 7) != 7)
        return -1;  /* arrays need their sizes first */
    if (strcmp(key, "policy_chosen") == 0)
        return parse_numbers(val, c->m, &c->policy_chosen, NULL);
    if (strcmp(key, "ref_chosen") == 0)
        return parse_numbers(val, c->m, &c->ref_chosen, &none);
    if (strcmp(key, "policy_rejected") == 0)
        return parse_numbers(val, c->n, &c->policy_rejected, NULL);
    if (strcmp(key, "ref_rejected") == 0)
        return parse_numbers(val, c->n, &c->ref_rejected, &none);
    if (strcmp(key, "chosen_emb") == 0)
        return parse_numbers(val, c->m * c->d, &c->chosen_emb, &none);
    if (strcmp(key, "rejected_emb") == 0) {
        if (strncmp(val, "same", 4) == 0) {
            c->rejected_emb_same = 1;
            return 0;
        }
        return parse_numbers(val, c->n * c->d, &c->rejected_emb, &none);
    }
    if (strcmp(key, "loss") == 0) {
        c->loss = strtod(val, NULL);
        *seen |= 8;
        return 0;
    }
    if (strcmp(key, "grad_chosen") == 0)
        return parse_numbers(val, c->m, &c->grad_chosen, NULL);
    if (strcmp(key, "grad_rejected") == 0)
        return parse_numbers(val, c->n, &c->grad_rejected, NULL);
    if (strcmp(key, "weights") == 0)
        return parse_numbers(val, c->m * c->n, &c->weights, NULL);
    return -1;
}

static int case_complete(const rpo_vec_case *c, unsigned seen)
{
    return (seen & 15) == 15 && c->weighting >= 0 && c->placement >= 0 &&
           c->policy_chosen != NULL && c->policy_rejected != NULL &&
           c->grad_chosen != NULL && c->grad_rejected != NULL &&
           c->weights != NULL &&
           (c->weighting != RPO_WEIGHTING_EMBEDDING || c->chosen_emb != NULL);
}

int rpo_vec_load(const char *path, rpo_vec_set *set)
{
    set->cases = NULL;
    set->count = 0;
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        fprintf(stderr, "cannot open conformance vectors %s\n", path);
        return -1;
    }
    size_t cap = 0, lineno = 0, bufcap = 0;
    char *line = NULL;
    ssize_t len;
    rpo_vec_case *cur = NULL;
    unsigned seen = 0;
    int status = 0;
    while (status == 0 && (len = getline(&line, &bufcap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        char *space = strchr(line, ' ');
        const char *val = space != NULL ? space + 1 : "";
        if (space != NULL)
            *space = '\0';
        if (cur == NULL) {
            if (strcmp(line, "case") != 0) {
                status = -1;
                break;
            }
            if (set->count == cap) {
                size_t ncap = cap ? 2 * cap : 32;
                rpo_vec_case *grown = realloc(set->cases, ncap * sizeof *grown);
                if (grown == NULL) {
                    status = -1;
                    break;
                }
                set->cases = grown;
                cap = ncap;
            }
            cur = &set->cases[set->count++];
            memset(cur, 0, sizeof *cur);
            cur->weighting = cur->placement = -1;
            snprintf(cur->name, sizeof cur->name, "%s", val);
            seen = 0;
        } else if (strcmp(line, "end") == 0) {
            if (!case_complete(cur, seen))
                status = -1;
            cur = NULL;
        } else {
            status = apply_line(cur, line, val, &seen);
        }
    }
    free(line);
    fclose(fp);
    if (status == 0 && cur != NULL)
        status = -1;  /* a case without its end */
    if (status == 0 && set->count == 0)
        status = -1;
    if (status != 0) {
        fprintf(stderr, "%s:%zu: malformed conformance vectors\n", path, lineno);
        rpo_vec_free(set);
    }
    return status;
}

void rpo_vec_free(rpo_vec_set *set)
{
    for (size_t k = 0; k < set->count; k++)
        free_case(&set->cases[k]);
    free(set->cases);
    set->cases = NULL;
    set->count = 0;
}
