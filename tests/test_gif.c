/* test_gif.c — animated GIF export (viz/gif.h): every file is read back with giflib's own
 * decoder (DGifSlurp) and composited frame by frame as a browser would (transparency, "do not
 * dispose"), then compared with the canvases that went in: exact when a frame has few enough
 * colours, a small mean error for a photo-like gradient, greys that stay grey, the header,
 * delays and loop extension as asked, and failures that leave no file behind. */
#include "testutil.h"
#include "canvas.h"
#include "base/err.h"
#include "gif.h"

#include <dirent.h>
#include <gif_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a decoded animation ---- */
typedef struct {
    int w, h, n;
    uint32_t *px;   /* (n, h, w) 0xRRGGBB after compositing frames 0..i */
    int *delay;     /* (n) centiseconds */
    int loop_count; /* NETSCAPE2.0 repeat count, -1 if the extension is absent */
    int local_maps; /* frames carrying their own colour table */
} anim;

static void anim_free(anim *a) {
    free(a->px);
    free(a->delay);
    memset(a, 0, sizeof *a);
}

static void decode(const char *path, anim *a) {
    memset(a, 0, sizeof *a);
    int err = 0;
    GifFileType *gf = DGifOpenFileName(path, &err);
    assert_non_null(gf);
    assert_int_equal(DGifSlurp(gf), GIF_OK);
    a->w = gf->SWidth;
    a->h = gf->SHeight;
    a->n = gf->ImageCount;
    a->loop_count = -1;
    long np = (long)a->w * a->h;
    a->px = calloc((size_t)(np * a->n), sizeof *a->px);
    a->delay = calloc((size_t)a->n, sizeof *a->delay);
    assert_non_null(a->px);
    assert_non_null(a->delay);
    uint32_t *screen = calloc((size_t)np, sizeof *screen);
    assert_non_null(screen);
    for (int i = 0; i < a->n; i++) {
        const SavedImage *im = &gf->SavedImages[i];
        /* the loop extension: "NETSCAPE2.0" then a sub-block {1, count lo, count hi} */
        for (int e = 0; e + 1 < im->ExtensionBlockCount; e++) {
            const ExtensionBlock *x = &im->ExtensionBlocks[e];
            if (x->Function == APPLICATION_EXT_FUNC_CODE && x->ByteCount == 11 &&
                memcmp(x->Bytes, "NETSCAPE2.0", 11) == 0) {
                const ExtensionBlock *s = &im->ExtensionBlocks[e + 1];
                assert_int_equal(s->ByteCount, 3);
                assert_int_equal(s->Bytes[0], 1);
                a->loop_count = s->Bytes[1] | s->Bytes[2] << 8;
            }
        }
        GraphicsControlBlock gcb = {.TransparentColor = -1};
        assert_int_equal(DGifSavedExtensionToGCB(gf, i, &gcb), GIF_OK);
        a->delay[i] = gcb.DelayTime;
        const ColorMapObject *cm = im->ImageDesc.ColorMap ? im->ImageDesc.ColorMap : gf->SColorMap;
        a->local_maps += im->ImageDesc.ColorMap != NULL;
        assert_non_null(cm);
        const GifImageDesc *d = &im->ImageDesc;
        assert_true(d->Left >= 0 && d->Top >= 0);
        assert_true(d->Left + d->Width <= a->w && d->Top + d->Height <= a->h);
        for (int y = 0; y < d->Height; y++)
            for (int x = 0; x < d->Width; x++) {
                int k = im->RasterBits[(long)y * d->Width + x];
                if (k == gcb.TransparentColor) continue;
                assert_true(k < cm->ColorCount);
                GifColorType c = cm->Colors[k];
                screen[(long)(d->Top + y) * a->w + d->Left + x] =
                    (uint32_t)c.Red << 16 | (uint32_t)c.Green << 8 | c.Blue;
            }
        memcpy(a->px + np * i, screen, (size_t)np * sizeof *screen);
    }
    free(screen);
    DGifCloseFile(gf, &err);
}

