/* test_canvas.c — the drawing layer the renderer and exporters share (viz/canvas.h, font.h,
 * sheet.h): clipping, nearest-neighbour blits, alpha blending, text that lands where it was put,
 * a clear error when no font can be opened, and a contact sheet laid out as documented. */
#include "testutil.h"
#include "canvas.h"
#include "base/err.h"
#include "font.h"
#include "data/image.h"
#include "plot.h"
#include "sheet.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define WHITE DN_RGB(255, 255, 255)
#define BLACK DN_RGB(0, 0, 0)
#define RED DN_RGB(255, 0, 0)

static uint32_t at(const dn_canvas *cv, int x, int y) { return cv->px[(long)y * cv->w + x]; }

static void fill_rect_clips(void **state) {
    (void)state;
    dn_canvas cv;
    assert_int_equal(dn_canvas_init(&cv, 10, 8, WHITE), 0);
    dn_canvas_fill_rect(&cv, -3, -2, 6, 5, RED); /* covers x 0..2, y 0..2 */
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 10; x++) assert_int_equal(at(&cv, x, y), (x < 3 && y < 3) ? RED : WHITE);
    /* wholly outside, and sizes that would overflow int arithmetic: no change, no crash */
    dn_canvas_fill_rect(&cv, 10, 0, 5, 5, BLACK);
    dn_canvas_fill_rect(&cv, 0, -100, 5, 50, BLACK);
    dn_canvas_fill_rect(&cv, INT_MAX - 1, INT_MAX - 1, INT_MAX, INT_MAX, BLACK);
    dn_canvas_fill_rect(&cv, 5, 5, INT_MAX, INT_MAX, BLACK); /* clipped to the corner */
    assert_int_equal(at(&cv, 9, 7), BLACK);
    assert_int_equal(at(&cv, 4, 7), WHITE);
    assert_int_equal(at(&cv, 9, 4), WHITE);
    /* outline: the border only */
    dn_canvas_clear(&cv, WHITE);
    dn_canvas_rect(&cv, 1, 1, 8, 6, 1, RED);
    assert_int_equal(at(&cv, 1, 1), RED);
    assert_int_equal(at(&cv, 8, 6), RED);
    assert_int_equal(at(&cv, 4, 3), WHITE);
    assert_int_equal(at(&cv, 0, 0), WHITE);
    dn_canvas_free(&cv);
    dn_canvas_free(&cv);
    assert_int_equal(dn_canvas_init(&cv, 0, 5, WHITE), -1);
    assert_non_null(strstr(dn_error(), "canvas"));
}

static void blit_is_nearest_neighbour(void **state) {
    (void)state;
    /* 2x2 RGB image, planar: four different colours, each pixel must become a 3x3 block */
    const float img[12] = {-1, 1, 0, 0.5f, /* r */ 1, -1, 0, -0.5f, /* g */ 0, 0, 1, -1 /* b */};
    dn_canvas cv;
    assert_int_equal(dn_canvas_init(&cv, 8, 8, WHITE), 0);
    dn_canvas_blit_float(&cv, 1, 1, 6, 6, img, 3, 2, 2);
    for (int y = 1; y < 7; y++)
        for (int x = 1; x < 7; x++) {
            int k = ((y - 1) / 3) * 2 + (x - 1) / 3;
            uint32_t want = DN_RGB(dn_unit_to_byte(img[k]), dn_unit_to_byte(img[4 + k]),
                                   dn_unit_to_byte(img[8 + k]));
            assert_int_equal(at(&cv, x, y), want);
        }
    assert_int_equal(at(&cv, 0, 0), WHITE); /* outside the target rectangle: untouched */
    assert_int_equal(at(&cv, 7, 7), WHITE);
    /* grey: r = g = b; values beyond [-1, 1] clip */
    const float grey[4] = {-5, 5, 0, -1};
    dn_canvas_blit_float(&cv, -1, -1, 4, 4, grey, 1, 2, 2); /* partly off the canvas */
    assert_int_equal(at(&cv, 0, 0), DN_RGB(0, 0, 0));
    assert_int_equal(at(&cv, 2, 0), DN_RGB(255, 255, 255));
    assert_int_equal(at(&cv, 0, 2), DN_RGB(128, 128, 128));
    dn_canvas_free(&cv);
}

