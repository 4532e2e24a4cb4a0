/* test_render.c — the viewer's renderer offscreen (viz/render.h): the big x_t panel holds exactly
 * the image's pixels where the layout says, at 1280x720 and 1920x1080; text is drawn; frames are
 * deterministic and change with the step; the help overlay, overlay, guidance breakdown and a
 * run without a model draw without trouble; the timeline picks frames; and the exporter writes
 * PNGs that are pixel for pixel the rendered frame, a contact sheet and a GIF. */
#include "testutil.h"
#include "base/err.h"
#include "base/parallel.h"
#include "base/fileio.h"
#include "data/image.h"
#include "diffusion/model.h"
#include "render.h"
#include "view.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void open_view(dn_view *v, int with_model, dn_run_mode mode, int steps) {
    dn_view_settings s;
    dn_view_settings_default(&s);
    s.mode = mode;
    s.steps = steps;
    if (with_model) snprintf(s.model, sizeof s.model, "%s", tu_tiny_model());
    if (dn_view_init(v, &s) < 0) fail_msg("dn_view_init: %s", dn_error());
}

/* Render the view's frame k (waiting for it) into a new w x h canvas. */
static void render_at(dn_canvas *cv, dn_render_fonts *f, dn_view *v, int k, int w, int h) {
    assert_non_null(dn_run_frame_wait(v->run, dn_view_frames(v) - 1)); /* the run's drift scale: all of it */
    dn_view_act(v, (dn_action){DN_ACT_SCRUB_TO, k});
    assert_int_equal(v->k, k);
    if (dn_canvas_init(cv, w, h, 0) < 0 || dn_render_fonts_fit(f, w, h) < 0) fail_msg("%s", dn_error());
    if (dn_render(cv, v, f) < 0) fail_msg("dn_render: %s", dn_error());
}

/* Every pixel of the big panel's image area is the image pixel it magnifies. */
static void check_big_panel(const dn_canvas *cv, const dn_view *v, const float *x) {
    dn_layout L;
    dn_render_layout(&L, v, cv->w, cv->h);
    assert_int_equal(L.big_img.w, L.zoom * v->width);
    assert_int_equal(L.big_img.h, L.zoom * v->height);
    assert_true(L.big_img.x >= 0 && L.big_img.y >= 0 && L.big_img.x + L.big_img.w <= cv->w &&
                L.big_img.y + L.big_img.h <= cv->h);
    long plane = (long)v->height * v->width;
    for (int y = 0; y < L.big_img.h; y++)
        for (int xx = 0; xx < L.big_img.w; xx++) {
            long p = (long)(y / L.zoom) * v->width + xx / L.zoom;
            uint32_t want = DN_RGB(dn_unit_to_byte(x[p]), dn_unit_to_byte(x[plane + p]), dn_unit_to_byte(x[2 * plane + p]));
            uint32_t got = cv->px[(long)(L.big_img.y + y) * cv->w + L.big_img.x + xx];
            if (got != want) fail_msg("big panel pixel (%d, %d): %08x, want %08x", xx, y, got, want);
        }
    /* the bottom corners are the plain background, the dark of a projector-friendly screen */
    uint32_t corner = cv->px[(long)(cv->h - 1) * cv->w];
    assert_int_equal(corner, cv->px[(long)cv->h * cv->w - 1]);
    assert_true(((corner >> 16) & 255) < 40 && ((corner >> 8) & 255) < 40 && (corner & 255) < 40);
}

/* Pixels in a rectangle brighter than 200 in every channel (text is white-ish on dark). */
static long bright(const dn_canvas *cv, dn_rect r) {
    long n = 0;
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++) {
            uint32_t p = cv->px[(long)y * cv->w + x];
            if (((p >> 16) & 255) > 200 && ((p >> 8) & 255) > 200 && (p & 255) > 200) n++;
        }
    return n;
}

static void big_panel_exact_at_both_sizes(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 0, DN_RUN_FORWARD, 20);
    const int sizes[2][2] = {{1280, 720}, {1920, 1080}};
    const int zooms[2] = {12, 18}; /* a 32 px image in the 400 px box, 1x and 1.5x */
    for (int i = 0; i < 2; i++) {
        dn_canvas cv = {0};
        dn_render_fonts f = {0};
        render_at(&cv, &f, &v, 7, sizes[i][0], sizes[i][1]);
        dn_layout L;
        dn_render_layout(&L, &v, cv.w, cv.h);
        assert_int_equal(L.zoom, zooms[i]);
        check_big_panel(&cv, &v, dn_run_frame_wait(v.run, 7)->x);
        /* text: the step counter in the header and the numbers block are drawn */
        assert_true(bright(&cv, L.header) > 200);
        assert_true(bright(&cv, L.numbers) > 200);
        assert_true(bright(&cv, L.caption) > 200);
        /* the timeline's cursor: a bright vertical line inside the plot */
        long cursor = 0;
        for (int x = L.plot.x; x < L.plot.x + L.plot.w; x++) {
            uint32_t p = cv.px[(long)(L.plot.y + L.plot.h / 2) * cv.w + x];
            if (p == DN_RGB(245, 245, 245)) cursor++;
        }
        assert_true(cursor >= 2 && cursor <= 8);
        dn_render_fonts_close(&f);
        dn_canvas_free(&cv);
    }
    dn_view_free(&v);
}

