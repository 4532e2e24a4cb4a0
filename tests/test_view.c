/* test_view.c — the viewer's state and actions without a display (viz/view.h): stepping and its
 * bounds, exact stepping back (the same cached frame, not a recomputation), settings that start a
 * new run (class, conditioning, guidance, sampler, steps, seed, mode, img2img), cycling, play mode
 * by time. A tiny random-weight model (written here) stands in for a trained one: mechanics only. */
#include "testutil.h"
#include "base/err.h"
#include "diffusion/model.h"
#include "view.h"
#include "data/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void open_view(dn_view *v, int with_model, dn_run_mode mode, int steps) {
    dn_view_settings s;
    dn_view_settings_default(&s);
    s.mode = mode;
    s.steps = steps;
    if (with_model) snprintf(s.model, sizeof s.model, "%s", tu_tiny_model());
    if (dn_view_init(v, &s) < 0) fail_msg("dn_view_init: %s", dn_error());
}

static int act(dn_view *v, dn_act op) { return dn_view_act(v, DN_ACT(op)); }

static void stepping_and_bounds(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 0, DN_RUN_FORWARD, 50);
    assert_int_equal(dn_view_frames(&v), 51);
    assert_int_equal(v.k, 0);
    assert_int_equal(act(&v, DN_ACT_STEP_PREV), 0); /* already at the start: no change */
    assert_int_equal(v.k, 0);
    assert_int_equal(act(&v, DN_ACT_STEP_NEXT), 1);
    assert_int_equal(v.k, 1);
    assert_int_equal(act(&v, DN_ACT_STEP_NEXT10), 1);
    assert_int_equal(v.k, 11);
    assert_int_equal(act(&v, DN_ACT_STEP_PREV10), 1);
    assert_int_equal(v.k, 1);
    assert_int_equal(act(&v, DN_ACT_STEP_PREV10), 1); /* clamped at 0 */
    assert_int_equal(v.k, 0);
    assert_int_equal(act(&v, DN_ACT_LAST), 1);
    assert_int_equal(v.k, 50);
    assert_int_equal(act(&v, DN_ACT_STEP_NEXT), 0);
    assert_int_equal(act(&v, DN_ACT_STEP_NEXT10), 0);
    assert_int_equal(v.k, 50);
    assert_int_equal(dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, 20}), 1);
    assert_int_equal(v.k, 20);
    assert_int_equal(dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, 999}), 1);
    assert_int_equal(v.k, 50);
    assert_int_equal(act(&v, DN_ACT_FIRST), 1);
    assert_int_equal(v.k, 0);
    /* no model: reverse is refused with a notice, the run stays */
    int gen = v.generation;
    assert_int_equal(act(&v, DN_ACT_MODE_TOGGLE), 0);
    assert_int_equal(v.set.mode, DN_RUN_FORWARD);
    assert_int_equal(v.generation, gen);
    assert_non_null(strstr(v.message, "model"));
    dn_view_free(&v);
    dn_view_free(&v); /* twice: a zeroed struct is fine */
}

static void frame_shown_is_cursor_or_last_ready(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 0, DN_RUN_FORWARD, 25);
    const dn_run_frame *last = dn_run_frame_wait(v.run, 25);
    assert_non_null(last);
    act(&v, DN_ACT_LAST);
    int shown = -1;
    const dn_run_frame *f = dn_view_frame(&v, &shown);
    assert_ptr_equal(f, last);
    assert_int_equal(shown, 25);
    assert_int_equal(f->k, 25);
    /* forward: noise grows along the run */
    assert_true(f->alpha_bar < dn_run_frame_wait(v.run, 1)->alpha_bar);
    dn_view_free(&v);
}

