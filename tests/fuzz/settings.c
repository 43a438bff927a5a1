/*
 * Settings and queries under the fuzzer: rpo_ctx_set with any key and value
 * (unknown keys, NaN, infinities, out-of-range and non-integer values),
 * rpo_ctx_get, rpo_ctx_stat and rpo_param_bounds with NULL or valid
 * pointers and any key, rpo_status_string on any int, the version queries
 * and rpo_ctx_free(NULL); and what a context shows through the API, which
 * every other operation compares before and after its call.
 *
 * Invariants: an accepted value lies within rpo_param_bounds and reads back
 * bit for bit, and changes no other key and no metric; a refused one
 * changes nothing; a key is known to set, get and bounds alike; nothing is
 * written through a pointer on error; stats are always finite; status
 * strings are never NULL or empty.
 */
#include <math.h>
#include <string.h>

#include "harness.h"

/* ------------------------------------------------------------------------ */
/* What a context shows through the API. */

void observe(const rpo_ctx *ctx, ctx_state *s)
{
    memset(s, 0, sizeof *s);
    for (int p = 0; p < KEYS; p++)
        s->get_status[p] = rpo_ctx_get(ctx, p, &s->get_value[p]);
    for (int k = 0; k < STATS; k++)
        s->stat_status[k] = rpo_ctx_stat(ctx, k, &s->stat_value[k]);
}

int same_settings(const ctx_state *a, const ctx_state *b)
{
    return memcmp(a->get_status, b->get_status, sizeof a->get_status) == 0 &&
           memcmp(a->get_value, b->get_value, sizeof a->get_value) == 0;
}

int same_metrics(const ctx_state *a, const ctx_state *b)
{
    return memcmp(a->stat_status, b->stat_status, sizeof a->stat_status) == 0 &&
           memcmp(a->stat_value, b->stat_value, sizeof a->stat_value) == 0;
}

/* The metrics of the last loss call (RPO_STAT_LOSS .. RPO_STAT_ACCURACY),
 * which rpo_weights_* must leave alone; later stats may describe the weight
 * computation itself and so may change with it. */
int same_loss_metrics(const ctx_state *a, const ctx_state *b)
{
    for (int k = RPO_STAT_LOSS; k <= RPO_STAT_ACCURACY; k++)
        if (a->stat_status[k] != b->stat_status[k] ||
            memcmp(&a->stat_value[k], &b->stat_value[k], sizeof(double)) != 0)
            return 0;
    return 1;
}

int same_metrics_but_shape(const ctx_state *a, const ctx_state *b)
{
    for (int k = 0; k < STATS; k++) {
        if (k == RPO_STAT_EFFECTIVE_CONTRASTS || k == RPO_STAT_DIAGONAL_WEIGHT) {
            CHECK(isfinite(b->stat_value[k]), "stat %d is %g", k, b->stat_value[k]);
            continue;
        }
        if (a->stat_status[k] != b->stat_status[k] ||
            memcmp(&a->stat_value[k], &b->stat_value[k], sizeof(double)) != 0)
            return 0;
    }
    return 1;
}

/* Gives `to` every setting of `from`. */
void copy_settings(const rpo_ctx *from, rpo_ctx *to)
{
    for (int p = 0; p < KEYS; p++) {
        double v;
        if (rpo_ctx_get(from, p, &v) == RPO_OK)
            CHECK(rpo_ctx_set(to, p, v) == RPO_OK,
                  "a value rpo_ctx_get returned (key %d, %.17g) is refused", p, v);
    }
}

/*
 * The settings the contract in contract.h covers: the keys and values of
 * librpo 1.0 (and RPO_PARAM_THREADS, which changes no result). A call made
 * under a setting added later (a new weighting, a new loss function) is
 * checked for the invariants that hold for every call, not for the exact
 * status of the 1.0 rules, float32/float64 agreement or the closed forms of
 * an empty side, until this harness learns the new setting.
 */
int settings_known(const rpo_ctx *ctx)
{
    static ctx_state fresh;
    static int have_fresh; /* the defaults never change: computed once */
    if (!have_fresh) {
        rpo_ctx *c = rpo_ctx_create();
        CHECK(c != NULL, "rpo_ctx_create failed");
        observe(c, &fresh);
        rpo_ctx_free(c);
        have_fresh = 1;
    }
    ctx_state now;
    observe(ctx, &now);
    double w = now.get_value[RPO_PARAM_WEIGHTING];
    if (!(w == RPO_WEIGHTING_UNIFORM || w == RPO_WEIGHTING_DIAGONAL ||
          w == RPO_WEIGHTING_EMBEDDING))
        return 0;
    for (int p = RPO_PARAM_REDUCTION + 1; p < KEYS; p++) {
#ifdef RPO_PARAM_THREADS
        if (p == RPO_PARAM_THREADS)
            continue;
#endif
        if (now.get_status[p] != fresh.get_status[p] ||
            memcmp(&now.get_value[p], &fresh.get_value[p], sizeof(double)) != 0)
            return 0;
    }
    return 1;
}

