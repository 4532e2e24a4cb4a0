/* test_lesson.c — the lesson parser: a documented example parses to the expected viewer states
 * (slides inherit from the one before), every shipped lesson parses, and malformed lessons are
 * refused with the file, the line and what was expected. */
#include "testutil.h"
#include "base/err.h"
#include "data/image.h"
#include "lesson.h"
#include "view.h"
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char example[] =
    "# a comment\n"
    "title: Forward diffusion\n"
    "\n"
    "slide: A cat dissolves\n"
    "mode: forward\n"
    "model: pets\n"
    "image: cat\n"
    "sampler: ddim\n"
    "steps: 50\n"
    "frames: 0-end\n"
    "panels: noise, timeline numbers\n"
    "caption: Each step adds a little noise.\n"
    "  The picture fades,\n"
    "\tlike ink in water.\n"
    "notes: Ask the class when they stop seeing the cat.\n"
    "\n"
    "slide: Reverse\r\n"
    "mode: reverse\n"
    "class: dog\n"
    "cfg: 7.5\n"
    "seed: 42\n"
    "frames: 10-20\n"
    "play: on\n"
    "\n"
    "slide: Img2img\n"
    "image: train 12\n"
    "start: 25\n"
    "class: none\n"
    "frames: end\n"
    "overlay: on\n"
    "guidance: yes\n";

static void test_example(void **state) {
    (void)state;
    dn_lesson l;
    if (dn_lesson_parse(&l, example, sizeof example - 1, "ex.txt") < 0) fail_msg("%s", dn_error());
    assert_string_equal(l.title, "Forward diffusion");
    assert_int_equal(l.n_slides, 3);
    const dn_slide *a = &l.slides[0], *b = &l.slides[1], *c = &l.slides[2];
    assert_string_equal(a->title, "A cat dissolves");
    assert_int_equal(a->line, 4);
    assert_int_equal(a->set.mode, DN_RUN_FORWARD);
    assert_string_equal(a->set.model, "pets");
    assert_string_equal(a->set.image, "cat");
    assert_int_equal(a->set.steps, 50);
    assert_int_equal(a->from, 0);
    assert_int_equal(a->to, -1);
    assert_int_equal(a->set.panels, DN_PANEL_NOISE | DN_PANEL_TIMELINE | DN_PANEL_NUMBERS);
    assert_string_equal(a->set.caption, "Each step adds a little noise. The picture fades, like ink in water.");
    assert_string_equal(a->notes, "Ask the class when they stop seeing the cat.");
    /* slide 2 inherits model, image, panels, steps; caption and notes are its own */
    assert_string_equal(b->title, "Reverse");
    assert_int_equal(b->set.mode, DN_RUN_REVERSE);
    assert_string_equal(b->set.model, "pets");
    assert_string_equal(b->class_name, "dog");
    assert_int_equal(b->set.cond, 1);
    assert_true(b->set.cfg_scale == 7.5f);
    assert_int_equal((int)b->set.seed, 42);
    assert_int_equal(b->from, 10);
    assert_int_equal(b->to, 20);
    assert_int_equal(b->play, 1);
    assert_int_equal(b->set.panels, a->set.panels);
    assert_string_equal(b->set.caption, "");
    assert_string_equal(b->notes, "");
    /* slide 3 */
    assert_string_equal(c->set.image, "");
    assert_int_equal(c->set.image_index, 12);
    assert_int_equal(c->set.start, 25);
    assert_int_equal(c->set.cond, 0);
    assert_int_equal(c->from, -1);
    assert_int_equal(c->to, -1);
    assert_int_equal(c->set.overlay, 1);
    assert_int_equal(c->set.guidance, 1);
    assert_int_equal(c->play, 0);
    assert_true(c->set.cfg_scale == 7.5f);
    /* names become bundled paths, files become relative to the lesson's folder */
    assert_int_equal(dn_lesson_resolve(&l, "/srv/diffuse", "/home/t/lessons"), 0);
    assert_string_equal(a->set.model, "/srv/diffuse/assets/models/pets.dfm");
    assert_string_equal(a->set.image, "/srv/diffuse/assets/images/cat.png");
    dn_lesson_free(&l);
}

/* Each malformed lesson: refused, the message names the file and the line, and says what was
 * expected. */