static void back_is_exact(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_REVERSE, 10);
    long n = (long)v.channels * v.height * v.width;
    for (int i = 0; i < 5; i++) act(&v, DN_ACT_STEP_NEXT);
    const dn_run_frame *f5 = dn_run_frame_wait(v.run, 5);
    assert_non_null(f5);
    float *copy = malloc(sizeof(float) * (size_t)n);
    memcpy(copy, f5->x, sizeof(float) * (size_t)n);
    for (int i = 0; i < 4; i++) act(&v, DN_ACT_STEP_NEXT);
    assert_non_null(dn_run_frame_wait(v.run, 9));
    for (int i = 0; i < 4; i++) act(&v, DN_ACT_STEP_PREV);
    assert_int_equal(v.k, 5);
    int shown;
    const dn_run_frame *again = dn_view_frame(&v, &shown);
    assert_int_equal(shown, 5);
    assert_ptr_equal(again, f5);                                  /* the cached frame itself */
    assert_memory_equal(again->x, copy, sizeof(float) * (size_t)n); /* unchanged bits */
    free(copy);
    dn_view_free(&v);
}

static void settings_start_new_runs(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_REVERSE, 10);
    assert_int_equal(v.num_classes, 2);
    assert_string_equal(dn_view_class_name(&v, 0), "cat");
    assert_string_equal(dn_view_class_name(&v, 1), "dog");
    act(&v, DN_ACT_STEP_NEXT), act(&v, DN_ACT_STEP_NEXT), act(&v, DN_ACT_STEP_NEXT);
    dn_run *r = v.run;
    int gen = v.generation;
    /* class: new run, same cursor */
    assert_int_equal(dn_view_act(&v, (dn_action){DN_ACT_CLASS_SET, 1}), 1);
    assert_int_equal(v.set.class_id, 1);
    assert_int_equal(dn_run_config_of(v.run)->class_id, 1);
    assert_true(v.generation == gen + 1 && v.run != r);
    assert_int_equal(v.k, 3);
    /* the same class again: nothing to do; an unknown class: refused */
    assert_int_equal(dn_view_act(&v, (dn_action){DN_ACT_CLASS_SET, 1}), 0);
    assert_int_equal(dn_view_act(&v, (dn_action){DN_ACT_CLASS_SET, 7}), 0);
    assert_int_equal(v.generation, gen + 1);
    assert_int_equal(act(&v, DN_ACT_CLASS_NEXT), 1);
    assert_int_equal(v.set.class_id, 0);
    /* conditioning off: the network gets the null class */
    assert_int_equal(act(&v, DN_ACT_COND_TOGGLE), 1);
    assert_int_equal(v.set.cond, 0);
    assert_int_equal(dn_run_config_of(v.run)->class_id, 2);
    assert_int_equal(dn_view_run_class(&v), 2);
    assert_int_equal(act(&v, DN_ACT_COND_TOGGLE), 1);
    assert_int_equal(dn_run_config_of(v.run)->class_id, 0);
    /* guidance scale in steps of 0.5, within [0, 20] */
    float w = v.set.cfg_scale;
    gen = v.generation;
    assert_int_equal(act(&v, DN_ACT_CFG_UP), 1);
    assert_true(fabsf(v.set.cfg_scale - (w + 0.5f)) < 1e-6f);
    assert_true(fabsf(dn_run_config_of(v.run)->cfg_scale - (w + 0.5f)) < 1e-6f);
    assert_int_equal(v.generation, gen + 1);
    for (int i = 0; i < 60; i++) act(&v, DN_ACT_CFG_DOWN);
    assert_true(v.set.cfg_scale == 0.0f);
    assert_int_equal(act(&v, DN_ACT_CFG_DOWN), 0);
    for (int i = 0; i < 60; i++) act(&v, DN_ACT_CFG_UP);
    assert_true(v.set.cfg_scale == 20.0f);
    /* new seed: a different start */
    const dn_run_frame *a = dn_run_frame_wait(v.run, 0);
    float a0 = a->x[0];
    uint64_t seed = v.set.seed;
    assert_int_equal(act(&v, DN_ACT_NEW_SEED), 1);
    assert_true(v.set.seed != seed);
    assert_true(dn_run_frame_wait(v.run, 0)->x[0] != a0);
    /* panels-only toggles keep the run */
    gen = v.generation;
    act(&v, DN_ACT_OVERLAY_TOGGLE), act(&v, DN_ACT_GUIDANCE_TOGGLE), act(&v, DN_ACT_HELP_TOGGLE);
    assert_true(v.set.overlay && v.set.guidance && v.help);
    assert_int_equal(v.generation, gen);
    dn_view_free(&v);
}

