/* test_model.c — model files: a float32 save loads back bit for bit with its metadata; float16
 * rounds as IEEE says; every truncation and every sampled single-byte corruption is refused with
 * outputs left zeroed; so are another version, another magic, and (with a re-forged checksum)
 * NaN weights, wrong shapes, bad configs, absurd counts and trailing bytes, in the container
 * (base/tensorfile.h) and in version 1, the format before it, which is still read. */
#include "testutil.h"
#include "base/err.h"
#include "base/fileio.h"
#include "diffusion/model.h"
#include "base/rng.h"
#include "nets/unet.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static dn_unet_config tiny_config(void) {
    dn_unet_config c = dn_unet_default_config(1, 4, 4, 3);
    c.base_width = 4;
    c.n_levels = 2;
    c.mults[0] = 1, c.mults[1] = 2, c.mults[2] = 0;
    c.attn_levels = 2;
    c.groups = 2;
    c.heads = 2;
    c.temb_width = 8;
    return c;
}

static void make_net(dn_unet *m, const dn_unet_config *c) {
    assert_int_equal(dn_unet_init(m, c), 0);
    dn_rng r;
    dn_rng_seed(&r, 77, 0);
    dn_unet_init_random(m, &r);
}

static void make_meta(dn_model_meta *meta) {
    dn_model_meta_init(meta);
    strcpy(meta->dataset, "fashion-mnist");
    meta->n_class_names = 3;
    strcpy(meta->class_names[0], "T-shirt/top");
    strcpy(meta->class_names[1], "Trouser");
    strcpy(meta->class_names[2], "Ankle boot");
    meta->schedule = DN_BETA_COSINE;
    meta->num_train_timesteps = 500;
    meta->beta_start = 0.00085f;
    meta->beta_end = 0.012f;
    meta->train_steps = 123456;
    meta->seed = 18446744073709551615ull;
    assert_int_equal(dn_model_meta_set(meta, "lr", "0.0002"), 0);
    assert_int_equal(dn_model_meta_set(meta, "note", "trained on a laptop\nin 10 minutes"), 0);
}

static void assert_zeroed(const dn_unet *m) {
    assert_null(m->param_mem);
    assert_int_equal(m->n_params, 0);
    assert_int_equal(m->n_tensors, 0);
}

static void float32_round_trip_is_exact(void **state) {
    (void)state;
    dn_unet_config c = dn_unet_default_config(3, 32, 32, 3);
    dn_unet m, back;
    make_net(&m, &c);
    m.param_mem[5] = -0.0f;      /* signed zero and a subnormal survive too */
    m.param_mem[6] = 1e-40f;
    dn_model_meta meta, mback;
    make_meta(&meta);
    char path[512];
    snprintf(path, sizeof path, "%s/m.dfm", tu_tmpdir());
    assert_int_equal(dn_model_save(path, &m, &meta, DN_DTYPE_F32), 0);
    if (dn_model_load(path, &back, &mback)) fail_msg("%s", dn_error());
    assert_memory_equal(&back.cfg, &m.cfg, sizeof m.cfg);
    assert_int_equal(back.n_params, m.n_params);
    assert_memory_equal(back.param_mem, m.param_mem, (size_t)m.n_params * sizeof(float));
    assert_string_equal(mback.dataset, "fashion-mnist");
    assert_int_equal(mback.n_class_names, 3);
    assert_string_equal(mback.class_names[2], "Ankle boot");
    assert_int_equal(mback.schedule, DN_BETA_COSINE);
    assert_int_equal(mback.num_train_timesteps, 500);
    assert_true(mback.beta_start == meta.beta_start && mback.beta_end == meta.beta_end);
    assert_int_equal(mback.train_steps, 123456);
    assert_true(mback.seed == meta.seed);
    assert_string_equal(dn_model_meta_get(&mback, "lr"), "0.0002");
    assert_string_equal(dn_model_meta_get(&mback, "note"), "trained on a laptop\nin 10 minutes");
    assert_null(dn_model_meta_get(&mback, "missing"));
    dn_unet_free(&back);
    dn_unet_free(&m);
}