/* Euler's samples live at scale sqrt(sigma^2 + 1); the big panel shows them at the
 * variance-preserving scale, x sqrt(abar), like every other sampler's (and DDIM's is unscaled). */
static void euler_x_shown_at_unit_scale(void **state) {
    (void)state;
    dn_view_settings s;
    dn_view_settings_default(&s);
    s.mode = DN_RUN_REVERSE;
    s.steps = 10;
    snprintf(s.model, sizeof s.model, "%s", tu_tiny_model());
    for (int k = 0; k < 2; k++) {
        s.sampler = k ? DN_EULER : DN_DDIM;
        dn_view v;
        if (dn_view_init(&v, &s) < 0) fail_msg("dn_view_init: %s", dn_error());
        dn_canvas cv = {0};
        dn_render_fonts f = {0};
        render_at(&cv, &f, &v, 2, 1280, 720);
        const dn_run_frame *fr = dn_run_frame_wait(v.run, 2);
        long n = (long)v.channels * v.height * v.width;
        float *want = malloc(sizeof(float) * (size_t)n);
        float sc = k ? sqrtf(fr->alpha_bar) : 1.0f, big = 0;
        for (long i = 0; i < n; i++) want[i] = fr->x[i] * sc, big = fmaxf(big, fabsf(fr->x[i]));
        if (k) assert_true(sc < 0.5f && big > 2.0f); /* Euler's x is large early on: the scaling matters */
        check_big_panel(&cv, &v, want);
        free(want);
        dn_render_fonts_close(&f);
        dn_canvas_free(&cv);
        dn_view_free(&v);
    }
}

static void deterministic_and_changes_with_step(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_FORWARD, 10);
    dn_canvas a = {0}, b = {0}, c = {0};
    dn_render_fonts f = {0};
    render_at(&a, &f, &v, 3, 1280, 720);
    render_at(&b, &f, &v, 3, 1280, 720);
    assert_memory_equal(a.px, b.px, sizeof(uint32_t) * 1280 * 720); /* same state, same pixels */
    render_at(&c, &f, &v, 4, 1280, 720);
    dn_layout L;
    dn_render_layout(&L, &v, 1280, 720);
    long diff_big = 0;
    for (int y = L.big_img.y; y < L.big_img.y + L.big_img.h; y++)
        for (int x = L.big_img.x; x < L.big_img.x + L.big_img.w; x++) diff_big += a.px[y * 1280 + x] != c.px[y * 1280 + x];
    assert_true(diff_big > L.big_img.w * L.big_img.h / 4); /* the image moved on a step */
    check_big_panel(&c, &v, dn_run_frame_wait(v.run, 4)->x);
    /* help overlay: the centre of the screen changes, the layout under it stays */
    v.help = 1;
    dn_render(&b, &v, &f);
    long diff_help = 0;
    for (long i = 0; i < 1280L * 720; i++) diff_help += b.px[i] != c.px[i];
    assert_true(diff_help > 100000);
    assert_int_equal(b.px[5], c.px[5]);
    v.help = 0;
    dn_render_fonts_close(&f);
    dn_canvas_free(&a), dn_canvas_free(&b), dn_canvas_free(&c);
    dn_view_free(&v);
}

static void every_mode_draws(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_REVERSE, 10);
    dn_canvas cv = {0};
    dn_render_fonts f = {0};
    render_at(&cv, &f, &v, 2, 1280, 720);
    check_big_panel(&cv, &v, dn_run_frame_wait(v.run, 2)->x);
    /* overlay: the big panel now mixes the predicted noise in, so it differs from x_t */
    dn_view_act(&v, DN_ACT(DN_ACT_OVERLAY_TOGGLE));
    assert_int_equal(dn_render(&cv, &v, &f), 0);
    dn_layout L;
    dn_render_layout(&L, &v, 1280, 720);
    const float *x = dn_run_frame_wait(v.run, 2)->x;
    long same = 0, plane = (long)v.width * v.height;
    for (int py = 0; py < v.height; py++)
        for (int px = 0; px < v.width; px++) {
            long p = (long)py * v.width + px;
            uint32_t want = DN_RGB(dn_unit_to_byte(x[p]), dn_unit_to_byte(x[plane + p]), dn_unit_to_byte(x[2 * plane + p]));
            same += cv.px[(long)(L.big_img.y + py * L.zoom + L.zoom / 2) * 1280 + L.big_img.x + px * L.zoom + L.zoom / 2] == want;
        }
    assert_true(same < plane / 4);
    dn_view_act(&v, DN_ACT(DN_ACT_OVERLAY_TOGGLE));
    dn_view_act(&v, DN_ACT(DN_ACT_GUIDANCE_TOGGLE));
    assert_int_equal(dn_render(&cv, &v, &f), 0);
    dn_view_act(&v, DN_ACT(DN_ACT_LAST)); /* last frame: no prediction, no move */
    assert_non_null(dn_run_frame_wait(v.run, v.k));
    assert_int_equal(dn_render(&cv, &v, &f), 0);
    dn_view_act(&v, DN_ACT(DN_ACT_GUIDANCE_TOGGLE));
    assert_int_equal(dn_render(&cv, &v, &f), 0);
    /* img2img: the timeline shades the part that is denoised */
    dn_view_act(&v, DN_ACT(DN_ACT_MODE_TOGGLE));
    dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, 6});
    dn_view_act(&v, DN_ACT(DN_ACT_IMG2IMG));
    assert_non_null(dn_run_frame_wait(v.run, v.k)); /* a new run: draw its frame, not "computing" */
    assert_int_equal(dn_render(&cv, &v, &f), 0);
    /* a caption from a lesson replaces the explanation */
    snprintf(v.set.caption, sizeof v.set.caption, "A caption long enough to need wrapping onto a second line when the "
                                                  "layout is 1280 pixels wide, as lessons write them.");
    assert_int_equal(dn_render(&cv, &v, &f), 0);
    assert_true(bright(&cv, L.caption) > 500);
    /* odd window sizes: no crash */
    dn_canvas small = {0};
    dn_render_fonts fs = {0};
    assert_int_equal(dn_canvas_init(&small, 333, 777, 0), 0);
    assert_int_equal(dn_render_fonts_fit(&fs, 333, 777), 0);
    assert_int_equal(dn_render(&small, &v, &fs), 0);
    dn_render_fonts_close(&fs);
    dn_canvas_free(&small);
    dn_render_fonts_close(&f);
    dn_canvas_free(&cv);
    dn_view_free(&v);
}