static void sampler_and_steps_cycle(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_FORWARD, 50);
    const dn_sampler_kind order[] = {DN_EULER, DN_DPMPP_2M, DN_DDPM, DN_DDIM};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(act(&v, DN_ACT_SAMPLER_NEXT), 1);
        assert_int_equal(v.set.sampler, order[i]);
        assert_int_equal(dn_run_config_of(v.run)->sampler.kind, order[i]);
    }
    const int steps[] = {100, 250, 1000, 10, 25, 50};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(act(&v, DN_ACT_STEPS_NEXT), 1);
        assert_int_equal(v.set.steps, steps[i]);
        assert_int_equal(dn_view_frames(&v), steps[i] + 1);
    }
    /* the cursor keeps its place in the process: half way stays half way */
    dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, 25});
    act(&v, DN_ACT_STEPS_NEXT); /* 50 -> 100 */
    assert_int_equal(v.k, 50);
    dn_view_free(&v);
}

static void mode_and_img2img(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_FORWARD, 20);
    dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, 5});
    /* forward frame 5 of 20 (little noise) is reverse frame 15 (near the end of denoising) */
    assert_int_equal(act(&v, DN_ACT_MODE_TOGGLE), 1);
    assert_int_equal(v.set.mode, DN_RUN_REVERSE);
    assert_int_equal(v.k, 15);
    assert_int_equal(act(&v, DN_ACT_MODE_TOGGLE), 1);
    assert_int_equal(v.set.mode, DN_RUN_FORWARD);
    assert_int_equal(v.k, 5);
    /* img2img from forward frame 12: reverse starting at the sampler step of that t */
    dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, 12});
    const dn_run_frame *f = dn_run_frame_wait(v.run, 12);
    float t = f->t;
    assert_int_equal(act(&v, DN_ACT_IMG2IMG), 1);
    assert_int_equal(v.set.mode, DN_RUN_REVERSE);
    assert_int_equal(v.set.start, 8); /* forward frame k sits at sampler step K - k */
    assert_int_equal(dn_view_frames(&v), 20 - 8 + 1);
    assert_int_equal(v.k, 0);
    const dn_run_frame *g = dn_run_frame_wait(v.run, 0);
    assert_true(fabsf(g->t - t) < 0.5f);
    dn_view_free(&v);
}

/* Esc is how a teacher leaves fullscreen: it never quits (Q does). It leaves fullscreen, else
 * closes the help, else says how to quit. (It used to quit at once.) */
static void escape_leaves_fullscreen(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_FORWARD, 10);
    act(&v, DN_ACT_FULLSCREEN);
    act(&v, DN_ACT_HELP_TOGGLE);
    assert_true(v.fullscreen && v.help);
    act(&v, DN_ACT_ESCAPE);
    assert_false(v.fullscreen);
    assert_true(v.help);
    assert_false(v.quit);
    act(&v, DN_ACT_ESCAPE);
    assert_false(v.help);
    act(&v, DN_ACT_ESCAPE);
    assert_false(v.quit);
    assert_non_null(strstr(v.message, "Q quits"));
    act(&v, DN_ACT_QUIT);
    assert_true(v.quit);
    dn_view_free(&v);
}

/* M on the clean picture of a forward run starts the reverse run at pure noise (frame 0), not at
 * its finished, other picture (it used to land on the last frame); elsewhere M keeps the noise
 * level (mode_and_img2img). */
static void mode_from_the_clean_picture_starts_denoising(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_FORWARD, 20);
    assert_int_equal(v.k, 0);
    assert_int_equal(act(&v, DN_ACT_MODE_TOGGLE), 1);
    assert_int_equal(v.set.mode, DN_RUN_REVERSE);
    assert_int_equal(v.k, 0);
    const dn_run_frame *f = dn_run_frame_wait(v.run, 0);
    assert_non_null(f);
    assert_true(f->t > 900.0f); /* pure noise: the first sampler step */
    dn_view_free(&v);
}

/* A forward run of a training image is conditioned on that image's class, not on class 0 (a dog
 * was shown, and its noise predicted, "as a cat"); a class chosen afterwards still wins. */