static void float16_file_is_half_size_and_rounds(void **state) {
    (void)state;
    dn_unet_config c = dn_unet_default_config(3, 32, 32, 10);
    dn_unet m, back;
    make_net(&m, &c);
    unsigned char *d32, *d16;
    size_t l32, l16;
    assert_int_equal(dn_model_encode(&d32, &l32, &m, NULL, DN_DTYPE_F32), 0);
    assert_int_equal(dn_model_encode(&d16, &l16, &m, NULL, DN_DTYPE_F16), 0);
    print_message("default U-Net: %zu bytes float32, %zu bytes float16\n", l32, l16);
    assert_true(l16 < l32 / 2 + 40000 && l16 < 8u << 20);
    if (dn_model_decode(&back, NULL, d16, l16, "<f16>")) fail_msg("%s", dn_error());
    for (long i = 0; i < m.n_params; i++) {
        float want = dn_f16_to_f32(dn_f32_to_f16(m.param_mem[i]));
        assert_true(back.param_mem[i] == want);
        tu_assert_close("f16 weight", i, (double)back.param_mem[i], (double)m.param_mem[i], 1e-7, 1.0 / 2048);
    }
    /* a weight float16 cannot hold is refused at save time */
    m.param_mem[0] = 70000.0f;
    unsigned char *bad;
    size_t lb;
    assert_int_equal(dn_model_encode(&bad, &lb, &m, NULL, DN_DTYPE_F16), -1);
    assert_non_null(strstr(dn_error(), "float16"));
    m.param_mem[0] = NAN;
    assert_int_equal(dn_model_encode(&bad, &lb, &m, NULL, DN_DTYPE_F32), -1);
    free(d32), free(d16);
    dn_unet_free(&back);
    dn_unet_free(&m);
}