static const char *tmp_path(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tu_tmpdir(), name);
    return buf;
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* Files in the test folder whose name starts with prefix (temporaries included). */
static int files_named(const char *prefix) {
    DIR *d = opendir(tu_tmpdir());
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void assert_frame_equal(const anim *a, int i, const dn_canvas *cv) {
    const uint32_t *got = a->px + (long)a->w * a->h * i;
    for (long k = 0; k < (long)cv->w * cv->h; k++)
        if (got[k] != (cv->px[k] & 0xFFFFFF)) {
            print_error("frame %d pixel (%ld, %ld): got %06x, want %06x\n", i, k % cv->w, k / cv->w,
                        got[k], cv->px[k] & 0xFFFFFF);
            fail();
        }
}

/* A UI-like frame: flat background, a panel, a bar whose length depends on t, 120 "antialiased"
 * text greys. Fewer than 200 colours in all. */
static void draw_ui(dn_canvas *cv, int t) {
    dn_canvas_clear(cv, DN_RGB(250, 250, 247));
    dn_canvas_fill_rect(cv, 4, 4, cv->w - 8, 12, DN_RGB(30, 60, 120));
    dn_canvas_fill_rect(cv, 6, 20, 5 + 9 * t, 6, DN_RGB(220, 90, 20));
    for (int i = 0; i < 120; i++)
        dn_canvas_fill_rect(cv, (i * 7) % cv->w, 30 + i / 20, 1, 1, DN_RGB(i * 2, i * 2, i * 2));
    dn_canvas_fill_rect(cv, 10 + 3 * t, 40, 4, 4, DN_RGB(0, 160, 80));
}

static void roundtrip_exact(void **state) {
    (void)state;
    dn_canvas f[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(dn_canvas_init(&f[i], 64, 48, 0), 0);
        draw_ui(&f[i], i);
    }
    /* frame 0: exactly 256 distinct colours, all of it stored, so exact too */
    for (long k = 0; k < 64 * 48; k++) f[0].px[k] = DN_RGB(k & 255, 255 - (k & 255), (k * 37) & 255);
    memcpy(f[3].px, f[2].px, 64 * 48 * sizeof(uint32_t)); /* frame 3 repeats frame 2 */
    f[3].px[100] = DN_ARGB(7, 250, 250, 247);               /* alpha is ignored */
    const int delay[4] = {5, 20, 7, 300};
    const char *path = tmp_path("ui.gif");
    assert_int_equal(dn_gif_write(path, f, 4, delay, 1), 0);
    anim a;
    decode(path, &a);
    assert_int_equal(a.w, 64);
    assert_int_equal(a.h, 48);
    assert_int_equal(a.n, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(a.delay[i], delay[i]);
    assert_int_equal(a.loop_count, 0); /* forever */
    for (int i = 0; i < 4; i++) assert_frame_equal(&a, i, &f[i]);
    anim_free(&a);
    assert_int_equal(files_named("ui.gif"), 1); /* no temporary left behind */
    for (int i = 0; i < 4; i++) dn_canvas_free(&f[i]);
}

/* A photo-like frame: smooth colour gradients, a grey ramp of all 256 levels, and a little
 * deterministic noise; thousands of colours, so the palette must be computed. */
static void draw_photo(dn_canvas *cv, int t) {
    uint32_t s = 12345u + (uint32_t)t;
    for (int y = 0; y < cv->h; y++)
        for (int x = 0; x < cv->w; x++) {
            s = s * 1664525u + 1013904223u;
            int n = (int)(s >> 29) - 4; /* -4..3 */
            int r = (x * 255) / (cv->w - 1), g = (y * 255) / (cv->h - 1);
            int b = 128 + (int)(100 * sin((x + y + t) * 0.05));
            r += n, g -= n;
            r = r < 0 ? 0 : r > 255 ? 255 : r;
            g = g < 0 ? 0 : g > 255 ? 255 : g;
            cv->px[(long)y * cv->w + x] = DN_RGB(r, g, b);
        }
    /* a grey image: a 256-level ramp in a band 16 rows high */
    for (int y = 8; y < 24; y++)
        for (int x = 0; x < cv->w; x++) {
            int v = (x * 255) / (cv->w - 1);
            cv->px[(long)y * cv->w + x] = DN_RGB(v, v, v);
        }
    /* a flat UI colour (0.8% of the pixels) amid similar gradient colours: it must stay exact */
    dn_canvas_fill_rect(cv, 200, 60, 20, 10, DN_RGB(210, 165, 190));
}

static void check_photo(int dither) {
    dn_canvas f[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dn_canvas_init(&f[i], 256, 96, 0), 0);
        draw_photo(&f[i], 9 * i);
    }
    const char *path = tmp_path("photo.gif");
    dn_gif_options opt = {.plays = 3, .dither = dither};
    assert_int_equal(dn_gif_write_opt(path, f, 2, NULL, &opt), 0);
    anim a;
    decode(path, &a);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.loop_count, 2); /* played 3 times = 2 repeats */
    assert_int_equal(a.delay[1], 10);  /* NULL delays = 10 cs */
    for (int i = 0; i < 2; i++) {
        const uint32_t *got = a.px + (long)a.w * a.h * i;
        double sum = 0, grey_sum = 0;
        int grey_max = 0;
        long np = (long)a.w * a.h, ngrey = 0;
        for (long k = 0; k < np; k++) {
            uint32_t p = f[i].px[k], q = got[k];
            int d[3] = {(int)((p >> 16) & 255) - (int)((q >> 16) & 255),
                        (int)((p >> 8) & 255) - (int)((q >> 8) & 255), (int)(p & 255) - (int)(q & 255)};
            for (int c = 0; c < 3; c++) sum += fabs((double)d[c]);
            if (((p >> 16) & 255) == (p & 255) && ((p >> 8) & 255) == (p & 255)) {
                /* greys stay grey */
                assert_int_equal((q >> 16) & 255, q & 255);
                assert_int_equal((q >> 8) & 255, q & 255);
                grey_sum += fabs((double)d[0]);
                if (abs(d[0]) > grey_max) grey_max = abs(d[0]);
                ngrey++;
            }
        }
        double mean = sum / (3.0 * (double)np);
        print_message("    photo frame %d (dither %d): mean |error| %.2f levels, grey mean %.2f max %d\n",
                      i, dither, mean, grey_sum / (double)ngrey, grey_max);
        assert_true(ngrey >= 256 * 16);
        assert_true(mean < (dither ? 8.0 : 6.0)); /* a uniform 6x6x6 palette would give ~12 */
        assert_true(grey_sum / (double)ngrey < (dither ? 6.0 : 4.5));
        if (!dither) assert_true(grey_max <= 4); /* every grey level has a grey entry within 4 */
        if (!dither)
            for (int y = 60; y < 70; y++)
                for (int x = 200; x < 220; x++) assert_int_equal(got[(long)y * a.w + x], 0xD2A5BE);
    }
    anim_free(&a);
    for (int i = 0; i < 2; i++) dn_canvas_free(&f[i]);
}