static void forward_uses_the_image_class(void **state) {
    (void)state;
    dn_data d;
    assert_int_equal(dn_data_open(&d, "pets", 0, NULL), 0);
    long dog = -1;
    for (long i = 0; i < 64 && dog < 0; i++)
        if (dn_data_label(&d, i) == 1) dog = i;
    dn_data_close(&d);
    assert_true(dog >= 0);
    dn_view_settings s;
    dn_view_settings_default(&s);
    s.mode = DN_RUN_FORWARD, s.steps = 6, s.image_index = (int)dog;
    snprintf(s.model, sizeof s.model, "%s", tu_tiny_model()); /* its data set: pets */
    dn_view v;
    if (dn_view_init(&v, &s) < 0) fail_msg("%s", dn_error());
    assert_int_equal(v.image_label, 1);
    assert_int_equal(v.set.class_id, 1);
    assert_int_equal(dn_run_config_of(v.run)->class_id, 1);
    assert_string_equal(dn_view_class_name(&v, v.set.class_id), "dog");
    dn_view_settings t = v.set;
    t.class_id = 0;
    assert_int_equal(dn_view_apply(&v, &t), 0);
    assert_int_equal(dn_run_config_of(v.run)->class_id, 0);
    dn_view_free(&v);
}

static void play_ticks(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 0, DN_RUN_FORWARD, 25);
    assert_non_null(dn_run_frame_wait(v.run, 25)); /* all ready: play is limited by time only */
    assert_int_equal(dn_view_tick(&v, 1.0), 0);    /* not playing */
    assert_int_equal(act(&v, DN_ACT_PLAY_TOGGLE), 1);
    assert_true(v.playing);
    float sp = dn_view_speeds[v.speed];
    double step = 1.0 / (double)sp;
    assert_int_equal(dn_view_tick(&v, 0.4 * step), 0);
    assert_int_equal(v.k, 0);
    assert_int_equal(dn_view_tick(&v, 0.7 * step), 1); /* the two add up to one step */
    assert_int_equal(v.k, 1);
    assert_int_equal(dn_view_tick(&v, 3.05 * step), 1);
    assert_int_equal(v.k, 4);
    /* faster: more steps for the same time */
    assert_int_equal(act(&v, DN_ACT_SPEED_UP), 1);
    assert_true(dn_view_speeds[v.speed] > sp);
    dn_view_tick(&v, 100.0); /* a long time: stops at the end */
    assert_int_equal(v.k, 25);
    assert_false(v.playing);
    /* play again from the end starts over */
    act(&v, DN_ACT_PLAY_TOGGLE);
    assert_int_equal(v.k, 0);
    act(&v, DN_ACT_PLAY_TOGGLE);
    assert_false(v.playing);
    for (int i = 0; i < 20; i++) act(&v, DN_ACT_SPEED_DOWN);
    assert_int_equal(v.speed, 0);
    assert_int_equal(act(&v, DN_ACT_SPEED_DOWN), 0);
    /* quit, export, fullscreen are requests the program acts on */
    act(&v, DN_ACT_EXPORT), act(&v, DN_ACT_FULLSCREEN), act(&v, DN_ACT_QUIT);
    assert_true(v.export_requested && v.fullscreen && v.quit);
    dn_view_free(&v);
}

