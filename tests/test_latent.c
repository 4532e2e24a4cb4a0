/* test_latent.c — latent diffusion's glue (core/latent/latent.h), its runs (run.h with an
 * autoencoder) and the viewer on a latent model, with a tiny random autoencoder (64x64 pictures,
 * f = 4, 4 latent channels) and a tiny latent U-Net that names it:
 *   - the latent data set holds scale * mean(encode(picture)) of the pictures, with their labels;
 *   - a model finds its autoencoder relative to its own folder; a missing or mismatched one is
 *     refused with one line naming it;
 *   - a reverse run's frames equal dn_gen's latents bit for bit, and each frame's pictures are the
 *     decodings of its latents; a forward run's pixel-space picture is the formula;
 *   - the viewer opens the model, shows decoded pictures, renders every layout without a failure,
 *     and its big panel is the decoded x_t. */
#include "testutil.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/parallel.h"
#include "diffusion/generate.h"
#include "diffusion/model.h"
#include "eval/eval.h"
#include "latent/latent.h"
#include "data/image.h"
#include "render.h"
#include "view.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a tiny autoencoder in DIR/tiny-ae.dfa and a latent U-Net naming it in DIR/lat.dfm */
static const char *tiny_latent_model(void) {
    static char path[600];
    if (path[0]) return path;
    dn_ae_config ac = dn_ae_default_config();
    ac.widths[0] = 8, ac.widths[1] = 8, ac.widths[2] = 8, ac.groups = 4;
    dn_autoencoder ae;
    if (dn_ae_init(&ae, &ac)) fail_msg("%s", dn_error());
    dn_rng r;
    dn_rng_seed(&r, 3, 0);
    dn_ae_init_random(&ae, &r);
    ae.scale_factor = 1.75f;
    char ap[600];
    snprintf(ap, sizeof ap, "%s/tiny-ae.dfa", tu_tmpdir());
    if (dn_ae_save(ap, &ae, DN_DTYPE_F32)) fail_msg("%s", dn_error());
    dn_ae_free(&ae);
    dn_unet_config c = dn_unet_default_config(4, 16, 16, 2);
    c.base_width = 8, c.n_levels = 2, c.mults[2] = 0, c.attn_levels = 0, c.groups = 2, c.temb_width = 16;
    dn_unet m;
    if (dn_unet_init(&m, &c) < 0) fail_msg("%s", dn_error());
    dn_unet_init_random(&m, &r);
    dn_model_meta meta;
    dn_model_meta_init(&meta);
    snprintf(meta.dataset, sizeof meta.dataset, "pets64");
    meta.n_class_names = 2;
    snprintf(meta.class_names[0], sizeof meta.class_names[0], "cat");
    snprintf(meta.class_names[1], sizeof meta.class_names[1], "dog");
    dn_model_meta_set(&meta, DN_LATENT_KEY, "tiny-ae.dfa");
    snprintf(path, sizeof path, "%s/lat.dfm", tu_tmpdir());
    if (dn_model_save(path, &m, &meta, DN_DTYPE_F32) < 0) fail_msg("%s", dn_error());
    dn_unet_free(&m);
    return path;
}

static void load(dn_unet *net, dn_model_meta *meta, dn_autoencoder *ae) {
    if (dn_model_load(tiny_latent_model(), net, meta)) fail_msg("%s", dn_error());
    assert_int_equal(dn_latent_autoencoder(tiny_latent_model(), dn_model_meta_get(meta, DN_LATENT_KEY), &net->cfg, ae), 1);
}