static void blend_is_over(void **state) {
    (void)state;
    dn_canvas cv;
    assert_int_equal(dn_canvas_init(&cv, 3, 1, BLACK), 0);
    const uint32_t src[3] = {DN_ARGB(0, 255, 255, 255), DN_ARGB(128, 255, 255, 255),
                             DN_ARGB(255, 10, 20, 30)};
    dn_canvas_blend(&cv, 0, 0, src, 3, 1, 3);
    assert_int_equal(at(&cv, 0, 0), BLACK);                  /* alpha 0: nothing */
    assert_int_equal(at(&cv, 1, 0), DN_RGB(128, 128, 128));  /* half: halfway */
    assert_int_equal(at(&cv, 2, 0), DN_RGB(10, 20, 30));     /* opaque: replaced */
    unsigned char rgb[9];
    dn_canvas_to_rgb(&cv, rgb);
    const unsigned char want[9] = {0, 0, 0, 128, 128, 128, 10, 20, 30};
    assert_memory_equal(rgb, want, 9);
    dn_canvas_free(&cv);
}

/* Bounding box of the pixels that differ from `paper`. */
static void ink_box(const dn_canvas *cv, uint32_t paper, int *x0, int *y0, int *x1, int *y1) {
    *x0 = *y0 = INT_MAX;
    *x1 = *y1 = -1;
    for (int y = 0; y < cv->h; y++)
        for (int x = 0; x < cv->w; x++)
            if (at(cv, x, y) != paper) {
                if (x < *x0) *x0 = x;
                if (x > *x1) *x1 = x;
                if (y < *y0) *y0 = y;
                if (y > *y1) *y1 = y;
            }
}

static void text_lands_where_it_was_put(void **state) {
    (void)state;
    dn_font f;
    if (dn_font_open(&f, NULL, 20) != 0) {
        print_error("%s\n", dn_error());
        fail();
    }
    int w, h;
    assert_int_equal(dn_font_measure(&f, "t = 500", &w, &h), 0);
    assert_true(w > 30 && w < 120);
    assert_true(h >= 18 && h <= 40);
    dn_canvas cv;
    assert_int_equal(dn_canvas_init(&cv, 200, 60, WHITE), 0);
    assert_int_equal(dn_canvas_text(&cv, &f, 100, 10, DN_ALIGN_CENTER, BLACK, "t = 500"), 0);
    int x0, y0, x1, y1;
    ink_box(&cv, WHITE, &x0, &y0, &x1, &y1);
    assert_true(x1 > x0 && y1 > y0);           /* something was drawn */
    assert_true(abs((x0 + x1) / 2 - 100) <= 3); /* centred on x = 100 */
    assert_true(y0 >= 10 && y1 < 10 + h);       /* within the line that starts at y = 10 */
    assert_true(x1 - x0 + 1 <= w);
    /* left and right alignment put the ink on the named side of x */
    dn_canvas_clear(&cv, WHITE);
    assert_int_equal(dn_canvas_text(&cv, &f, 50, 10, DN_ALIGN_LEFT, BLACK, "abc"), 0);
    ink_box(&cv, WHITE, &x0, &y0, &x1, &y1);
    assert_true(x0 >= 50 && x0 <= 53);
    dn_canvas_clear(&cv, WHITE);
    assert_int_equal(dn_canvas_text(&cv, &f, 150, 10, DN_ALIGN_RIGHT, BLACK, "abc"), 0);
    ink_box(&cv, WHITE, &x0, &y0, &x1, &y1);
    assert_true(x1 <= 150 && x1 >= 146);
    /* text off the canvas is clipped, empty text draws nothing */
    assert_int_equal(dn_canvas_text(&cv, &f, -500, -500, DN_ALIGN_LEFT, BLACK, "clipped"), 0);
    dn_canvas_clear(&cv, WHITE);
    assert_int_equal(dn_canvas_text(&cv, &f, 10, 10, DN_ALIGN_LEFT, BLACK, ""), 0);
    ink_box(&cv, WHITE, &x0, &y0, &x1, &y1);
    assert_int_equal(x1, -1);
    dn_canvas_free(&cv);
    dn_font_close(&f);
    dn_font_close(&f);
}

static void missing_font_is_a_clear_error(void **state) {
    (void)state;
    setenv("DIFFUSE_FONT", "/nonexistent/font.ttf", 1);
    dn_font f;
    int rc = dn_font_open(&f, NULL, 16);
    unsetenv("DIFFUSE_FONT");
    assert_int_equal(rc, -1);
    assert_null(f.ttf);
    const char *m = dn_error();
    assert_non_null(strstr(m, "/nonexistent/font.ttf"));
    assert_non_null(strstr(m, "fonts-dejavu-core"));
    assert_null(strchr(m, '\n'));
    /* a usable font still opens afterwards (TTF_Init/TTF_Quit stay paired) */
    assert_int_equal(dn_font_open(&f, "DejaVu Sans", 12), 0);
    dn_font_close(&f);
}