static void init_errors(void **state) {
    (void)state;
    dn_view v;
    dn_view_settings s;
    dn_view_settings_default(&s);
    s.mode = DN_RUN_REVERSE;
    assert_int_equal(dn_view_init(&v, &s), -1); /* reverse needs a model */
    assert_non_null(strstr(dn_error(), "model"));
    assert_null(v.run);
    dn_view_settings_default(&s);
    snprintf(s.model, sizeof s.model, "%s/missing.dfm", tu_tmpdir());
    assert_int_equal(dn_view_init(&v, &s), -1);
    assert_non_null(strstr(dn_error(), "missing.dfm"));
    dn_view_settings_default(&s);
    snprintf(s.image, sizeof s.image, "%s/nope.png", tu_tmpdir());
    assert_int_equal(dn_view_init(&v, &s), -1);
    assert_non_null(strstr(dn_error(), "nope.png"));
    /* a photo: cropped and resized to the model's size */
    dn_view_settings_default(&s);
    snprintf(s.model, sizeof s.model, "%s", tu_tiny_model());
    snprintf(s.image, sizeof s.image, "tests/data/cat64.jpg");
    assert_int_equal(dn_view_init(&v, &s), 0);
    assert_int_equal(v.width, 8);
    assert_string_equal(v.image_name, "cat64.jpg");
    char d[1024];
    dn_view_describe(&v, d, sizeof d);
    assert_non_null(strstr(d, "mode=forward"));
    assert_non_null(strstr(d, "image=cat64.jpg"));
    assert_non_null(strstr(d, "class=cat"));
    /* apply: a lesson switches settings */
    dn_view_settings s2 = v.set;
    s2.mode = DN_RUN_REVERSE;
    s2.steps = 10;
    assert_int_equal(dn_view_apply(&v, &s2), 0);
    assert_int_equal(dn_view_frames(&v), 11);
    s2.steps = 5000;
    assert_int_equal(dn_view_apply(&v, &s2), -1);
    assert_int_equal(dn_view_frames(&v), 11); /* unchanged */
    dn_view_free(&v);
}


/* Runs already seen are kept: toggling back to a setting gives the same frames at once (the
 * frame at the cursor is there on the next draw, no U-Net evaluation); the kept runs stop
 * computing when they are left, so five ] presses in a row cost about one run; at most
 * DN_VIEW_CACHE runs are kept. */
static void runs_seen_are_kept(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_REVERSE, 12);
    int K = dn_view_frames(&v) - 1;
    assert_non_null(dn_run_frame_wait(v.run, K));
    assert_int_equal(dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, K}), 1);
    dn_run *first = v.run;
    const dn_run_frame *end = dn_run_frame_get(v.run, K);
    assert_int_equal(act(&v, DN_ACT_CFG_UP), 1);
    assert_ptr_not_equal(v.run, first);
    assert_non_null(dn_run_frame_wait(v.run, K));
    dn_run *second = v.run;
    assert_int_equal(act(&v, DN_ACT_CFG_DOWN), 1);
    assert_ptr_equal(v.run, first);                  /* the same run, not a recomputation */
    assert_ptr_equal(dn_run_frame_get(v.run, K), end); /* ready at once */
    assert_int_equal(v.k, K);
    assert_int_equal(act(&v, DN_ACT_COND_TOGGLE), 1);
    assert_int_equal(act(&v, DN_ACT_COND_TOGGLE), 1);
    assert_ptr_equal(v.run, first);
    assert_int_equal(act(&v, DN_ACT_CFG_UP), 1);
    assert_ptr_equal(v.run, second);
    /* five presses in a row: each run but the last stops at once */
    for (int i = 0; i < 5; i++) assert_int_equal(act(&v, DN_ACT_CFG_UP), 1);
    assert_non_null(dn_run_frame_wait(v.run, K));
    /* a kept run finishes the frame under way and no more: its count stays put */
    nanosleep(&(struct timespec){0, 20000000L}, NULL);
    int kept = 0, partial = 0, before[DN_VIEW_CACHE];
    for (int i = 0; i < DN_VIEW_CACHE; i++) before[i] = v.cache[i] ? dn_run_ready(v.cache[i]) : 0;
    nanosleep(&(struct timespec){0, 100000000L}, NULL);
    for (int i = 0; i < DN_VIEW_CACHE; i++)
        if (v.cache[i]) {
            kept++;
            partial += before[i] <= K;
            assert_int_equal(dn_run_ready(v.cache[i]), before[i]);
        }
    print_message("kept %d runs, %d of them stopped part way\n", kept, partial);
    /* many seeds: never more than DN_VIEW_CACHE kept */
    for (int i = 0; i < 2 * DN_VIEW_CACHE; i++) act(&v, DN_ACT_NEW_SEED);
    kept = 0;
    for (int i = 0; i < DN_VIEW_CACHE; i++) kept += v.cache[i] != NULL;
    assert_int_equal(kept, DN_VIEW_CACHE);
    dn_view_free(&v);
}

