/* test_tensorfile.c — the one file container (core/base/tensorfile.h): what is written reads back
 * (float32 bit for bit, float16 as IEEE rounds), every truncation and every sampled single-byte
 * corruption is refused, and so are (with a re-forged checksum) another version or magic, absurd
 * counts and lengths, bad names, duplicates, bad dtypes and shapes, NaN values and trailing
 * bytes; the writer refuses what the reader would refuse. */
#include "testutil.h"
#include "base/err.h"
#include "base/rng.h"
#include "base/tensorfile.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const int shape_a[2] = {3, 5}, shape_b[1] = {7};

/* A small file: kind "test", three entries, a float32 (3,5) and a float16 (7) tensor. */
static unsigned char *small_file(size_t *len, float *a, float *b) {
    dn_rng r;
    dn_rng_seed(&r, 11, 0);
    dn_rng_normal_fill(&r, a, 15);
    dn_rng_normal_fill(&r, b, 7);
    dn_tf_writer w;
    dn_tf_write_begin(&w, "test");
    dn_tf_write_meta(&w, "dataset", "pets");
    dn_tf_write_meta(&w, "class_names", "cat\ndog");
    dn_tf_write_meta(&w, "empty", "");
    dn_tf_write_tensor(&w, "a.weight", DN_DTYPE_F32, 2, shape_a, a);
    dn_tf_write_tensor(&w, "b", DN_DTYPE_F16, 1, shape_b, b);
    unsigned char *d;
    if (dn_tf_write_end(&w, &d, len) < 0) fail_msg("%s", dn_error());
    return d;
}

static void round_trip(void **state) {
    (void)state;
    float a[15], b[7], got[15];
    size_t len;
    unsigned char *d = small_file(&len, a, b);
    dn_tf f;
    if (dn_tf_parse(&f, d, len, "x.dfm") < 0) fail_msg("%s", dn_error());
    assert_true(dn_tf_is_container(d, len));
    assert_string_equal(f.kind, "test");
    assert_int_equal(f.n_meta, 3);
    assert_string_equal(dn_tf_meta(&f, "class_names"), "cat\ndog");
    assert_string_equal(dn_tf_meta(&f, "empty"), "");
    assert_null(dn_tf_meta(&f, "nothing"));
    assert_int_equal(f.n_tensors, 2);
    const dn_tf_tensor *ta = dn_tf_find(&f, "a.weight"), *tb = dn_tf_find(&f, "b");
    assert_non_null(ta);
    assert_non_null(tb);
    assert_null(dn_tf_find(&f, "c"));
    assert_int_equal(ta->rank, 2);
    assert_int_equal(ta->shape[0], 3);
    assert_int_equal(ta->shape[1], 5);
    assert_int_equal(ta->numel, 15);
    dn_tf_values(ta, got);
    assert_memory_equal(got, a, sizeof a);
    dn_tf_values(tb, got);
    for (int i = 0; i < 7; i++) assert_true(got[i] == dn_f16_to_f32(dn_f32_to_f16(b[i])));
    dn_tf_free(&f);
    free(d);
}

/* parse must fail, leave f zeroed and say something with the file's name and `want` */
static void refused(const unsigned char *d, size_t len, const char *want) {
    dn_tf f;
    memset(&f, 0x55, sizeof f);
    if (dn_tf_parse(&f, d, len, "x.dfm") == 0) fail_msg("accepted a bad file (%s)", want ? want : "");
    assert_int_equal(f.n_meta, 0);
    assert_int_equal(f.n_tensors, 0);
    assert_null(f.tensors);
    if (!strstr(dn_error(), "'x.dfm'")) fail_msg("message does not name the file: %s", dn_error());
    if (want && !strstr(dn_error(), want)) fail_msg("expected '%s' in: %s", want, dn_error());
}

static void truncations_and_corruptions_refused(void **state) {
    (void)state;
    float a[15], b[7];
    size_t len;
    unsigned char *d = small_file(&len, a, b);
    for (size_t n = 0; n < len; n++) refused(d, n, NULL);
    for (size_t pos = 0; pos < len; pos++)
        for (int bit = 0; bit < 8; bit += 3) {
            d[pos] ^= (unsigned char)(1u << bit);
            refused(d, len, NULL);
            d[pos] ^= (unsigned char)(1u << bit);
        }
    dn_tf f;
    assert_int_equal(dn_tf_parse(&f, d, len, "x.dfm"), 0); /* restored intact */
    dn_tf_free(&f);
    free(d);
}