static void test_malformed(void **state) {
    (void)state;
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"title: T\nslide: S\ncolour: red\n", "bad.txt:3: unknown key 'colour' (known: title, slide"},
        {"title: T\nslide: S\nmode: sideways\n", "bad.txt:3: mode wants forward or reverse"},
        {"title: T\nslide: S\nsteps: 0\n", "bad.txt:3: steps wants a whole number 1 .. 1000"},
        {"title: T\nslide: S\nsteps: 12abc\n", "bad.txt:3: steps wants a whole number"},
        {"title: T\nslide: S\ncfg: lots\n", "bad.txt:3: cfg wants a guidance scale"},
        {"title: T\nslide: S\nsampler: plms\n", "bad.txt:3: sampler wants ddpm, ddim, euler or dpm++2m"},
        {"title: T\nslide: S\nframes: 9-3\n", "bad.txt:3: frames 9-3 end before they start"},
        {"title: T\nslide: S\nframes: a-b\n", "bad.txt:3: frames wants FROM-TO"},
        {"title: T\nslide: S\npanels: noise sparkle\n", "bad.txt:3: unknown panel 'sparkle'"},
        {"title: T\nslide: S\noverlay: maybe\n", "bad.txt:3: overlay wants on or off"},
        {"title: T\nslide: S\ncompare: colour red\n", "bad.txt:3: compare: unknown setting 'colour'"},
        {"title: T\nslide: S\ncompare: steps\n", "bad.txt:3: compare: 'steps' wants a value"},
        {"title: T\nslide: S\ncompare: steps 0\n", "bad.txt:3: compare: steps wants a whole number 1 .. 1000"},
        {"title: T\nslide: S\ncompare: sampler plms\n", "bad.txt:3: compare: sampler wants ddpm"},
        {"title: T\nmode: forward\n", "bad.txt:2: 'mode' belongs to a slide"},
        {"title: T\nslide: S\njust words\n", "bad.txt:3: expected 'key: value'"},
        {"  continued\ntitle: T\n", "bad.txt:1: indented line continues nothing"},
        {"title: T\nslide:\n", "bad.txt:2: slide wants a title"},
        {"slide: S\nmode: forward\n", "bad.txt: the lesson has no 'title: ...'"},
        {"title: T\n", "bad.txt: the lesson has no slides"},
        {"", "bad.txt: the lesson has no 'title"},
        {"title: T\nslide: S\nsteps: 10\nstart: 10\n", "bad.txt:2: start 10 must be below steps 10"},
        {"title: T\nslide: S\ncaption: a\x01b\n", "bad.txt:3: control character"},
        {"title: T\nslide: S\n: value\n", "bad.txt:3: expected 'key: value'"},
        {"title: T\nslide: S\nimage: train x\n", "bad.txt:3: image train wants a whole number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dn_lesson l;
        int rc = dn_lesson_parse(&l, bad[i].text, strlen(bad[i].text), "bad.txt");
        if (rc != -1) fail_msg("case %zu parsed: %s", i, bad[i].text);
        if (!strstr(dn_error(), bad[i].want)) fail_msg("case %zu: got '%s', want '%s'", i, dn_error(), bad[i].want);
        assert_null(strchr(dn_error(), '\n'));
        assert_null(l.slides);
    }
    /* a NUL byte inside the text */
    static const char nul[] = "title: T\nslide: S\ncaption: a\0b\n";
    dn_lesson l;
    assert_int_equal(dn_lesson_parse(&l, nul, sizeof nul - 1, "bad.txt"), -1);
    /* long values and too many slides */
    char *big = malloc(200000);
    size_t n = (size_t)sprintf(big, "title: T\n");
    for (int i = 0; i < 70; i++) n += (size_t)sprintf(big + n, "slide: S%d\n", i);
    assert_int_equal(dn_lesson_parse(&l, big, n, "bad.txt"), -1);
    assert_non_null(strstr(dn_error(), "bad.txt:66: too many slides"));
    n = (size_t)sprintf(big, "title: T\nslide: S\ncaption: ");
    for (int i = 0; i < 600; i++) n += (size_t)sprintf(big + n, "x");
    assert_int_equal(dn_lesson_parse(&l, big, n, "bad.txt"), -1);
    assert_non_null(strstr(dn_error(), "bad.txt:3: caption is too long"));
    free(big);
    /* a missing file */
    assert_int_equal(dn_lesson_load(&l, "tests/data/no-such-lesson.txt"), -1);
    assert_non_null(strstr(dn_error(), "no-such-lesson.txt"));
}

/* Every lesson shipped in lessons/ parses, has a caption on every slide, and names only
 * bundled models and images that exist. */