static void photo_within_tolerance(void **state) {
    (void)state;
    check_photo(0);
}

static void photo_dithered_within_tolerance(void **state) {
    (void)state;
    check_photo(1);
}

/* More than 65536 distinct colours (random RGB noise): the palette search bins the histogram.
 * Uniform noise over the RGB cube with 255 colours leaves about 10 levels of error per channel. */
static void random_noise_many_colours(void **state) {
    (void)state;
    dn_canvas f[2];
    uint32_t s = 7;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dn_canvas_init(&f[i], 384, 256, 0), 0);
        for (long k = 0; k < 384L * 256; k++) {
            s = s * 1664525u + 1013904223u;
            uint32_t v = s >> 8;
            f[i].px[k] = k < 384L * 32 ? DN_RGB(v & 255, v & 255, v & 255) : (0xFF000000u | v);
        }
    }
    const char *path = tmp_path("noise.gif");
    assert_int_equal(dn_gif_write(path, f, 2, NULL, 1), 0);
    anim a;
    decode(path, &a);
    assert_int_equal(a.n, 2);
    for (int i = 0; i < 2; i++) {
        const uint32_t *got = a.px + 384L * 256 * i;
        double sum = 0;
        for (long k = 0; k < 384L * 256; k++) {
            uint32_t p = f[i].px[k], q = got[k];
            for (int sh = 0; sh < 24; sh += 8) sum += abs((int)((p >> sh) & 255) - (int)((q >> sh) & 255));
            if (k < 384L * 32) { /* the grey rows */
                assert_int_equal((q >> 16) & 255, q & 255);
                assert_int_equal((q >> 8) & 255, q & 255);
                assert_true(abs((int)(p & 255) - (int)(q & 255)) <= 4);
            }
        }
        double mean = sum / (3.0 * 384 * 256);
        print_message("    noise frame %d: mean |error| %.2f levels\n", i, mean);
        assert_true(mean < 14.0);
    }
    anim_free(&a);
    for (int i = 0; i < 2; i++) dn_canvas_free(&f[i]);
}