static void latent_data_is_the_scaled_means(void **state) {
    (void)state;
    dn_unet net;
    dn_model_meta meta;
    dn_autoencoder ae;
    load(&net, &meta, &ae);
    dn_data pics, lat;
    assert_int_equal(dn_data_open(&pics, "pets64", 0, NULL), 0);
    if (dn_latent_data(&lat, &ae, &pics, 40)) fail_msg("%s", dn_error()); /* a batch of 32, then 8 */
    assert_int_equal(lat.n, 40);
    assert_int_equal(lat.kind, DN_DATA_MEMORY);
    assert_int_equal(lat.channels, 4);
    assert_int_equal(lat.height, 16);
    assert_string_equal(lat.name, "pets64");
    assert_int_equal(lat.num_classes, 2);
    enum { P = 3 * 64 * 64, Z = 4 * 16 * 16 };
    float *x = malloc(P * sizeof(float)), z[Z], got[Z];
    assert_non_null(x);
    dn_ae_acts a;
    assert_int_equal(dn_ae_acts_alloc(&a, &ae, 1, 64, 64), 0);
    for (long i = 0; i < 40; i += 13) {
        int y, ly;
        dn_data_batch(&pics, x, &y, &i, 1);
        dn_data_batch(&lat, got, &ly, &i, 1);
        assert_int_equal(y, ly);
        dn_ae_encode(&ae, &a, z, x, 1);
        for (int j = 0; j < Z; j++) assert_true(got[j] == z[j] * 1.75f);
    }
    /* pictures, then their reconstructions, with the same labels (for a classifier of samples) */
    dn_data both;
    if (dn_latent_with_reconstructions(&both, &ae, &pics, 5)) fail_msg("%s", dn_error());
    assert_int_equal(both.n, 10);
    assert_int_equal(both.height, 64);
    float *rec = malloc(P * sizeof(float)), *item = malloc(P * sizeof(float));
    assert_non_null(rec);
    assert_non_null(item);
    for (long i = 0; i < 5; i++) {
        int y, yb, yr;
        long j = i + 5;
        dn_data_batch(&pics, x, &y, &i, 1);
        dn_data_batch(&both, item, &yb, &i, 1);
        assert_memory_equal(item, x, P * sizeof(float));
        dn_ae_encode(&ae, &a, z, x, 1);
        dn_ae_decode(&ae, &a, rec, z, 1);
        dn_data_batch(&both, item, &yr, &j, 1);
        assert_memory_equal(item, rec, P * sizeof(float));
        assert_int_equal(y, yb);
        assert_int_equal(y, yr);
    }
    free(rec), free(item);
    dn_data_close(&both);
    free(x);
    dn_ae_acts_free(&a);
    dn_data_close(&lat);
    dn_data_close(&pics);
    dn_ae_free(&ae);
    dn_unet_free(&net);
}

static void model_names_its_autoencoder(void **state) {
    (void)state;
    dn_unet net;
    dn_model_meta meta;
    dn_autoencoder ae;
    load(&net, &meta, &ae);
    assert_true(ae.scale_factor == 1.75f);
    dn_ae_free(&ae);
    /* a pixel model names none */
    dn_unet pn;
    dn_model_meta pm;
    if (dn_model_load(tu_tiny_model(), &pn, &pm)) fail_msg("%s", dn_error());
    assert_int_equal(dn_latent_autoencoder(tu_tiny_model(), dn_model_meta_get(&pm, DN_LATENT_KEY), &pn.cfg, &ae), 0);
    assert_null(ae.param_mem);
    /* a missing file is named */
    dn_model_meta_set(&meta, DN_LATENT_KEY, "gone.dfa");
    assert_int_equal(dn_latent_autoencoder(tiny_latent_model(), dn_model_meta_get(&meta, DN_LATENT_KEY), &net.cfg, &ae), -1);
    assert_non_null(strstr(dn_error(), "gone.dfa"));
    /* one that makes other latents is refused */
    dn_model_meta_set(&meta, DN_LATENT_KEY, "tiny-ae.dfa");
    assert_int_equal(dn_latent_autoencoder(tiny_latent_model(), dn_model_meta_get(&meta, DN_LATENT_KEY), &pn.cfg, &ae), -1);
    assert_non_null(strstr(dn_error(), "channels"));
    dn_unet_free(&pn);
    dn_unet_free(&net);
}