double setting(const rpo_ctx *ctx, int param)
{
    double v = 0.0;
    CHECK(rpo_ctx_get(ctx, param, &v) == RPO_OK, "rpo_ctx_get(%d) fails", param);
    return v;
}

void op_set(reader *r, rpo_ctx *ctx)
{
    int param = (int)take_choice(r, KEYS + 4) - 2;
    double value = take_setting_value(r);
    if (take_choice(r, 32) == 0) {
        CHECK(rpo_ctx_set(NULL, param, value) == RPO_ERR_NULL_POINTER,
              "rpo_ctx_set(NULL) is not RPO_ERR_NULL_POINTER");
        return;
    }
    ctx_state before, after;
    observe(ctx, &before);
    int status = rpo_ctx_set(ctx, param, value);
    check_detail(ctx, status, "rpo_ctx_set");
    observe(ctx, &after);
    double lo = -1.0, hi = -2.0;
    int known = rpo_param_bounds(param, &lo, &hi);
    CHECK(known == RPO_OK || known == RPO_ERR_PARAM, "rpo_param_bounds status %d", known);
    CHECK(same_metrics(&before, &after), "rpo_ctx_set changed the metrics");
    if (status == RPO_OK) {
        CHECK(known == RPO_OK, "key %d accepted but has no bounds", param);
        CHECK(value >= lo && value <= hi, "key %d: %.17g accepted outside [%.17g, %.17g]",
              param, value, lo, hi);
        double got;
        CHECK(rpo_ctx_get(ctx, param, &got) == RPO_OK &&
              memcmp(&got, &value, sizeof got) == 0,
              "key %d: set %.17g, get gives %.17g", param, value, got);
        for (int p = 0; p < KEYS; p++)
            if (p != param)
                CHECK(before.get_status[p] == after.get_status[p] &&
                      memcmp(&before.get_value[p], &after.get_value[p], sizeof(double)) == 0,
                      "setting key %d changed key %d", param, p);
    } else {
        CHECK(status == RPO_ERR_PARAM, "rpo_ctx_set status %d", status);
        CHECK(same_settings(&before, &after), "a refused rpo_ctx_set changed a setting");
    }
    /* a key is known to all three functions or to none */
    double v = -3.0;
    int got_status = rpo_ctx_get(ctx, param, &v);
    CHECK((known == RPO_OK) == (got_status == RPO_OK),
          "key %d: bounds say %d, get says %d", param, known, got_status);
    if (got_status != RPO_OK)
        CHECK(v == -3.0, "rpo_ctx_get wrote on error");
}

void op_query(reader *r, rpo_ctx *ctx)
{
    int key = (int)take_choice(r, KEYS + 4) - 2;
    double v = -5.0, lo = -6.0, hi = -7.0;
    switch (take_choice(r, 8)) {
    case 0:
        CHECK(rpo_ctx_get(ctx, key, NULL) == RPO_ERR_NULL_POINTER, "get(NULL value)");
        CHECK(rpo_ctx_get(NULL, key, &v) == RPO_ERR_NULL_POINTER && v == -5.0,
              "get(NULL ctx)");
        break;
    case 1:
        CHECK(rpo_ctx_stat(ctx, key, NULL) == RPO_ERR_NULL_POINTER, "stat(NULL value)");
        CHECK(rpo_ctx_stat(NULL, key, &v) == RPO_ERR_NULL_POINTER && v == -5.0,
              "stat(NULL ctx)");
        break;
    case 2: {
        int s = rpo_ctx_stat(ctx, key, &v);
        CHECK(s == RPO_OK || s == RPO_ERR_PARAM, "stat status %d", s);
        CHECK(s == RPO_OK ? isfinite(v) : v == -5.0, "stat %d: %.17g (status %d)", key, v, s);
        break;
    }
    case 3:
        CHECK(rpo_param_bounds(key, NULL, &hi) == RPO_ERR_NULL_POINTER && hi == -7.0,
              "bounds(NULL lo)");
        CHECK(rpo_param_bounds(key, &lo, NULL) == RPO_ERR_NULL_POINTER && lo == -6.0,
              "bounds(lo, NULL)");
        break;
    case 4: {
        int s = rpo_param_bounds(key, &lo, &hi);
        CHECK(s == RPO_OK ? (lo <= hi && !isnan(lo) && !isnan(hi))
                          : (s == RPO_ERR_PARAM && lo == -6.0 && hi == -7.0),
              "bounds(%d): status %d, [%.17g, %.17g]", key, s, lo, hi);
        break;
    }
    case 5: {
        /* mostly the listed codes and their neighbours, sometimes any int */
        int status = take_choice(r, 4) ? (int)take_choice(r, 16) - 12 : (int)take_u32(r);
        const char *text = rpo_status_string(status);
        CHECK(text != NULL && text[0] != '\0', "rpo_status_string(%d)", status);
        break;
    }
    case 6:
        CHECK(rpo_version_number() == RPO_VERSION_NUMBER, "version number");
        CHECK(strcmp(rpo_version_string(), RPO_VERSION_STRING) == 0, "version string");
        break;
    default:
        rpo_ctx_free(NULL); /* a no-op */
        break;
    }
}