/* The header's sentence agrees with the picture: "an" before a vowel ("into an Ankle boot", not
 * "a Ankle boot"), and at guidance 0, where the sample is the unconditional one, it says the
 * class is ignored instead of promising a cat. */
static void headline_says_what_is_shown(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_REVERSE, 4);
    char h[256];
    v.set.cond = 1, v.set.class_id = 0, v.set.cfg_scale = 3.0f;
    dn_render_headline(&v, h, sizeof h);
    assert_string_equal(h, "denoising pure noise into a cat");
    snprintf(v.meta.class_names[0], sizeof v.meta.class_names[0], "Ankle boot");
    dn_render_headline(&v, h, sizeof h);
    assert_string_equal(h, "denoising pure noise into an Ankle boot");
    v.set.cfg_scale = 0.0f;
    dn_render_headline(&v, h, sizeof h);
    assert_null(strstr(h, "Ankle boot"));
    assert_non_null(strstr(h, "ignores the class"));
    v.set.cond = 0;
    dn_render_headline(&v, h, sizeof h);
    assert_string_equal(h, "denoising pure noise (no condition)");
    dn_view_free(&v);
    /* img2img from forward step 3 of 4 counts the way the forward run did (3 steps of noise put
     * in, at that step's t), not in sampler steps left (it said "from step 1 of 4") */
    open_view(&v, 1, DN_RUN_FORWARD, 4);
    const dn_run_frame *f = dn_run_frame_wait(v.run, 3);
    assert_non_null(f);
    float t3 = f->t;
    dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, 3});
    assert_int_equal(dn_view_act(&v, DN_ACT(DN_ACT_IMG2IMG)), 1);
    dn_render_headline(&v, h, sizeof h);
    char want[64];
    snprintf(want, sizeof want, "from t = %g (3 of 4 steps of noise)", (double)t3);
    if (!strstr(h, want)) fail_msg("headline '%s' lacks '%s'", h, want);
    dn_view_free(&v);
}

/* rows y0..y1 x columns x0..x1 of two canvases agree */
static int same_rect(const dn_canvas *a, const dn_canvas *b, int x0, int y0, int x1, int y1) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            if (a->px[(long)y * a->w + x] != b->px[(long)y * b->w + x]) return 0;
    return 1;
}

/* While a run catches up (here: it cannot go on past frame 0, its worker out of kernel memory),
 * the header's step number and the timeline's cursor are those of the picture on screen, not of
 * the step asked for (they said "step 4 / 6" with the cursor at step 4 beside the picture of step
 * 0): the same pixels there as a view showing step 0 normally. */