static void runs_decode_their_frames(void **state) {
    (void)state;
    dn_unet net;
    dn_model_meta meta;
    dn_autoencoder ae;
    load(&net, &meta, &ae);
    dn_sched sc;
    assert_int_equal(dn_sched_init(&sc, meta.schedule, meta.num_train_timesteps, meta.beta_start, meta.beta_end), 0);
    enum { P = 3 * 64 * 64, Z = 4 * 16 * 16 };
    dn_run_config c;
    memset(&c, 0, sizeof c);
    c.mode = DN_RUN_REVERSE, c.net = &net, c.sched = &sc, c.channels = 4, c.height = c.width = 16;
    dn_sampler_config_recommended(&c.sampler, DN_DDIM, 5);
    c.class_id = 1, c.cfg_scale = 3, c.seed = 9, c.ae = &ae;
    dn_run *r = dn_run_start(&c);
    if (!r) fail_msg("%s", dn_error());
    /* the same sample from dn_gen, and the decodings recomputed */
    int id = 1;
    dn_gen g;
    assert_int_equal(dn_gen_init(&g, &net, &sc, &c.sampler, 1, &id, 3, 9), 0);
    float *pic = malloc(P * sizeof(float)), zs[Z];
    assert_non_null(pic);
    for (int k = 0; k < dn_run_frames(r); k++) {
        const dn_run_frame *f = dn_run_frame_wait(r, k);
        assert_non_null(f);
        assert_memory_equal(f->x, g.x, Z * sizeof(float));
        assert_non_null(f->pic);
        for (int j = 0; j < Z; j++) zs[j] = f->x[j] * f->scale;
        assert_int_equal(dn_latent_decode(&ae, pic, zs, 1, 16, 16), 0);
        assert_memory_equal(f->pic, pic, P * sizeof(float));
        if (f->has_pred) {
            assert_non_null(f->pic0);
            assert_int_equal(dn_latent_decode(&ae, pic, f->x0_pred, 1, 16, 16), 0);
            assert_memory_equal(f->pic0, pic, P * sizeof(float));
        } else {
            assert_null(f->pic0);
        }
        assert_null(f->pic_noised);
        if (g.i < g.sp.n) assert_int_equal(dn_gen_step(&g, NULL, NULL), 0);
    }
    dn_gen_free(&g);
    dn_run_free(r);

    /* forward: the latent of a picture, and the picture noised in pixels beside it */
    float *x0 = malloc(P * sizeof(float)), z0[Z];
    assert_non_null(x0);
    dn_data d;
    assert_int_equal(dn_data_open(&d, "pets64", 0, NULL), 0);
    long i0 = 0;
    dn_data_batch(&d, x0, NULL, &i0, 1);
    dn_data_close(&d);
    assert_int_equal(dn_latent_encode(&ae, z0, x0, 1, 64, 64), 0);
    c.mode = DN_RUN_FORWARD, c.x0 = z0, c.x0_pic = x0;
    r = dn_run_start(&c);
    if (!r) fail_msg("%s", dn_error());
    const dn_run_frame *f0 = dn_run_frame_wait(r, 0), *f3 = dn_run_frame_wait(r, 3);
    assert_non_null(f0);
    assert_non_null(f3);
    assert_memory_equal(f0->x, z0, sizeof z0);
    assert_null(f0->pic_noised);
    assert_non_null(f3->pic_noised);
    dn_rng pr;
    dn_rng_seed(&pr, 9, 1);
    float sa = sqrtf(f3->alpha_bar), sb = sqrtf(1.0f - f3->alpha_bar);
    for (int j = 0; j < P; j++) assert_true(f3->pic_noised[j] == sa * x0[j] + sb * dn_rng_normal(&pr));
    dn_run_free(r);
    free(x0);
    free(pic);
    dn_sched_free(&sc);
    dn_ae_free(&ae);
    dn_unet_free(&net);
}