static void test_shipped(void **state) {
    (void)state;
    DIR *d = opendir("lessons");
    assert_non_null(d);
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".txt")) continue;
        char path[512];
        snprintf(path, sizeof path, "lessons/%s", e->d_name);
        dn_lesson l;
        if (dn_lesson_load(&l, path) < 0) fail_msg("%s", dn_error());
        assert_int_equal(dn_lesson_resolve(&l, ".", "lessons"), 0);
        for (int i = 0; i < l.n_slides; i++) {
            const dn_slide *s = &l.slides[i];
            if (!s->set.caption[0]) fail_msg("%s:%d: slide without a caption", path, s->line);
            if (s->set.image[0] && access(s->set.image, R_OK) != 0) fail_msg("%s:%d: missing image %s", path, s->line, s->set.image);
            if (s->set.picture[0] && access(s->set.picture, R_OK) != 0)
                fail_msg("%s:%d: missing picture %s", path, s->line, s->set.picture);
        }
        count++;
        dn_lesson_free(&l);
    }
    closedir(d);
    printf("# %d shipped lessons parse\n", count);
    assert_true(count >= 7);
}

/* ---- captions that the pictures must not contradict ------------------------------------------ */

static float max_abs(const float *x, long n) {
    float m = 0;
    for (long i = 0; i < n; i++) m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

/* correlation of two planes (how much of b's picture a already shows) */
static double corr(const float *a, const float *b, long n) {
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (long i = 0; i < n; i++) ma += (double)a[i], mb += (double)b[i];
    ma /= (double)n, mb /= (double)n;
    for (long i = 0; i < n; i++) {
        double da = (double)a[i] - ma, db = (double)b[i] - mb;
        sab += da * db, saa += da * da, sbb += db * db;
    }
    return sab / sqrt(saa * sbb + 1e-30);
}

/* Show slide i of lesson `path`; its caption and frame k of its run. */
static const dn_run_frame *slide_frame(dn_view *v, dn_lesson *l, const char *path, int i, int k) {
    if (dn_lesson_load(l, path) < 0 || dn_lesson_resolve(l, ".", "lessons") < 0) fail_msg("%s", dn_error());
    memset(v, 0, sizeof *v);
    if (dn_lesson_show(v, l, i) < 0) fail_msg("%s", dn_error());
    const dn_run_frame *f = dn_run_frame_wait(v->run, k < 0 ? dn_view_frames(v) - 1 : k);
    if (!f) fail_msg("%s", dn_error());
    return f;
}

/* What three captions say is what their slides show, measured on the shipped models (the old
 * captions said the opposite: "slowly gains shape" at a step where x_t is still noise, "a smaller
 * sprinkle" of noise beside a random part four times the drift, "blurrier" for a 10-step DDIM
 * picture that is nearly the 50-step one). */
static void captions_agree_with_pictures(void **state) {
    (void)state;
    dn_view v;
    dn_lesson l;
    /* lesson 3, slide 2 (frames 0-30 of DDPM 100): at its last frame x_t is still noise */
    const dn_run_frame *f = slide_frame(&v, &l, "lessons/3-reverse.txt", 1, 30);
    long n = (long)v.channels * v.height * v.width;
    float *x30 = malloc(sizeof(float) * (size_t)n);
    assert_non_null(x30);
    memcpy(x30, f->x, sizeof(float) * (size_t)n);
    const dn_run_frame *end = dn_run_frame_wait(v.run, dn_view_frames(&v) - 1);
    double c30 = corr(x30, end->x, n);
    print_message("lesson 3 slide 2: x_t at step 30 vs the final picture: correlation %.2f\n", c30);
    assert_true(c30 < 0.5);
    assert_null(strstr(l.slides[1].set.caption, "gains shape"));
    assert_non_null(strstr(l.slides[1].set.caption, "still looks like noise"));
    free(x30);
    dn_view_free(&v), dn_lesson_free(&l);
    /* lesson 3, slide 3 (frames 30-40): the random part is larger than the drift */
    f = slide_frame(&v, &l, "lessons/3-reverse.txt", 2, 30);
    n = (long)v.channels * v.height * v.width;
    float md = max_abs(f->drift, n), mr = max_abs(f->random, n);
    print_message("lesson 3 slide 3: max drift %.3f, max random %.3f\n", (double)md, (double)mr);
    assert_true(mr > md);
    assert_null(strstr(l.slides[2].set.caption, "smaller sprinkle"));
    assert_non_null(strstr(l.slides[2].set.caption, "larger than the drift"));
    dn_view_free(&v), dn_lesson_free(&l);
    /* lesson 6, slides 2 and 3: DDIM with 10 steps ends nearly where DDIM with 50 does */
    f = slide_frame(&v, &l, "lessons/6-samplers.txt", 1, -1);
    n = (long)v.channels * v.height * v.width;
    float *x50 = malloc(sizeof(float) * (size_t)n);
    assert_non_null(x50);
    memcpy(x50, f->x, sizeof(float) * (size_t)n);
    dn_view_free(&v), dn_lesson_free(&l);
    f = slide_frame(&v, &l, "lessons/6-samplers.txt", 2, -1);
    double c = corr(x50, f->x, n), d = 0;
    for (long i = 0; i < n; i++) d += fabs((double)x50[i] - (double)f->x[i]);
    print_message("lesson 6: DDIM 10 vs 50 steps: correlation %.3f, mean |difference| %.3f\n", c, d / (double)n);
    assert_true(c > 0.9);
    assert_null(strstr(l.slides[2].set.caption, "blurrier"));
    free(x50);
    dn_view_free(&v), dn_lesson_free(&l);
}


/* Every slide of every shipped lesson, drawn as it is exported: the presenter layout (a lesson's
 * default), the lesson's title and "slide N of M" on it, no key hints (slides used to carry "Space
 * plays", "press ]" and "Press Right"), no empty panels ("no prediction at the last frame" used to
 * fill three to seven boxes of animated slides), and an animated slide as a filmstrip of its
 * steps ("steps A-B" in the header) instead of its last frame. */
static void slides_show_the_process(void **state) {
    (void)state;
    static const char *hints[] = {"Space", "H: keys", "PageDown", "Press ", "press ", "Esc", "(O", " key"};
    static const char *empty[] = {"no prediction", "nothing to predict", "no step after it", "see x_t", "drawn over x_t",
                                  "no guidance"};
    dn_canvas cv = {0};
    dn_render_fonts f = {0};
    if (dn_canvas_init(&cv, 640, 360, 0) < 0 || dn_render_fonts_fit(&f, 640, 360) < 0) fail_msg("%s", dn_error());
    static char log[16384];
    int slides = 0, strips = 0, compares = 0;
    for (int num = 1; num <= 7; num++) {
        char pattern[64], path[512] = "";
        snprintf(pattern, sizeof pattern, "%d-", num);
        DIR *d = opendir("lessons");
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d)))
            if (!strncmp(e->d_name, pattern, strlen(pattern))) snprintf(path, sizeof path, "lessons/%s", e->d_name);
        closedir(d);
        assert_true(path[0]);
        dn_lesson l;
        if (dn_lesson_load(&l, path) < 0 || dn_lesson_resolve(&l, ".", "lessons") < 0) fail_msg("%s", dn_error());
        dn_view v;
        memset(&v, 0, sizeof v);
        for (int i = 0; i < l.n_slides; i++) {
            if (dn_lesson_show(&v, &l, i) < 0) fail_msg("%s", dn_error());
            assert_int_equal(v.look.layout, DN_LAYOUT_PRESENTER);
            v.message[0] = 0;
            int from, to;
            dn_lesson_range(&v, &l.slides[i], &from, &to);
            dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, to});
            if (dn_lesson_render_slide(&cv, &v, &f, from, to, log, sizeof log) < 0) fail_msg("%s", dn_error());
            char want[64];
            snprintf(want, sizeof want, "slide %d of %d", i + 1, l.n_slides);
            if (!strstr(log, want) || !strstr(log, l.title)) fail_msg("%s slide %d: no '%s' or title in\n%s", path, i + 1, want, log);
            /* what a caption points at is on the slide */
            if (strstr(l.slides[i].set.caption, "histogram") && !strstr(log, "values of x_t"))
                fail_msg("%s slide %d: the caption speaks of a histogram the slide does not show:\n%s", path, i + 1, log);
            if (strstr(l.slides[i].set.caption, "timeline") && !strstr(log, "(pure noise)"))
                fail_msg("%s slide %d: the caption speaks of the timeline the slide does not show:\n%s", path, i + 1, log);
            for (size_t h = 0; h < sizeof hints / sizeof hints[0]; h++)
                if (strstr(log, hints[h])) fail_msg("%s slide %d: a key hint '%s' in\n%s", path, i + 1, hints[h], log);
            for (size_t h = 0; h < sizeof empty / sizeof empty[0]; h++)
                if (strstr(log, empty[h])) fail_msg("%s slide %d: an empty panel '%s' in\n%s", path, i + 1, empty[h], log);
            if (v.set.cmp.on) { /* a compare slide: both runs side by side, at their end */
                if (!strstr(log, "\nA\n") || !strstr(log, "\nB\n") || !strstr(log, "done, clean"))
                    fail_msg("%s slide %d: a compare slide without both runs:\n%s", path, i + 1, log);
                compares++;
            } else if (to > from) {
                if (!strstr(log, "steps ")) fail_msg("%s slide %d: frames %d-%d but no filmstrip:\n%s", path, i + 1, from, to, log);
                strips++;
            }
            slides++;
        }
        dn_view_free(&v);
        dn_lesson_free(&l);
    }
    print_message("%d slides drawn, %d of them filmstrips, %d compare slides\n", slides, strips, compares);
    assert_true(strips >= 10);
    assert_true(compares >= 2);
    dn_render_fonts_close(&f);
    dn_canvas_free(&cv);
}

