/*
 * Turning the fuzzer's bytes into API arguments.
 *
 * Every byte steers a choice, so short inputs already reach every entry
 * point and mutations move between nearby calls. When the bytes run out,
 * choices fall back to a generator seeded from what was read, so a short
 * input still fills large arrays with varied values. Values are drawn
 * from a table of hostile specials (NaN, infinities, subnormals, +-1e38,
 * FLT_MAX, ...), from log-prob-like small numbers, or from raw float bits.
 */
#ifndef RPO_FUZZ_READER_H
#define RPO_FUZZ_READER_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct reader {
    const uint8_t *data;
    size_t size, pos;
    uint64_t fallback;      /* generator state once the bytes run out */
} reader;

static inline void reader_init(reader *r, const uint8_t *data, size_t size)
{
    r->data = data;
    r->size = size;
    r->pos = 0;
    r->fallback = 0x243F6A8885A308D3ull ^ size;
}

static inline uint8_t take_u8(reader *r)
{
    if (r->pos < r->size) {
        uint8_t b = r->data[r->pos++];
        r->fallback = (r->fallback ^ b) * 0x100000001B3ull;
        return b;
    }
    uint64_t z = (r->fallback += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint8_t)((z ^ (z >> 31)) >> 56);
}

static inline int exhausted(const reader *r)
{
    return r->pos >= r->size;
}

static inline uint32_t take_u32(reader *r)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++)
        v = (v << 8) | take_u8(r);
    return v;
}

static inline uint64_t take_u64(reader *r)
{
    return ((uint64_t)take_u32(r) << 32) | take_u32(r);
}

/* One of count choices. */
static inline unsigned take_choice(reader *r, unsigned count)
{
    return take_u8(r) % count;
}

/* float32 values a hostile caller might pass. */
static const float special_f32[] = {
    0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -2.0f, 1e-6f, 100.0f,
    0x1p-149f, -0x1p-149f, 1e-40f, FLT_MIN, -FLT_MIN,
    FLT_MAX, -FLT_MAX, 1e38f, -1e38f, 3e38f,
    1e30f, -1e30f, 1e4f, -1e4f, 16777216.0f, -50.5f,
    (float)NAN, -(float)NAN, (float)INFINITY, -(float)INFINITY,
};
#define SPECIAL_F32_COUNT (sizeof special_f32 / sizeof special_f32[0])

/* float64 values beyond float32, for the float64-only inputs. */
static const double special_f64[] = {
    DBL_MAX, -DBL_MAX, 1e308, -1e300, 1e300, 4.9406564584124654e-324,
    -1e-310, DBL_MIN, 1e-300, 1.0000000000000002, 0.1, 3e38 * 16.0,
};
#define SPECIAL_F64_COUNT (sizeof special_f64 / sizeof special_f64[0])

/* A float: a special (1 in 4), a raw bit pattern (1 in 8), otherwise a
 * value of the given kind: log-prob-like (-64, 0] or embedding-like
 * [-2, 2] in steps that make ties and zeros common. */
static inline float take_value(reader *r, int embedding_like)
{
    uint8_t b = take_u8(r);
    if (b < 64)
        return special_f32[b % SPECIAL_F32_COUNT];
    if (b < 96) {
        uint32_t bits = take_u32(r);
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    uint8_t v = take_u8(r);
    if (embedding_like)
        return (float)((int)v - 128) / 64.0f;
    return -(float)v / 4.0f - (float)(b & 7) / 8.0f;
}

/* A setting's value: specials of both precisions, integers near the
 * enumerations, and raw double bits. */
static inline double take_setting_value(reader *r)
{
    uint8_t b = take_u8(r);
    if (b < 64)
        return (double)special_f32[b % SPECIAL_F32_COUNT];
    if (b < 96)
        return special_f64[b % SPECIAL_F64_COUNT];
    if (b < 160)
        return (double)((int)(b % 8) - 2) + (b & 8 ? 0.5 : 0.0);
    if (b < 200) {
        uint64_t bits = take_u64(r);
        double v;
        memcpy(&v, &bits, sizeof v);
        return v;
    }
    static const double usual[] = {0.1, 0.5, 0.8, 1.0, 2.0, 0.25, 10.0, 0.05};
    return usual[b % 8];
}

/* A size for arrays that exist: mostly tiny, sometimes around the vector
 * widths a kernel might use (15..17, 31..33, 63..65). */
static inline size_t take_small_size(reader *r, size_t cap)
{
    static const size_t widths[] = {15, 16, 17, 31, 32, 33, 63, 64, 65};
    uint8_t b = take_u8(r);
    size_t s = b < 200 ? (size_t)(b % 10) : widths[b % 9];
    return s < cap ? s : cap;
}

/* Sizes whose products overflow size_t, and partners for them. */
static const size_t huge_sizes[] = {
    SIZE_MAX, SIZE_MAX / 2 + 1, (size_t)1 << 32, ((size_t)1 << 32) + 1,
    (size_t)1 << 33, (size_t)1 << 62, SIZE_MAX / 3 + 1, 2, 3, 1, 0x10001,
};
#define HUGE_SIZES_COUNT (sizeof huge_sizes / sizeof huge_sizes[0])

#endif /* RPO_FUZZ_READER_H */