static void viewer_shows_decoded_pictures(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        dn_view_settings s;
        dn_view_settings_default(&s);
        s.mode = mode ? DN_RUN_REVERSE : DN_RUN_FORWARD;
        s.steps = 6;
        snprintf(s.model, sizeof s.model, "%s", tiny_latent_model());
        dn_view v;
        if (dn_view_init(&v, &s) < 0) fail_msg("dn_view_init: %s", dn_error());
        assert_int_equal(v.latent, 1);
        assert_int_equal(v.channels, 3);
        assert_int_equal(v.height, 64);
        assert_int_equal(v.lat_channels, 4);
        assert_int_equal(v.lat_height, 16);
        assert_int_equal(dn_run_config_of(v.run)->sampler.clip_sample, 0); /* latents are never clipped to [-1, 1] */
        for (int k = 0; k < dn_view_frames(&v); k++) assert_non_null(dn_run_frame_wait(v.run, k));
        v.k = 3;
        for (int layout = 0; layout < 2; layout++) {
            v.look.layout = layout ? DN_LAYOUT_PRESENTER : DN_LAYOUT_DASHBOARD;
            dn_canvas cv = {0};
            dn_render_fonts f = {0};
            if (dn_canvas_init(&cv, 1280, 720, 0) < 0 || dn_render_fonts_fit(&f, 1280, 720) < 0) fail_msg("%s", dn_error());
            if (dn_render(&cv, &v, &f) < 0) fail_msg("render: %s", dn_error());
            /* the big panel holds the decoded x_t: its centre pixel is that picture's */
            dn_layout L;
            dn_render_layout(&L, &v, 1280, 720);
            const dn_run_frame *fr = dn_view_frame(&v, NULL);
            int zoom = L.big_img.w / 64, px = 32, py = 32;
            uint32_t got = cv.px[(L.big_img.y + py * zoom + zoom / 2) * cv.w + L.big_img.x + px * zoom + zoom / 2];
            unsigned char want[3];
            for (int ch = 0; ch < 3; ch++) want[ch] = dn_unit_to_byte(fr->pic[(ch * 64 + py) * 64 + px]);
            assert_int_equal((got >> 16) & 255, want[0]);
            assert_int_equal((got >> 8) & 255, want[1]);
            assert_int_equal(got & 255, want[2]);
            dn_canvas_free(&cv);
            dn_render_fonts_close(&f);
        }
        dn_view_free(&v);
    }
}

/* The autoencoder's round trip as eval measures it: the PSNR is dn_psnr over the pictures and
 * their reconstructions, the accuracies the classifier's on each. */
static void reconstruction_is_measured(void **state) {
    (void)state;
    dn_unet net;
    dn_model_meta meta;
    dn_autoencoder ae;
    load(&net, &meta, &ae);
    dn_cls_config cc = dn_cls_default_config(3, 64, 64, 2);
    dn_classifier cls;
    assert_int_equal(dn_cls_init(&cls, &cc), 0);
    dn_rng r;
    dn_rng_seed(&r, 4, 0);
    dn_cls_init_random(&cls, &r);
    dn_data test;
    assert_int_equal(dn_data_open(&test, "pets64", 1, NULL), 0);
    double acc, acc_rec, psnr;
    if (dn_eval_reconstruction(&ae, &cls, &test, 70, &acc, &acc_rec, &psnr)) fail_msg("%s", dn_error());
    /* by hand */
    enum { P = 3 * 64 * 64, Z = 4 * 16 * 16, N = 70 };
    float *x = malloc((size_t)N * P * sizeof(float)), *y = malloc((size_t)N * P * sizeof(float)), *z = malloc((size_t)N * Z * sizeof(float));
    float *p = malloc((size_t)N * 2 * sizeof(float));
    int lab[N];
    long idx[N];
    for (int i = 0; i < N; i++) idx[i] = i;
    dn_data_batch(&test, x, lab, idx, N);
    dn_ae_acts a;
    assert_int_equal(dn_ae_acts_alloc(&a, &ae, 8, 64, 64), 0);
    dn_ae_encode(&ae, &a, z, x, N);
    dn_ae_decode(&ae, &a, y, z, N);
    tu_assert_close("round-trip PSNR", 0, psnr, dn_psnr(x, y, (long)N * P), 1e-9, 1e-9);
    int right = 0, right_rec = 0;
    assert_int_equal(dn_cls_apply(&cls, NULL, p, x, N), 0);
    for (int i = 0; i < N; i++) right += (p[2 * i + 1] > p[2 * i]) == lab[i];
    assert_int_equal(dn_cls_apply(&cls, NULL, p, y, N), 0);
    for (int i = 0; i < N; i++) right_rec += (p[2 * i + 1] > p[2 * i]) == lab[i];
    tu_assert_close("accuracy", 0, acc, right / 70.0, 1e-12, 0);
    tu_assert_close("accuracy on reconstructions", 0, acc_rec, right_rec / 70.0, 1e-12, 0);
    free(x), free(y), free(z), free(p);
    dn_ae_acts_free(&a);
    dn_data_close(&test);
    dn_cls_free(&cls);
    dn_ae_free(&ae);
    dn_unet_free(&net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(latent_data_is_the_scaled_means),
        cmocka_unit_test(model_names_its_autoencoder),
        cmocka_unit_test(runs_decode_their_frames),
        cmocka_unit_test(viewer_shows_decoded_pictures),
        cmocka_unit_test(reconstruction_is_measured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