static void header_and_timeline_follow_the_picture(void **state) {
    (void)state;
    dn_view a, b;
    dn_workspace_limit(64); /* the new run's worker cannot evaluate the U-Net: only frame 0 exists */
    open_view(&a, 1, DN_RUN_FORWARD, 6);
    assert_null(dn_run_frame_wait(a.run, 1));
    dn_workspace_limit(0);
    (void)dn_workspace_check();
    dn_view_act(&a, (dn_action){DN_ACT_SCRUB_TO, 4});
    assert_int_equal(a.k, 4);
    int shown = -1;
    assert_non_null(dn_view_frame(&a, &shown));
    assert_int_equal(shown, 0);
    open_view(&b, 1, DN_RUN_FORWARD, 6);
    assert_non_null(dn_run_frame_wait(b.run, 6));
    a.message[0] = b.message[0] = 0;
    int W = 1280, Hh = 720;
    dn_canvas ca, cb;
    dn_render_fonts f = {0};
    if (dn_canvas_init(&ca, W, Hh, 0) < 0 || dn_canvas_init(&cb, W, Hh, 0) < 0 || dn_render_fonts_fit(&f, W, Hh) < 0)
        fail_msg("%s", dn_error());
    if (dn_render(&ca, &a, &f) < 0 || dn_render(&cb, &b, &f) < 0) fail_msg("%s", dn_error());
    dn_layout L;
    dn_render_layout(&L, &a, W, Hh);
    int rx = L.numbers.x + L.numbers.w;
    /* the step number: the right end of the header */
    assert_true(same_rect(&ca, &cb, rx - (int)(170 * L.s), L.header.y, rx, L.header.y + L.header.h));
    /* the cursor at t = 0: the left end of a forward run's timeline */
    assert_true(same_rect(&ca, &cb, L.plot.x, L.plot.y, L.plot.x + (int)(6 * L.s), L.plot.y + L.plot.h));
    /* and the header says why step 4 does not come (the run failed), not "computing" forever */
    char log[8192];
    dn_render_opts o;
    dn_render_opts_screen(&o, &a);
    o.log = log, o.log_size = sizeof log;
    assert_int_equal(dn_render_with(&ca, &a, &f, &o), 0);
    assert_non_null(strstr(log, "cannot compute step 4: "));
    assert_non_null(strstr(log, "out of memory"));
    dn_canvas_free(&ca), dn_canvas_free(&cb);
    dn_render_fonts_close(&f);
    dn_view_free(&a), dn_view_free(&b);
}

/* No two frames both read "t = 0": the clean frames (a forward run's start, a reverse run's end)
 * say clean, and a frame at t = 0 that still has beta_0's noise says so (the reverse run's end
 * used to read "0 of 1000", like the frame before it, beside alpha-bar 1). */
static void clean_frames_and_t0_are_told_apart(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        dn_view v;
        open_view(&v, 1, mode ? DN_RUN_REVERSE : DN_RUN_FORWARD, 5);
        int K = dn_view_frames(&v) - 1, cleans = 0, zeros = 0;
        char h[96];
        for (int k = 0; k <= K; k++) {
            const dn_run_frame *f = dn_run_frame_wait(v.run, k);
            assert_non_null(f);
            dn_render_t_label(&v, f, h, sizeof h);
            if (f->alpha_bar >= 1.0f) {
                assert_true(!strncmp(h, "clean", 5));
                cleans++;
            } else if (f->t == 0.0f) {
                assert_non_null(strstr(h, "beta_0"));
                zeros++;
            } else assert_null(strstr(h, "clean"));
        }
        print_message("%s: %d clean frame(s), %d at t = 0 with noise\n", mode ? "reverse" : "forward", cleans, zeros);
        assert_int_equal(cleans, 1);
        /* the clean frame is the first going forward, the last going back */
        const dn_run_frame *c = dn_run_frame_wait(v.run, mode ? K : 0);
        assert_true(c->alpha_bar >= 1.0f);
        dn_view_free(&v);
    }
}

/* The timeline runs the way the Right key moves the cursor, in both modes: forward from t = 0
 * (left) to T-1 (right), reverse from T-1 (left) to 0 (right); so the last frame of either run is
 * at the right end (it used to be at the left end going forward: Right moved the cursor left). */
static void timeline_picks_frames(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 0, DN_RUN_FORWARD, 10);
    dn_layout L;
    dn_render_layout(&L, &v, 1280, 720);
    int y = L.plot.y + L.plot.h / 2;
    /* forward: the left end is t = 0 (frames 0 and 1 both sit there: the cursor's frame 0 wins),
     * the right end t = 900, the noisiest frame */
    assert_int_equal(dn_render_timeline_pick(&v, 1280, 720, L.plot.x, y), 0);
    assert_int_equal(dn_render_timeline_pick(&v, 1280, 720, L.plot.x + L.plot.w - 1, y), 10);
    /* half way (t about 500) is DDIM's t = 500: frame 6 of 10 (t = 0, 0, 100, ..., 900) */
    float t6 = dn_run_t(v.run, 6);
    assert_true(fabsf(t6 - 500) < 1e-3f);
    int mid = L.plot.x + (int)lroundf(500.0f / 999.0f * (float)(L.plot.w - 1));
    assert_int_equal(dn_render_timeline_pick(&v, 1280, 720, mid, y), 6);
    assert_int_equal(dn_render_timeline_pick(&v, 1280, 720, mid, L.big.y + 10), -1); /* not on the timeline */
    /* every Right moves the frame's place on the timeline to the right (or keeps it) */
    for (int mode = 0; mode < 2; mode++) {
        dn_view r;
        open_view(&r, 1, mode ? DN_RUN_REVERSE : DN_RUN_FORWARD, 8);
        for (int pres = 0; pres < 2; pres++) {
            r.look.layout = pres ? DN_LAYOUT_PRESENTER : DN_LAYOUT_DASHBOARD;
            dn_render_layout(&L, &r, 1280, 720);
            y = L.plot.y + L.plot.h / 2;
            int K = dn_view_frames(&r) - 1, prev = -1;
            int end = dn_render_timeline_pick(&r, 1280, 720, L.plot.x + L.plot.w - 1, y);
            assert_true(end == K || dn_run_t(r.run, end) == dn_run_t(r.run, K)); /* reverse: K-1 and K at t = 0 */
            for (int x = L.plot.x; x < L.plot.x + L.plot.w; x += 7) {
                int k = dn_render_timeline_pick(&r, 1280, 720, x, y);
                if (k != K || prev != 0) assert_true(k >= prev); /* ties at t = 0 may pick either */
                prev = k;
            }
        }
        dn_view_free(&r);
    }
    dn_view_free(&v);
}