/* How a view is looked at (layout, theme, smooth) and where it is in a lesson survive a change of
 * model or image (which makes a new view); D, L, V and Shift+digits change them. */
static void look_and_panels(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_FORWARD, 6);
    assert_int_equal(v.look.layout, DN_LAYOUT_DASHBOARD);
    assert_int_equal(act(&v, DN_ACT_LAYOUT_TOGGLE), 1);
    assert_int_equal(act(&v, DN_ACT_THEME_TOGGLE), 1);
    assert_int_equal(v.look.layout, DN_LAYOUT_PRESENTER);
    assert_int_equal(v.look.theme, DN_THEME_LIGHT);
    /* presenter with no panels chosen: the few that tell the step */
    unsigned p = dn_view_panels(&v);
    assert_true(p & DN_PANEL_NOISE);
    assert_false(p & DN_PANEL_HIST);
    assert_int_equal(dn_view_act(&v, (dn_action){DN_ACT_PANEL_TOGGLE, 2}), 1); /* Shift+3: error */
    assert_int_equal(dn_view_panels(&v), p | DN_PANEL_ERROR);
    assert_int_equal(dn_view_act(&v, (dn_action){DN_ACT_PANEL_TOGGLE, 0}), 1); /* Shift+1: noise off */
    assert_false(dn_view_panels(&v) & DN_PANEL_NOISE);
    assert_int_equal(dn_view_act(&v, (dn_action){DN_ACT_PANEL_TOGGLE, 9}), 0);
    v.slide = 2, v.slides = 5;
    snprintf(v.deck, sizeof v.deck, "A lesson");
    dn_view_settings s = v.set;
    s.image_index = 3; /* another training image: a new view */
    assert_int_equal(dn_view_apply(&v, &s), 0);
    assert_int_equal(v.look.layout, DN_LAYOUT_PRESENTER);
    assert_int_equal(v.look.theme, DN_THEME_LIGHT);
    assert_int_equal(v.slide, 2);
    assert_string_equal(v.deck, "A lesson");
    dn_view_free(&v);
}


/* Idle time computes the likely next keys' runs ahead: after it, ] shows its frame at once, and
 * the frames are bit for bit those of the same setting computed cold; a key pauses the run being
 * computed ahead (the screen's run goes first). */
static void idle_computes_ahead(void **state) {
    (void)state;
    dn_view v, cold;
    open_view(&v, 1, DN_RUN_REVERSE, 8);
    int K = dn_view_frames(&v) - 1;
    assert_int_equal(dn_view_idle(&v), 0); /* the screen's run first */
    assert_non_null(dn_run_frame_wait(v.run, K));
    assert_int_equal(dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, K}), 1);
    assert_int_equal(dn_view_idle(&v), 1);
    dn_run *ahead = v.ahead;
    assert_non_null(ahead);
    assert_non_null(dn_run_frame_wait(ahead, K));
    assert_int_equal(act(&v, DN_ACT_CFG_UP), 1); /* the first likely key: ] */
    assert_ptr_equal(v.run, ahead);
    const dn_run_frame *f = dn_run_frame_get(v.run, K);
    assert_non_null(f);
    open_view(&cold, 1, DN_RUN_REVERSE, 8);
    dn_view_settings s = cold.set;
    s.cfg_scale = v.set.cfg_scale;
    assert_int_equal(dn_view_apply(&cold, &s), 0);
    const dn_run_frame *g = dn_run_frame_wait(cold.run, K);
    long n = (long)v.channels * v.height * v.width;
    assert_memory_equal(f->x, g->x, sizeof(float) * (size_t)n);
    dn_view_free(&cold);
    /* a key while a run is computed ahead: that run stops */
    assert_int_equal(dn_view_idle(&v), 1);
    dn_run *a2 = v.ahead;
    assert_int_equal(act(&v, DN_ACT_NEW_SEED), 1);
    assert_null(v.ahead);
    nanosleep(&(struct timespec){0, 20000000L}, NULL);
    int r0 = dn_run_ready(a2);
    nanosleep(&(struct timespec){0, 50000000L}, NULL);
    assert_int_equal(dn_run_ready(a2), r0);
    dn_view_free(&v);
}