/* The contact sheet is readable: every slide drawn again at 960x540 (not a 320 px shrink of the
 * slide), two a row, captioned "slide N of M" and the title (lesson 4's read "1. 1. Pick ..."). */
static void contact_sheet_is_readable(void **state) {
    (void)state;
    const char *text = "title: Sheet\n\nslide: 1. First\nmode: forward\nsteps: 4\nframes: 0-end\ncaption: one\n\n"
                       "slide: Second\nframes: 2\ncaption: two\n\nslide: Third\nframes: end\ncaption: three\n";
    dn_lesson l;
    if (dn_lesson_parse(&l, text, strlen(text), "sheet.txt") < 0 || dn_lesson_resolve(&l, ".", ".") < 0) fail_msg("%s", dn_error());
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/sheet", tu_tmpdir());
    assert_int_equal(dn_lesson_export(&l, dir, 640, 360, 4, NULL, NULL, NULL), 3);
    snprintf(path, sizeof path, "%s/contact.png", dir);
    dn_image img = {0};
    if (dn_image_load(&img, path, 3) < 0) fail_msg("%s", dn_error());
    print_message("contact sheet %dx%d for 3 slides\n", img.w, img.h);
    assert_true(img.w >= 2 * 960 && img.w < 3 * 960);
    assert_true(img.h >= 2 * 540);
    dn_image_free(&img);
    dn_lesson_free(&l);
}