/* Render frame k of v at w x h with its text log (the screen's view unless `exporting`). */
static void render_log(dn_view *v, int k, int w, int h, int exporting, char *log, size_t size, dn_canvas *keep) {
    assert_non_null(dn_run_frame_wait(v->run, dn_view_frames(v) - 1));
    dn_view_act(v, (dn_action){DN_ACT_SCRUB_TO, k});
    dn_canvas cv = {0};
    dn_render_fonts f = {0};
    if (dn_canvas_init(&cv, w, h, 0) < 0 || dn_render_fonts_fit(&f, w, h) < 0) fail_msg("%s", dn_error());
    dn_render_opts o;
    dn_render_opts_screen(&o, v);
    o.exporting = exporting, o.log = log, o.log_size = size;
    if (dn_render_with(&cv, v, &f, &o) < 0) fail_msg("%s", dn_error());
    dn_render_fonts_close(&f);
    if (keep) *keep = cv;
    else dn_canvas_free(&cv);
}

/* The presenter layout is readable from the back of a room: at 1080p captions are at least 32 px
 * and every label at least 22 px, x_t takes more than a third of the width (the dashboard's was
 * 30%), and it shows only panels that have something to show (no empty boxes: at the last frame
 * of a reverse run there is no prediction, and the panels that would be empty are left out). */
static void presenter_is_large(void **state) {
    (void)state;
    dn_render_fonts f = {0};
    assert_int_equal(dn_render_fonts_fit(&f, 1920, 1080), 0);
    print_message("1080p: caption %d px, label %d px, notes %d px, title %d px\n", f.caption.px, f.label.px, f.small.px,
                  f.title.px);
    assert_true(f.caption.px >= 32);
    assert_true(f.label.px >= 22 && f.small.px >= 22 && f.body.px >= 22 && f.mono.px >= 22);
    dn_render_fonts_close(&f);
    dn_view v;
    open_view(&v, 1, DN_RUN_REVERSE, 6);
    v.look.layout = DN_LAYOUT_PRESENTER;
    dn_layout L;
    dn_render_layout(&L, &v, 1920, 1080);
    print_message("presenter: x_t %d px of 1920 (zoom %d)\n", L.big_img.w, L.zoom);
    assert_true(L.big_img.w * 3 > 1920);
    char log[8192];
    int K = dn_view_frames(&v) - 1;
    render_log(&v, K, 1280, 720, 1, log, sizeof log, NULL);
    assert_null(strstr(log, "no prediction"));
    assert_null(strstr(log, "nothing to predict"));
    assert_null(strstr(log, "see x_t"));
    render_log(&v, 2, 1280, 720, 1, log, sizeof log, NULL);
    assert_non_null(strstr(log, "the predicted noise")); /* the default panels of a reverse step */
    assert_non_null(strstr(log, "where it aims"));
    assert_non_null(strstr(log, "picture"));              /* the numbers in words */
    dn_view_free(&v);
}

/* The light theme: a light page with dark text (a projector washes out a dark screen). */
static void light_theme(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_FORWARD, 6);
    char log[4096];
    dn_canvas cv;
    for (int theme = 0; theme < 2; theme++) {
        v.look.theme = theme;
        render_log(&v, 2, 640, 360, 0, log, sizeof log, &cv);
        uint32_t corner = cv.px[(long)cv.h * cv.w - 1];
        int lum = (int)(((corner >> 16) & 255) + ((corner >> 8) & 255) + (corner & 255)) / 3;
        long dark = 0;
        dn_layout L;
        dn_render_layout(&L, &v, 640, 360);
        for (int y = L.caption.y; y < L.caption.y + L.caption.h; y++)
            for (int x = L.caption.x; x < L.caption.x + L.caption.w; x++) {
                uint32_t p = cv.px[(long)y * cv.w + x];
                if (((p >> 16) & 255) < 60 && ((p >> 8) & 255) < 60 && (p & 255) < 60) dark++;
            }
        print_message("theme %d: background %d, dark caption pixels %ld\n", theme, lum, dark);
        if (theme == DN_THEME_LIGHT) assert_true(lum > 240 && dark > 200);
        else assert_true(lum < 40);
        dn_canvas_free(&cv);
    }
    dn_view_free(&v);
}

/* Forward step 0's drift and random panels show the step from frame 0 to 1, and say so (they used
 * to read as if the clean frame had a drift of its own). */