/* Compare mode (X): B is a second run from the same noise; the settings keys change B only, R
 * changes both; B's frames are bit for bit those of its settings run alone; B steps along at the
 * same fraction of the process when its step count differs; M and I wait until X turns it off. */
static void compare_mode(void **state) {
    (void)state;
    dn_view v;
    open_view(&v, 1, DN_RUN_REVERSE, 8);
    assert_int_equal(act(&v, DN_ACT_COMPARE_TOGGLE), 1);
    assert_true(v.set.cmp.on);
    assert_non_null(v.cmp_run);
    assert_int_equal(v.set.cmp.cond, 0); /* a conditional model: B without the class */
    float w = v.set.cfg_scale;
    uint64_t seed = v.set.seed;
    assert_int_equal(act(&v, DN_ACT_COND_TOGGLE), 1); /* B: the class back on */
    assert_int_equal(v.set.cmp.cond, 1);
    assert_int_equal(v.set.cond, 1);
    assert_int_equal(act(&v, DN_ACT_CFG_UP), 1);
    assert_true(v.set.cmp.cfg_scale == w + 0.5f && v.set.cfg_scale == w);
    assert_int_equal(act(&v, DN_ACT_STEPS_NEXT), 1); /* B: 8 -> 10 steps */
    assert_int_equal(v.set.cmp.steps, 10);
    assert_int_equal(v.set.steps, 8);
    assert_int_equal(act(&v, DN_ACT_NEW_SEED), 1); /* both */
    assert_true(v.set.seed != seed);
    assert_int_equal((int)dn_run_config_of(v.cmp_run)->seed, (int)v.set.seed);
    /* B's frames: those of B's settings alone */
    assert_non_null(dn_run_frame_wait(v.cmp_run, 10));
    dn_view solo;
    dn_view_settings b;
    dn_view_compare_settings(&v.set, &b);
    open_view(&solo, 1, DN_RUN_REVERSE, 8);
    assert_int_equal(dn_view_apply(&solo, &b), 0);
    long n = (long)v.channels * v.height * v.width;
    assert_memory_equal(dn_run_frame_wait(solo.run, 10)->x, dn_run_frame_get(v.cmp_run, 10)->x, sizeof(float) * (size_t)n);
    dn_view_free(&solo);
    /* stepping together: A's 8 steps against B's 10 */
    assert_int_equal(dn_view_compare_k(&v, 0), 0);
    assert_int_equal(dn_view_compare_k(&v, 8), 10);
    assert_int_equal(dn_view_compare_k(&v, 4), 5);
    int shown = -1;
    dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, 8});
    assert_non_null(dn_view_compare_frame(&v, 8, &shown));
    assert_int_equal(shown, 10);
    assert_int_equal(act(&v, DN_ACT_MODE_TOGGLE), 0);
    assert_non_null(strstr(v.message, "X"));
    assert_int_equal(v.set.mode, DN_RUN_REVERSE);
    assert_int_equal(act(&v, DN_ACT_COMPARE_TOGGLE), 1);
    assert_false(v.set.cmp.on);
    assert_null(v.cmp_run);
    /* forward mode: compare is for denoising */
    assert_int_equal(act(&v, DN_ACT_MODE_TOGGLE), 1);
    assert_int_equal(act(&v, DN_ACT_COMPARE_TOGGLE), 0);
    assert_null(v.cmp_run);
    dn_view_free(&v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stepping_and_bounds),
        cmocka_unit_test(frame_shown_is_cursor_or_last_ready),
        cmocka_unit_test(back_is_exact),
        cmocka_unit_test(settings_start_new_runs),
        cmocka_unit_test(sampler_and_steps_cycle),
        cmocka_unit_test(mode_and_img2img),
        cmocka_unit_test(escape_leaves_fullscreen),
        cmocka_unit_test(forward_uses_the_image_class),
        cmocka_unit_test(mode_from_the_clean_picture_starts_denoising),
        cmocka_unit_test(play_ticks),
        cmocka_unit_test(init_errors),
        cmocka_unit_test(runs_seen_are_kept),
        cmocka_unit_test(look_and_panels),
        cmocka_unit_test(idle_computes_ahead),
        cmocka_unit_test(compare_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
