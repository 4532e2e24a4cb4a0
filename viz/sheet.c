/* sheet.c — see sheet.h. Layout, top to bottom:
 *   gap | title line + gap (if any) | rows of [image, caption lines] separated by gap | gap */
#include "sheet.h"
#include "base/err.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LINES 4

/* Split s at '\n' into at most MAX_LINES lines (copied into buf). Returns the count. */
static int split_lines(char lines[MAX_LINES][256], const char *s) {
    int n = 0;
    while (n < MAX_LINES) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len > 255) len = 255;
        memcpy(lines[n], s, len);
        lines[n][len] = '\0';
        n++;
        if (!e) break;
        s = e + 1;
    }
    return n;
}

int dn_sheet_render(dn_canvas *cv, const float *imgs, int n, int c, int h, int w,
                    const char *const *captions, const dn_sheet_style *st) {
    memset(cv, 0, sizeof *cv);
    if (n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 || !st->caption)
        return dn_fail("cannot make a contact sheet of %d images (%dx%dx%d)", n, c, h, w);
    dn_font *cf = st->caption, *tf = st->title_font ? st->title_font : st->caption;
    uint32_t paper = st->paper ? st->paper : DN_RGB(255, 255, 255);
    uint32_t ink = st->ink ? st->ink : DN_RGB(24, 24, 24);
    uint32_t muted = st->muted ? st->muted : DN_RGB(110, 110, 110);
    int gap = st->gap > 0 ? st->gap : 16;
    int scale = st->scale;
    if (scale <= 0) {
        int side = h > w ? h : w;
        scale = (128 + side - 1) / side;
    }
    int cols = st->cols;
    if (cols <= 0) {
        int rows = (n + 11) / 12;
        cols = (n + rows - 1) / rows;
    }
    if (cols > n) cols = n;
    int rows = (n + cols - 1) / cols;

    /* Captions: how many lines at most, and how wide (a cell widens to fit its caption). */
    int nlines = 0, capw = 0;
    for (int i = 0; captions && i < n; i++) {
        char lines[MAX_LINES][256];
        int k = split_lines(lines, captions[i]);
        if (k > nlines) nlines = k;
        for (int l = 0; l < k; l++) {
            int tw, th;
            if (dn_font_measure(cf, lines[l], &tw, &th) != 0) return -1;
            if (tw > capw) capw = tw;
        }
    }
    long iw = (long)w * scale, ih = (long)h * scale;
    long cellw = iw > capw ? iw : capw;
    long cellh = ih + (nlines ? 6 + (long)nlines * cf->height : 0);
    int titleh = st->title && st->title[0] ? tf->height + gap / 2 : 0;
    int titlew = 0, dummy;
    if (titleh && dn_font_measure(tf, st->title, &titlew, &dummy) != 0) return -1;
    long W = gap + cols * (cellw + gap), H = gap + titleh + rows * (cellh + gap);
    if (W < titlew + 2L * gap) W = titlew + 2L * gap;
    if (W > 32768 || H > 32768)
        return dn_fail("cannot make a contact sheet of %ldx%ld pixels (limit 32768): use fewer "
                       "images or a smaller scale", W, H);
    if (dn_canvas_init(cv, (int)W, (int)H, paper) != 0) return -1;

    if (titleh && dn_canvas_text(cv, tf, gap, gap, DN_ALIGN_LEFT, ink, st->title) != 0) goto fail;
    long plane = (long)c * h * w;
    for (int i = 0; i < n; i++) {
        int r = i / cols, col = i % cols;
        int cx = (int)(gap + col * (cellw + gap)), cy = (int)(gap + titleh + r * (cellh + gap));
        int ix = cx + (int)((cellw - iw) / 2);
        dn_canvas_blit_float(cv, ix, cy, (int)iw, (int)ih, imgs + i * plane, c, h, w);
        if (!captions) continue;
        char lines[MAX_LINES][256];
        int k = split_lines(lines, captions[i]);
        for (int l = 0; l < k; l++) {
            int ty = cy + (int)ih + 6 + l * cf->height;
            if (dn_canvas_text(cv, cf, cx + (int)cellw / 2, ty, DN_ALIGN_CENTER, l ? muted : ink,
                               lines[l]) != 0)
                goto fail;
        }
    }
    return 0;
fail:
    dn_canvas_free(cv);
    return -1;
}

int dn_sheet_save(const char *path, const float *imgs, int n, int c, int h, int w,
                  const char *const *captions, const char *title, int cols, int scale,
                  const dn_png_text *text, int ntext) {
    dn_font font = {0}, title_font = {0};
    dn_canvas cv = {0};
    unsigned char *rgb = NULL;
    int rc = -1;
    if (dn_font_open(&font, NULL, 15) < 0 || dn_font_open(&title_font, NULL, 22) < 0) goto out;
    dn_sheet_style st = {.caption = &font, .title_font = &title_font, .title = title, .cols = cols,
                         .scale = scale};
    if (dn_sheet_render(&cv, imgs, n, c, h, w, captions, &st) < 0) goto out;
    rgb = malloc((size_t)cv.w * (size_t)cv.h * 3);
    if (!rgb) {
        dn_fail("out of memory for a %dx%d picture", cv.w, cv.h);
        goto out;
    }
    dn_canvas_to_rgb(&cv, rgb);
    rc = dn_png_write(path, rgb, cv.w, cv.h, 3, text, ntext);
out:
    free(rgb);
    dn_canvas_free(&cv);
    dn_font_close(&title_font);
    dn_font_close(&font);
    return rc;
}