static void float16_conversion(void **state) {
    (void)state;
    /* every half that is not NaN converts to float and back to itself */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = dn_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            assert_true((h & 0x7c00) == 0x7c00 && (h & 0x3ff));
            continue;
        }
        assert_int_equal(dn_f32_to_f16(f), h);
    }
    assert_true(dn_f16_to_f32(0x3c00) == 1.0f);
    assert_true(dn_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    assert_int_equal(dn_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);              /* tie: even */
    assert_int_equal(dn_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);          /* tie: even */
    assert_int_equal(dn_f32_to_f16(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)), 0x3c01);
    assert_int_equal(dn_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(dn_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(dn_f32_to_f16(65520.0f), 0x7c00);
    assert_int_equal(dn_f32_to_f16(-INFINITY), 0xfc00);
    assert_int_equal(dn_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);                      /* tie: even */
    assert_int_equal(dn_f32_to_f16(1.5f * ldexpf(1.0f, -25)), 0x0001);
    assert_int_equal(dn_f32_to_f16(3 * ldexpf(1.0f, -25)), 0x0002);                  /* tie: even */
    assert_int_equal(dn_f32_to_f16(ldexpf(1.0f, -14) * (1.0f - ldexpf(1.0f, -12))), 0x0400);
    assert_true((dn_f32_to_f16(NAN) & 0x7fff) > 0x7c00);
}

/* ---- refusals ------------------------------------------------------------------------------------- */

static unsigned char *tiny_file(size_t *len) {
    dn_unet_config c = tiny_config();
    dn_unet m;
    make_net(&m, &c);
    dn_model_meta meta;
    make_meta(&meta);
    unsigned char *d;
    assert_int_equal(dn_model_encode(&d, len, &m, &meta, DN_DTYPE_F32), 0);
    dn_unet_free(&m);
    return d;
}

/* decode must fail, leave the outputs zeroed, and say something containing `want` */
static void refused(const unsigned char *d, size_t len, const char *want) {
    dn_unet m;
    dn_model_meta meta;
    memset(&meta, 0x55, sizeof meta);
    if (dn_model_decode(&m, &meta, d, len, "x.dfm") == 0) fail_msg("accepted a bad file (%s)", want);
    assert_zeroed(&m);
    assert_int_equal(meta.n_extra, 0);
    if (!strstr(dn_error(), "'x.dfm'")) fail_msg("message does not name the file: %s", dn_error());
    if (want && !strstr(dn_error(), want)) fail_msg("expected '%s' in: %s", want, dn_error());
}

static void every_truncation_refused(void **state) {
    (void)state;
    size_t len;
    unsigned char *d = tiny_file(&len);
    dn_unet m;
    if (dn_model_decode(&m, NULL, d, len, "x.dfm")) fail_msg("%s", dn_error());
    print_message("tiny model file: %zu bytes, %ld parameters\n", len, m.n_params);
    dn_unet_free(&m);
    for (size_t n = 0; n < len; n++) refused(d, n, NULL);
    free(d);
}

static void single_byte_corruptions_refused(void **state) {
    (void)state;
    size_t len;
    unsigned char *d = tiny_file(&len);
    dn_rng r;
    dn_rng_seed(&r, 2024, 0);
    /* the whole header and metadata region, then 2000 random positions, then the checksum */
    int tried = 0;
    for (int k = 0; k < 600 + 2000 + 4; k++) {
        size_t pos = k < 600 ? (size_t)k : k < 2600 ? dn_rng_below(&r, (uint32_t)len) : len - 4 + (size_t)(k - 2600);
        unsigned char old = d[pos];
        d[pos] ^= (unsigned char)(1 + dn_rng_below(&r, 255));
        refused(d, len, NULL);
        d[pos] = old;
        tried++;
    }
    dn_unet m;
    assert_int_equal(dn_model_decode(&m, NULL, d, len, "x.dfm"), 0); /* restored intact */
    dn_unet_free(&m);
    print_message("%d single-byte corruptions refused\n", tried);
    free(d);
}

/* The offset of the first byte of the value of metadata entry `key` (a string after the key's). */
static size_t find_value(const unsigned char *d, size_t len, const char *key) {
    size_t n = strlen(key);
    for (size_t i = 4; i + n + 4 < len; i++)
        if (!memcmp(d + i, key, n) && d[i - 4] == n && !d[i - 3]) return i + n + 4;
    fail_msg("no entry '%s'", key);
    return 0;
}

/* Version 1, the format before the container, is still read (older files load and convert): the
 * same refusals, on the golden file written in that format by tests/golden/unet_twin.py. */
static void legacy_v1_forged_files_refused(void **state) {
    (void)state;
    size_t len;
    unsigned char *d, *e;
    if (dn_read_file("tests/golden/unet_small.dfm", &d, &len, 1 << 20) < 0) fail_msg("%s", dn_error());
    dn_unet ok;
    if (dn_model_decode(&ok, NULL, d, len, "x.dfm") < 0) fail_msg("%s", dn_error());
    dn_unet_free(&ok);
    e = malloc(len + 64);
    /* another version, with a valid checksum */
    memcpy(e, d, len);
    tu_put32(e + 8, 7);
    tu_refit_crc(e, len);
    refused(e, len, "version 7");
    /* another magic */
    memcpy(e, d, len);
    e[0] = 'X';
    tu_refit_crc(e, len);
    refused(e, len, "magic");
    /* an invalid config (groups 3 do not divide 4 channels), checksum re-forged */
    memcpy(e, d, len);
    tu_put32(e + 16 + 4 * 12, 3);
    tu_refit_crc(e, len);
    refused(e, len, "groups");
    /* a config asking for absurd sizes */
    memcpy(e, d, len);
    tu_put32(e + 16 + 4 * 4, 0x7fffffff);
    tu_refit_crc(e, len);
    refused(e, len, "base_width");
    /* absurd metadata count */
    size_t meta_at = 16 + 4 * 17;
    memcpy(e, d, len);
    tu_put32(e + meta_at, 0xffffffffu);
    tu_refit_crc(e, len);
    refused(e, len, "metadata entries");
    /* absurd key length */
    memcpy(e, d, len);
    tu_put32(e + meta_at + 4, 0xfffffff0u);
    tu_refit_crc(e, len);
    refused(e, len, "metadata key");
    /* a NaN weight: the last float32 of the last tensor */
    memcpy(e, d, len);
    tu_put32(e + len - 8, 0x7fc00000u);
    tu_refit_crc(e, len);
    refused(e, len, "NaN");
    tu_put32(e + len - 8, 0xff800000u);
    tu_refit_crc(e, len);
    refused(e, len, "infinite");
    /* trailing bytes after the last tensor */
    memcpy(e, d, len - 4);
    memset(e + len - 4, 0, 8);
    tu_refit_crc(e, len + 4);
    refused(e, len + 4, "unexpected bytes");
    /* a tensor shape that does not match the config: find the first "conv_in.weight" record */
    memcpy(e, d, len);
    unsigned char *p = e + tu_find(e, len, "conv_in.weight") + 14;
    tu_put32(p + 8, 5); /* dims start after dtype and rank: (OC=4, C=3, 3, 3) -> OC=5 */
    tu_refit_crc(e, len);
    refused(e, len, "size 5");
    /* a tensor named differently */
    memcpy(e, d, len);
    p = e + (p - e) - 14;
    p[0] = 'k';
    tu_refit_crc(e, len);
    refused(e, len, "konv_in.weight");
    free(d), free(e);
}

/* A container file forged field by field, with a valid checksum each time. */
static void version_magic_and_forged_files_refused(void **state) {
    (void)state;
    size_t len;
    unsigned char *d = tiny_file(&len), *e = malloc(len + 64);
    /* another version, with a valid checksum */
    memcpy(e, d, len);
    tu_put32(e + 8, 3);
    tu_refit_crc(e, len);
    refused(e, len, "version 3");
    /* another magic */
    memcpy(e, d, len);
    e[0] = 'X';
    tu_refit_crc(e, len);
    refused(e, len, "magic");
    /* another kind of file */
    memcpy(e, d, len);
    memcpy(e + 16, "xnet", 4);
    tu_refit_crc(e, len);
    refused(e, len, "not a model");
    /* an invalid config (groups 3 do not divide 4 channels), checksum re-forged */
    memcpy(e, d, len);
    e[find_value(e, len, "unet.groups")] = '3';
    tu_refit_crc(e, len);
    refused(e, len, "groups");
    /* a config asking for absurd sizes: base width 9 (odd; the file says 4) */
    memcpy(e, d, len);
    e[find_value(e, len, "unet.base_width")] = '9';
    tu_refit_crc(e, len);
    refused(e, len, "base_width");
    /* absurd metadata count (after magic, version and the kind "unet") */
    size_t meta_at = 8 + 4 + 4 + 4;
    memcpy(e, d, len);
    tu_put32(e + meta_at, 0xffffffffu);
    tu_refit_crc(e, len);
    refused(e, len, "metadata entries");
    /* absurd key length */
    memcpy(e, d, len);
    tu_put32(e + meta_at + 4, 0xfffffff0u);
    tu_refit_crc(e, len);
    refused(e, len, "metadata key");
    /* a NaN weight: the last float32 of the last tensor */
    memcpy(e, d, len);
    tu_put32(e + len - 8, 0x7fc00000u);
    tu_refit_crc(e, len);
    refused(e, len, "NaN");
    tu_put32(e + len - 8, 0xff800000u);
    tu_refit_crc(e, len);
    refused(e, len, "infinite");
    /* trailing bytes after the last tensor */
    memcpy(e, d, len - 4);
    memset(e + len - 4, 0, 8);
    tu_refit_crc(e, len + 4);
    refused(e, len + 4, "unexpected bytes");
    /* a tensor shape that does not match the config: find the first "conv_in.weight" record */
    memcpy(e, d, len);
    unsigned char *p = e + tu_find(e, len, "conv_in.weight") + 14;
    tu_put32(p + 8, 2), tu_put32(p + 12, 2); /* dims after dtype and rank: (4,1,3,3) -> (2,2,3,3), as many values */
    tu_refit_crc(e, len);
    refused(e, len, "size 2");
    /* a tensor named differently */
    memcpy(e, d, len);
    p = e + (p - e) - 14;
    p[0] = 'k';
    tu_refit_crc(e, len);
    refused(e, len, "konv_in.weight");
    /* a file on disk: the message names its path */
    char path[512];
    snprintf(path, sizeof path, "%s/broken.dfm", tu_tmpdir());
    memcpy(e, d, len);
    e[len / 2] ^= 0x10;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(e, 1, len, f);
    fclose(f);
    dn_unet m;
    assert_int_equal(dn_model_load(path, &m, NULL), -1);
    assert_non_null(strstr(dn_error(), path));
    assert_non_null(strstr(dn_error(), "checksum"));
    assert_zeroed(&m);
    snprintf(path, sizeof path, "%s/missing.dfm", tu_tmpdir());
    assert_int_equal(dn_model_load(path, &m, NULL), -1);
    assert_non_null(strstr(dn_error(), path));
    free(d), free(e);
}

static void meta_keys_validated(void **state) {
    (void)state;
    dn_model_meta meta;
    dn_model_meta_init(&meta);
    assert_int_equal(dn_model_meta_set(&meta, "bad key", "x"), -1);
    assert_int_equal(dn_model_meta_set(&meta, "seed", "1"), -1); /* a field, not an extra */
    assert_int_equal(dn_model_meta_set(&meta, "k", "a\x01"), -1);
    assert_int_equal(dn_model_meta_set(&meta, "k", "v1"), 0);
    assert_int_equal(dn_model_meta_set(&meta, "k", "v2"), 0);
    assert_int_equal(meta.n_extra, 1);
    assert_string_equal(dn_model_meta_get(&meta, "k"), "v2");
    /* what the reader would refuse is refused at save time, so a saved file always loads */
    dn_unet_config c = tiny_config();
    dn_unet m;
    make_net(&m, &c);
    unsigned char *d;
    size_t len;
    make_meta(&meta);
    strcpy(meta.class_names[1], "two\nlines");
    assert_int_equal(dn_model_encode(&d, &len, &m, &meta, DN_DTYPE_F32), -1);
    make_meta(&meta);
    meta.n_class_names = 2; /* the config has 3 classes */
    assert_int_equal(dn_model_encode(&d, &len, &m, &meta, DN_DTYPE_F32), -1);
    make_meta(&meta);
    meta.beta_end = 1.5f;
    assert_int_equal(dn_model_encode(&d, &len, &m, &meta, DN_DTYPE_F32), -1);
    make_meta(&meta);
    strcpy(meta.extra_key[0], "seed"); /* a known key smuggled in as an extra */
    assert_int_equal(dn_model_encode(&d, &len, &m, &meta, DN_DTYPE_F32), -1);
    dn_unet_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(float32_round_trip_is_exact),
        cmocka_unit_test(float16_file_is_half_size_and_rounds),
        cmocka_unit_test(float16_conversion),
        cmocka_unit_test(every_truncation_refused),
        cmocka_unit_test(single_byte_corruptions_refused),
        cmocka_unit_test(version_magic_and_forged_files_refused),
        cmocka_unit_test(legacy_v1_forged_files_refused),
        cmocka_unit_test(meta_keys_validated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