static void move_panels_name_their_step(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_FORWARD, 6);
    char log[8192];
    for (int pres = 0; pres < 2; pres++) {
        v.look.layout = pres;
        v.set.panels = DN_PANEL_ALL;
        if (pres) v.set.panels = DN_PANEL_MOVE;
        render_log(&v, 0, 1280, 720, 0, log, sizeof log, NULL);
        assert_non_null(strstr(log, pres ? "step 0 \xe2\x86\x92 1" : "0\xe2\x86\x92" "1"));
        render_log(&v, 3, 1280, 720, 0, log, sizeof log, NULL);
        assert_non_null(strstr(log, pres ? "step 3 \xe2\x86\x92 4" : "3\xe2\x86\x92" "4"));
    }
    dn_view_free(&v);
}

/* Drift and random motion of every step are drawn on one scale, the run's largest value, so a
 * small drift looks small (each step used to be scaled to its own largest value). */
static void move_scale_fixed_per_run(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_REVERSE, 8);
    v.set.sampler = DN_DDIM;
    int K = dn_view_frames(&v) - 1;
    assert_non_null(dn_run_frame_wait(v.run, K));
    long n = (long)v.channels * v.height * v.width;
    float m = 0, first = 0;
    for (int k = 0; k < K; k++) {
        const dn_run_frame *f = dn_run_frame_wait(v.run, k);
        for (long i = 0; i < n; i++) {
            if (fabsf(f->drift[i]) > m) m = fabsf(f->drift[i]);
            if (fabsf(f->random[i]) > m) m = fabsf(f->random[i]);
            if (k == 0 && fabsf(f->drift[i]) > first) first = fabsf(f->drift[i]);
        }
    }
    char want[64], log[8192];
    snprintf(want, sizeof want, "of %.2g", (double)m);
    v.set.panels = DN_PANEL_MOVE;
    for (int k = 0; k < K; k += 3) {
        render_log(&v, k, 1280, 720, 0, log, sizeof log, NULL);
        if (!strstr(log, want)) fail_msg("frame %d: no '%s' in\n%s", k, want, log);
    }
    print_message("drift at step 0: up to %.3g, the run's scale %.3g\n", (double)first, (double)m);
    assert_true(first < m);
    dn_view_free(&v);
}

/* The class's pull (cond - uncond) is a panel of its own: shown when asked for (and guidance is
 * on), absent when a slide's panels leave it out (it used to come with the noise panel). */
static void pull_only_when_asked(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_REVERSE, 6);
    char log[8192];
    assert_true(v.num_classes > 0 && v.set.cond && v.set.cfg_scale > 1);
    v.set.panels = DN_PANEL_NOISE | DN_PANEL_X0 | DN_PANEL_MOVE;
    render_log(&v, 2, 1280, 720, 0, log, sizeof log, NULL);
    assert_null(strstr(log, "pull"));
    v.set.panels |= DN_PANEL_PULL;
    render_log(&v, 2, 1280, 720, 0, log, sizeof log, NULL);
    assert_non_null(strstr(log, "class pull"));
    dn_view_free(&v);
}

/* The step explained changes with the step and the sampler: DDPM adds fresh noise and says how
 * much, DDIM says it adds none and why; both say how far the noise falls. */
static void step_text_follows_sampler(void **state) {
    (void)state;
    for (int smp = 0; smp < 2; smp++) {
        dn_view_settings s;
        dn_view_settings_default(&s);
        s.mode = DN_RUN_REVERSE, s.steps = 10, s.sampler = smp ? DN_DDIM : DN_DDPM;
        snprintf(s.model, sizeof s.model, "%s", tu_tiny_model());
        dn_view v;
        if (dn_view_init(&v, &s) < 0) fail_msg("%s", dn_error());
        char a[1024], b[1024];
        dn_render_step_text(&v, dn_run_frame_wait(v.run, 2), a, sizeof a);
        assert_non_null(dn_run_frame_wait(v.run, 8));
        dn_render_step_text(&v, dn_run_frame_wait(v.run, 7), b, sizeof b);
        print_message("%s\n", a);
        assert_string_not_equal(a, b);
        assert_non_null(strstr(a, "2 \xe2\x86\x92 3 of 10"));
        assert_non_null(strstr(a, "the noise falls from"));
        if (smp) assert_non_null(strstr(a, "DDIM adds no fresh noise"));
        else assert_non_null(strstr(a, "fresh noise (random motion, rms"));
        dn_view_free(&v);
    }
}

/* V: smooth pictures instead of crisp squares (the big panel is then no longer whole blocks). */
static void smooth_pictures(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 0, DN_RUN_FORWARD, 6);
    char log[2048];
    dn_canvas a, b;
    render_log(&v, 0, 1280, 720, 0, log, sizeof log, &a);
    assert_int_equal(dn_view_act(&v, DN_ACT(DN_ACT_SMOOTH_TOGGLE)), 1);
    render_log(&v, 0, 1280, 720, 0, log, sizeof log, &b);
    dn_layout L;
    dn_render_layout(&L, &v, 1280, 720);
    long differ = 0;
    for (int y = L.big_img.y; y < L.big_img.y + L.big_img.h; y++)
        for (int x = L.big_img.x; x < L.big_img.x + L.big_img.w; x++) differ += a.px[(long)y * a.w + x] != b.px[(long)y * b.w + x];
    print_message("smooth: %ld of %d pixels differ\n", differ, L.big_img.w * L.big_img.h);
    assert_true(differ > L.big_img.w * L.big_img.h / 4);
    dn_canvas_free(&a), dn_canvas_free(&b);
    dn_view_free(&v);
}