/* compare: B's changes, for one slide only; shown, B is the slide's settings with them, its class
 * by name. */
static void compare_slides(void **state) {
    (void)state;
    char text[1024];
    snprintf(text, sizeof text, "title: T\n\nslide: A\nmode: reverse\nmodel: %s\nsteps: 6\ncompare: sampler ddpm steps 4 cfg 7\n"
             "caption: a\n\nslide: B\ncaption: b\n\nslide: C\ncompare: cond off\ncaption: c\n", tu_tiny_model());
    dn_lesson l;
    if (dn_lesson_parse(&l, text, strlen(text), "cmp.txt") < 0) fail_msg("%s", dn_error());
    assert_true(l.slides[0].cmp.on && l.slides[0].cmp.has_sampler && l.slides[0].cmp.steps == 4);
    assert_false(l.slides[1].cmp.on); /* not passed on */
    assert_true(l.slides[2].cmp.on && l.slides[2].cmp.has_cond && !l.slides[2].cmp.cond);
    dn_view v;
    memset(&v, 0, sizeof v);
    if (dn_lesson_show(&v, &l, 0) < 0) fail_msg("%s", dn_error());
    assert_non_null(v.cmp_run);
    assert_int_equal(v.set.cmp.sampler, DN_DDPM);
    assert_int_equal(v.set.cmp.steps, 4);
    assert_true(v.set.cmp.cfg_scale == 7.0f);
    assert_int_equal(v.set.steps, 6);
    assert_int_equal(dn_run_frames(v.cmp_run), 5);
    if (dn_lesson_show(&v, &l, 1) < 0) fail_msg("%s", dn_error());
    assert_null(v.cmp_run);
    if (dn_lesson_show(&v, &l, 2) < 0) fail_msg("%s", dn_error());
    assert_non_null(v.cmp_run);
    assert_int_equal(v.set.cmp.cond, 0);
    assert_int_equal(v.set.cmp.steps, 6);
    dn_view_free(&v);
    dn_lesson_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_shipped),
        cmocka_unit_test(captions_agree_with_pictures),
        cmocka_unit_test(slides_show_the_process),
        cmocka_unit_test(contact_sheet_is_readable),
        cmocka_unit_test(compare_slides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