static void sheet_layout_is_as_documented(void **state) {
    (void)state;
    dn_font f;
    assert_int_equal(dn_font_open(&f, NULL, 14), 0);
    /* three 4x4 grey images with values -1, 0, 1 */
    float imgs[3 * 16];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 16; k++) imgs[i * 16 + k] = (float)(i - 1);
    const char *caps[3] = {"t = 0", "t = 1\nsecond", "t = 2"};
    dn_sheet_style st = {.caption = &f, .gap = 10};
    dn_canvas cv;
    assert_int_equal(dn_sheet_render(&cv, imgs, 3, 1, 4, 4, caps, &st), 0);
    /* scale 0 -> 128 / 4 = 32: each image 128 px; one row; width = gap + 3 (128 + gap) */
    assert_int_equal(cv.w, 10 + 3 * (128 + 10));
    assert_true(cv.h > 10 + 128 + 2 * f.height); /* two caption lines under the images */
    const uint32_t paper = DN_RGB(255, 255, 255);
    assert_int_equal(at(&cv, 5, 5), paper);                       /* margin */
    assert_int_equal(at(&cv, 10 + 64, 10 + 64), DN_RGB(0, 0, 0)); /* image 0 = -1 */
    assert_int_equal(at(&cv, 10 + 138 + 64, 10 + 64), DN_RGB(128, 128, 128));
    assert_int_equal(at(&cv, 10 + 2 * 138 + 64, 10 + 64), DN_RGB(255, 255, 255));
    assert_int_equal(at(&cv, 10 + 128 + 5, 10 + 64), paper);      /* gap between images */
    /* captions: ink below each image, none in the gaps */
    int inked = 0;
    for (int y = 10 + 128; y < cv.h; y++)
        for (int x = 10; x < 10 + 128; x++) inked += at(&cv, x, y) != paper;
    assert_true(inked > 20);
    dn_canvas_free(&cv);

    /* fixed columns wrap into rows; a title adds a line on top */
    st.cols = 2;
    st.title = "Title";
    assert_int_equal(dn_sheet_render(&cv, imgs, 3, 1, 4, 4, caps, &st), 0);
    assert_int_equal(cv.w, 10 + 2 * (128 + 10));
    int titled_h = cv.h;
    dn_canvas_free(&cv);
    st.title = NULL;
    assert_int_equal(dn_sheet_render(&cv, imgs, 3, 1, 4, 4, NULL, &st), 0);
    assert_true(cv.h == 10 + 2 * (128 + 10)); /* two rows, no captions, no title */
    assert_true(titled_h > cv.h);
    dn_canvas_free(&cv);

    /* too big: refused with a message, not an enormous allocation */
    st.scale = 10000;
    assert_int_equal(dn_sheet_render(&cv, imgs, 3, 1, 4, 4, caps, &st), -1);
    assert_non_null(strstr(dn_error(), "limit"));
    assert_null(cv.px);
    dn_font_close(&f);
}


/* A chart stays inside its rectangle: nothing drawn around it, not even the last tick label
 * ("10000" at the right end of the shipped loss curves lost its last digit past the edge). */
static void plot_stays_in_its_box(void **state) {
    (void)state;
    enum { W = 700, H = 420, X = 100, Y = 60, PW = 480, PH = 300, N = 200 };
    dn_canvas cv = {0};
    dn_font f = {0}, t = {0};
    assert_int_equal(dn_canvas_init(&cv, W, H, DN_RGB(0, 0, 0)), 0);
    if (dn_font_open(&f, NULL, 15) < 0 || dn_font_open(&t, NULL, 20) < 0) fail_msg("%s", dn_error());
    float xs[N], ys[N];
    for (int i = 0; i < N; i++) xs[i] = (float)(i * 10000 / (N - 1)), ys[i] = 1.0f / (1.0f + (float)i);
    dn_plot_series s = {xs, ys, N, DN_RGB(20, 70, 160), 2, "loss"};
    dn_plot_style st = {"a title", "training step", "loss", 1};
    assert_int_equal(dn_plot_draw(&cv, X, Y, PW, PH, &s, 1, &st, &f, &t), 0);
    long outside = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if ((x < X || x >= X + PW || y < Y || y >= Y + PH) && cv.px[(long)y * W + x] != DN_RGB(0, 0, 0)) outside++;
    assert_int_equal(outside, 0);
    dn_font_close(&f), dn_font_close(&t);
    dn_canvas_free(&cv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fill_rect_clips),
        cmocka_unit_test(blit_is_nearest_neighbour),
        cmocka_unit_test(blend_is_over),
        cmocka_unit_test(text_lands_where_it_was_put),
        cmocka_unit_test(missing_font_is_a_clear_error),
        cmocka_unit_test(sheet_layout_is_as_documented),
        cmocka_unit_test(plot_stays_in_its_box),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