/* Compare mode draws both runs side by side, each with its settings in words and its own step,
 * and the caption says they share their noise. */
static void compare_draws_both(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_REVERSE, 6);
    assert_int_equal(dn_view_act(&v, DN_ACT(DN_ACT_COMPARE_TOGGLE)), 1);
    assert_int_equal(dn_view_act(&v, DN_ACT(DN_ACT_STEPS_NEXT)), 1); /* B: 10 steps */
    assert_non_null(dn_run_frame_wait(v.cmp_run, 10));
    char log[8192];
    for (int pres = 0; pres < 2; pres++) {
        v.look.layout = pres;
        render_log(&v, 3, 1280, 720, 0, log, sizeof log, NULL);
        assert_non_null(strstr(log, "\nA\n"));
        assert_non_null(strstr(log, "\nB\n"));
        assert_non_null(strstr(log, "6 steps, ")); /* A: with its class; B: without, 10 steps */
        assert_non_null(strstr(log, "10 steps, no class"));
        assert_non_null(strstr(log, "step 3 of 6"));
        assert_non_null(strstr(log, "step 5 of 10")); /* the same fraction of the way */
        assert_non_null(strstr(log, "same noise"));
    }
    dn_view_free(&v);
}

static void export_is_the_screen(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_FORWARD, 10);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/slides", tu_tmpdir());
    dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, 4});
    int n = dn_render_export(&v, dir, 640, 360, "diffuse export --test", 10);
    assert_int_equal(n, 11);
    assert_int_equal(v.k, 4); /* cursor restored */
    char path[700];
    for (int k = 0; k < 11; k++) {
        snprintf(path, sizeof path, "%s/frame_%03d.png", dir, k);
        assert_int_equal(access(path, R_OK), 0);
    }
    snprintf(path, sizeof path, "%s/frame_011.png", dir);
    assert_int_not_equal(access(path, R_OK), 0);
    /* frame 3 of the files is the renderer's frame 3 without key hints, pixel for pixel, and the
     * screen's differs from it only by the hint in the header */
    dn_canvas cv = {0}, scr = {0};
    dn_render_fonts f = {0};
    render_at(&scr, &f, &v, 3, 640, 360);
    if (dn_canvas_init(&cv, 640, 360, 0) < 0) fail_msg("%s", dn_error());
    char log[8192], slog[8192];
    dn_render_opts o = {.k = 3, .message = v.message, .exporting = 1, .log = log, .log_size = sizeof log};
    assert_int_equal(dn_render_with(&cv, &v, &f, &o), 0);
    dn_render_opts so;
    dn_render_opts_screen(&so, &v);
    so.log = slog, so.log_size = sizeof slog;
    assert_int_equal(dn_render_with(&scr, &v, &f, &so), 0);
    assert_non_null(strstr(slog, "H: keys"));
    assert_null(strstr(log, "H: keys"));
    assert_null(strstr(log, "Space"));
    dn_layout L;
    dn_render_layout(&L, &v, 640, 360);
    for (int y = L.header.y + L.header.h; y < 360; y++)
        for (int x = 0; x < 640; x++) assert_int_equal(cv.px[y * 640 + x], scr.px[y * 640 + x]);
    dn_canvas_free(&scr);
    dn_image img = {0};
    snprintf(path, sizeof path, "%s/frame_003.png", dir);
    if (dn_image_load(&img, path, 3) < 0) fail_msg("%s", dn_error());
    assert_int_equal(img.w, 640);
    assert_int_equal(img.h, 360);
    unsigned char *rgb = malloc(640 * 360 * 3);
    dn_canvas_to_rgb(&cv, rgb);
    assert_memory_equal(img.px, rgb, 640 * 360 * 3);
    free(rgb);
    dn_image_free(&img);
    /* the settings travel in a text chunk */
    unsigned char *data;
    size_t len;
    assert_int_equal(dn_read_file(path, &data, &len, 1 << 24), 0);
    int found = 0;
    for (size_t i = 0; i + 16 < len; i++)
        if (!memcmp(data + i, "diffuse-settings", 16)) found = 1;
    assert_true(found);
    found = 0;
    for (size_t i = 0; i + 21 < len; i++)
        if (!memcmp(data + i, "diffuse export --test", 21)) found = 1;
    assert_true(found);
    free(data);
    snprintf(path, sizeof path, "%s/contact.png", dir);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/run.gif", dir);
    assert_int_equal(dn_read_file(path, &data, &len, 1 << 26), 0);
    assert_true(len > 1000 && !memcmp(data, "GIF89a", 6));
    free(data);
    /* a folder that cannot be made: an error, no crash */
    assert_int_equal(dn_render_export(&v, "/proc/no/such/dir", 640, 360, NULL, 10), -1);
    dn_render_fonts_close(&f);
    dn_canvas_free(&cv);
    dn_view_free(&v);
}