/* Only the changed rectangle is stored: a mostly static animation is several times smaller than
 * storing whole frames, and both decode to the same pictures. */
static void changed_rectangle_saves_space(void **state) {
    (void)state;
    enum { N = 8 };
    dn_canvas f[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(dn_canvas_init(&f[i], 320, 200, 0), 0);
        draw_photo(&f[i], 0); /* the same busy background every frame */
        dn_canvas_fill_rect(&f[i], 100 + 4 * i, 120, 30, 20, DN_RGB(255, 0, 0));
    }
    char opt_path[512], full_path[512];
    snprintf(opt_path, sizeof opt_path, "%s", tmp_path("rect.gif"));
    snprintf(full_path, sizeof full_path, "%s", tmp_path("full.gif"));
    dn_gif_options full = {.full_frames = 1};
    assert_int_equal(dn_gif_write_opt(opt_path, f, N, NULL, NULL), 0);
    assert_int_equal(dn_gif_write_opt(full_path, f, N, NULL, &full), 0);
    long so = file_size(opt_path), sf = file_size(full_path);
    print_message("    %d frames 320x200: changed rectangles %ld bytes, whole frames %ld bytes\n", N, so,
                  sf);
    assert_true(so > 0 && so * 4 < sf);
    anim a, b;
    decode(opt_path, &a);
    decode(full_path, &b);
    assert_int_equal(a.n, N);
    assert_int_equal(b.n, N);
    assert_int_equal(b.local_maps, N - 1);
    /* the red square moves exactly; the static background is frame 0's quantised one */
    for (int i = 0; i < N; i++) {
        const uint32_t *p = a.px + (long)a.w * a.h * i;
        if (i > 0) assert_int_equal(p[130L * 320 + 100 + 4 * i + 1], 0xFF0000);
        assert_int_equal(p[10L * 320 + 10], a.px[10L * 320 + 10]);
    }
    anim_free(&a);
    anim_free(&b);
    for (int i = 0; i < N; i++) dn_canvas_free(&f[i]);
}