static void forged_files_refused(void **state) {
    (void)state;
    float a[15], b[7];
    size_t len;
    unsigned char *d = small_file(&len, a, b), *e = malloc(len + 8);
    size_t kind_at = 12, meta_count_at = kind_at + 4 + 4; /* "test" */
    size_t t_a = tu_find(d, len, "a.weight") - 4;
    struct { size_t at; uint32_t v; const char *want; } forge[] = {
        {8, 3, "version 3"},
        {kind_at, 0, "kind"},
        {kind_at, 0xfffffff0u, "kind"},
        {meta_count_at, 0xffffffffu, "metadata entries"},
        {meta_count_at + 4, 0, "metadata key"},
        {meta_count_at + 4, 0x7fffffffu, "metadata key"},
        {t_a, 0, "bad name"},
        {t_a + 4 + 8, 2, "dtype"},
        {t_a + 4 + 8 + 4, 0, "rank"},
        {t_a + 4 + 8 + 4, 5, "rank"},
        {t_a + 4 + 8 + 8, 0, "shape"},
        {t_a + 4 + 8 + 8, 0x40000000u, "shape"},
        {t_a + 4 + 8 + 8, 4, "bytes"},           /* (4,5): 80 bytes, the file's tensors do not add up */
        {t_a + 4 + 8 + 16, 0x7fc00000u, "NaN"},  /* the first value: NaN */
        {t_a + 4 + 8 + 16, 0xff800000u, "infinite"},  /* -inf */
    };
    for (size_t i = 0; i < sizeof forge / sizeof forge[0]; i++) {
        memcpy(e, d, len);
        tu_put32(e + forge[i].at, forge[i].v);
        tu_refit_crc(e, len);
        refused(e, len, forge[i].want);
    }
    /* another magic */
    memcpy(e, d, len);
    e[0] = 'X';
    tu_refit_crc(e, len);
    refused(e, len, "not a diffuse file");
    /* a metadata value with a control character */
    memcpy(e, d, len);
    e[tu_find(e, len, "cat\ndog") + 3] = '\x01';
    tu_refit_crc(e, len);
    refused(e, len, "not text");
    /* trailing bytes */
    memcpy(e, d, len - 4);
    memset(e + len - 4, 0, 8);
    tu_refit_crc(e, len + 4);
    refused(e, len + 4, "after the last tensor");
    free(d), free(e);
}

static void duplicates_refused(void **state) {
    (void)state;
    const float v[2] = {1, 2};
    const int s[1] = {2};
    dn_tf_writer w;
    unsigned char *d;
    size_t len;
    /* the writer does not check duplicates (its callers write each name once); the reader does */
    dn_tf_write_begin(&w, "test");
    dn_tf_write_meta(&w, "k", "1");
    dn_tf_write_meta(&w, "k", "2");
    assert_int_equal(dn_tf_write_end(&w, &d, &len), 0);
    refused(d, len, "twice");
    free(d);
    dn_tf_write_begin(&w, "test");
    dn_tf_write_tensor(&w, "t", DN_DTYPE_F32, 1, s, v);
    dn_tf_write_tensor(&w, "t", DN_DTYPE_F32, 1, s, v);
    assert_int_equal(dn_tf_write_end(&w, &d, &len), 0);
    refused(d, len, "twice");
    free(d);
    /* no metadata and no tensors is a valid file */
    dn_tf_write_begin(&w, "empty");
    assert_int_equal(dn_tf_write_end(&w, &d, &len), 0);
    dn_tf f;
    assert_int_equal(dn_tf_parse(&f, d, len, "x.dfm"), 0);
    assert_int_equal(f.n_meta + f.n_tensors, 0);
    dn_tf_free(&f);
    free(d);
}

/* The writer refuses what the reader would refuse, and reports the first failure at the end. */
static void writer_refusals(void **state) {
    (void)state;
    const int s[1] = {2};
    const float ok[2] = {1, 2}, nan2[2] = {1, NAN}, big[2] = {1, 70000};
    struct { const char *kind, *key, *value, *tname; const float *v; dn_dtype dt; const char *want; } c[] = {
        {"bad kind!", "k", "v", "t", ok, DN_DTYPE_F32, "kind"},
        {"test", "bad key", "v", "t", ok, DN_DTYPE_F32, "metadata key"},
        {"test", "k", "bell\a", "t", ok, DN_DTYPE_F32, "not text"},
        {"test", "k", "v", "bad/name", ok, DN_DTYPE_F32, "tensor name"},
        {"test", "k", "v", "t", nan2, DN_DTYPE_F32, "nan"},
        {"test", "k", "v", "t", big, DN_DTYPE_F16, "float16"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        dn_tf_writer w;
        dn_tf_write_begin(&w, c[i].kind);
        dn_tf_write_meta(&w, c[i].key, c[i].value);
        dn_tf_write_tensor(&w, c[i].tname, c[i].dt, 1, s, c[i].v);
        unsigned char *d = (unsigned char *)1;
        size_t len = 1;
        assert_int_equal(dn_tf_write_end(&w, &d, &len), -1);
        assert_null(d);
        if (!strstr(dn_error(), c[i].want)) fail_msg("case %zu: expected '%s' in: %s", i, c[i].want, dn_error());
    }
    dn_tf_writer w;
    dn_tf_write_begin(&w, "test");
    dn_tf_write_tensor(&w, "t", DN_DTYPE_F32, 1, s, ok);
    assert_int_equal(dn_tf_write_meta(&w, "late", "v"), -1);
    unsigned char *d;
    size_t len;
    assert_int_equal(dn_tf_write_end(&w, &d, &len), -1);
    assert_non_null(strstr(dn_error(), "after a tensor"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(truncations_and_corruptions_refused),
        cmocka_unit_test(forged_files_refused),
        cmocka_unit_test(duplicates_refused),
        cmocka_unit_test(writer_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