/* A long run is exported every few steps, at most 101 frames, always ending with the last. */
static void long_runs_are_thinned(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 0, DN_RUN_FORWARD, 250);
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/long", tu_tmpdir());
    int n = dn_render_export(&v, dir, 320, 180, NULL, 4);
    assert_true(n >= 80 && n <= 101);
    snprintf(path, sizeof path, "%s/frame_%03d.png", dir, n - 1);
    unsigned char *data;
    size_t len;
    assert_int_equal(dn_read_file(path, &data, &len, 1 << 24), 0);
    int found = 0; /* the tEXt chunk "diffuse-step\0250" */
    for (size_t i = 0; i + 16 < len; i++)
        if (!memcmp(data + i, "diffuse-step\0" "250", 16)) found = 1;
    assert_true(found);
    free(data);
    snprintf(path, sizeof path, "%s/frame_%03d.png", dir, n);
    assert_int_not_equal(access(path, R_OK), 0);
    dn_view_free(&v);
}

static int same_file(const char *a, const char *b) {
    unsigned char *da, *db;
    size_t la, lb;
    if (dn_read_file(a, &da, &la, 1 << 26) < 0) fail_msg("%s", dn_error());
    if (dn_read_file(b, &db, &lb, 1 << 26) < 0) fail_msg("%s", dn_error());
    int same = la == lb && !memcmp(da, db, la);
    free(da);
    free(db);
    return same;
}

/* The viewer's E exports a file at a time (dn_export_step without waiting) so the window stays
 * live: the files are byte for byte those of one dn_render_export call, the view is as it was
 * between the steps (its message too), and freeing early keeps the frames written but writes
 * no contact sheet and no GIF. */
static void export_step_by_step(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_REVERSE, 10);
    dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, 2});
    snprintf(v.message, sizeof v.message, "the message before E");
    char whole[600], steps[600], cut[600], a[700], b[700];
    snprintf(whole, sizeof whole, "%s/whole", tu_tmpdir());
    snprintf(steps, sizeof steps, "%s/steps", tu_tmpdir());
    snprintf(cut, sizeof cut, "%s/cut", tu_tmpdir());
    assert_int_equal(dn_render_export(&v, whole, 320, 180, "cmd", 10), 11);
    dn_export *ex = dn_export_begin(&v, steps, 320, 180, "cmd", 10);
    assert_non_null(ex);
    snprintf(v.message, sizeof v.message, "exporting: progress");
    int rc, calls = 0, done, total;
    while ((rc = dn_export_step(ex, &v, 0)) > 0) {
        calls++;
        assert_int_equal(v.k, 2);
        assert_string_equal(v.message, "exporting: progress");
        dn_export_progress(ex, &done, &total);
        assert_int_equal(total, 11);
        assert_true(done <= total);
    }
    assert_int_equal(rc, 0);
    assert_true(calls >= 10);
    dn_export_progress(ex, &done, &total);
    assert_int_equal(done, 11);
    dn_export_free(ex);
    for (int k = 0; k < 11; k++) {
        snprintf(a, sizeof a, "%s/frame_%03d.png", whole, k);
        snprintf(b, sizeof b, "%s/frame_%03d.png", steps, k);
        assert_true(same_file(a, b));
    }
    const char *ends[] = {"contact.png", "run.gif"};
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/%s", whole, ends[i]);
        snprintf(b, sizeof b, "%s/%s", steps, ends[i]);
        assert_true(same_file(a, b));
    }
    /* cancelled after three frames */
    ex = dn_export_begin(&v, cut, 320, 180, "cmd", 10);
    assert_non_null(ex);
    for (int i = 0; i < 3; i++) assert_int_equal(dn_export_step(ex, &v, 1), 1);
    dn_export_free(ex);
    for (int k = 0; k < 4; k++) {
        snprintf(a, sizeof a, "%s/frame_%03d.png", cut, k);
        assert_int_equal(access(a, R_OK) == 0, k < 3);
    }
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/%s", cut, ends[i]);
        assert_int_not_equal(access(a, R_OK), 0);
    }
    assert_null(dn_export_begin(&v, "/proc/no/such/dir", 320, 180, NULL, 10));
    dn_view_free(&v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(big_panel_exact_at_both_sizes),
        cmocka_unit_test(euler_x_shown_at_unit_scale),
        cmocka_unit_test(deterministic_and_changes_with_step),
        cmocka_unit_test(every_mode_draws),
        cmocka_unit_test(headline_says_what_is_shown),
        cmocka_unit_test(header_and_timeline_follow_the_picture),
        cmocka_unit_test(clean_frames_and_t0_are_told_apart),
        cmocka_unit_test(timeline_picks_frames),
        cmocka_unit_test(export_is_the_screen),
        cmocka_unit_test(export_step_by_step),
        cmocka_unit_test(long_runs_are_thinned),
        cmocka_unit_test(presenter_is_large),
        cmocka_unit_test(light_theme),
        cmocka_unit_test(move_panels_name_their_step),
        cmocka_unit_test(move_scale_fixed_per_run),
        cmocka_unit_test(pull_only_when_asked),
        cmocka_unit_test(step_text_follows_sampler),
        cmocka_unit_test(smooth_pictures),
        cmocka_unit_test(compare_draws_both),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