static void streaming_and_play_once(void **state) {
    (void)state;
    dn_canvas cv;
    assert_int_equal(dn_canvas_init(&cv, 16, 16, DN_RGB(1, 2, 3)), 0);
    dn_gif g;
    dn_gif_options opt = {.plays = 1, .max_colors = 4};
    assert_int_equal(dn_gif_begin(&g, 16, 16, &opt), 0);
    for (int i = 0; i < 3; i++) {
        dn_canvas_fill_rect(&cv, i, i, 2, 2, i == 1 ? DN_RGB(9, 9, 9) : DN_RGB(200, 100, 0));
        assert_int_equal(dn_gif_add(&g, &cv, 4), 0); /* the caller may reuse the canvas */
    }
    const char *path = tmp_path("once.gif");
    assert_int_equal(dn_gif_end(&g, path), 0);
    anim a;
    decode(path, &a);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.loop_count, -1); /* no loop extension: plays once */
    assert_frame_equal(&a, 2, &cv);
    anim_free(&a);
    dn_gif_free(&g); /* already freed by end: harmless */
    dn_canvas_free(&cv);
}

/* Even a 3-entry palette (2 colours + transparency after the first frame) keeps greys grey. */
static void tiny_palette_keeps_greys(void **state) {
    (void)state;
    dn_canvas f[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dn_canvas_init(&f[i], 32, 8, 0), 0);
        for (int x = 0; x < 32; x++)
            for (int y = 0; y < 8; y++)
                f[i].px[y * 32 + x] =
                    y < 4 ? DN_RGB(x * 8, x * 8, x * 8) : DN_RGB(x * 8, 255 - x * 8, i * 90);
    }
    const char *path = tmp_path("tiny.gif");
    dn_gif_options opt = {.max_colors = 3};
    assert_int_equal(dn_gif_write_opt(path, f, 2, NULL, &opt), 0);
    anim a;
    decode(path, &a);
    assert_int_equal(a.n, 2);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4 * 32; k++) { /* the grey rows of frame i */
            uint32_t q = a.px[(long)i * 256 + k];
            assert_int_equal((q >> 16) & 255, q & 255);
            assert_int_equal((q >> 8) & 255, q & 255);
        }
    anim_free(&a);
    for (int i = 0; i < 2; i++) dn_canvas_free(&f[i]);
}

static void failures_leave_no_file(void **state) {
    (void)state;
    dn_canvas f[2];
    assert_int_equal(dn_canvas_init(&f[0], 20, 10, DN_RGB(0, 0, 0)), 0);
    assert_int_equal(dn_canvas_init(&f[1], 20, 11, DN_RGB(0, 0, 0)), 0);
    const char *path = tmp_path("bad.gif");
    assert_int_equal(dn_gif_write(path, f, 2, NULL, 1), -1);
    assert_non_null(strstr(dn_error(), "20x11"));
    assert_non_null(strstr(dn_error(), "bad.gif"));
    assert_int_equal(files_named("bad.gif"), 0);
    /* a folder that does not exist */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.gif", tu_tmpdir());
    assert_int_equal(dn_gif_write(missing, f, 1, NULL, 1), -1);
    assert_non_null(strstr(dn_error(), "x.gif"));
    assert_int_equal(access(missing, F_OK), -1);
    /* no frames, bad delay, bad options */
    assert_int_equal(dn_gif_write(path, f, 0, NULL, 1), -1);
    const int bad_delay[1] = {-1};
    assert_int_equal(dn_gif_write(path, f, 1, bad_delay, 1), -1);
    assert_non_null(strstr(dn_error(), "delay"));
    dn_gif g;
    dn_gif_options opt = {.max_colors = 300};
    assert_int_equal(dn_gif_begin(&g, 20, 10, &opt), -1);
    assert_int_equal(dn_gif_begin(&g, 20, 10, NULL), 0);
    assert_int_equal(dn_gif_end(&g, path), -1); /* no frames */
    assert_int_equal(files_named("bad.gif"), 0);
    dn_canvas_free(&f[0]);
    dn_canvas_free(&f[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_exact),
        cmocka_unit_test(photo_within_tolerance),
        cmocka_unit_test(photo_dithered_within_tolerance),
        cmocka_unit_test(random_noise_many_colours),
        cmocka_unit_test(changed_rectangle_saves_space),
        cmocka_unit_test(streaming_and_play_once),
        cmocka_unit_test(tiny_palette_keeps_greys),
        cmocka_unit_test(failures_leave_no_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
