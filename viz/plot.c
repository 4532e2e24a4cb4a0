/* plot.c — line charts (plot.h). */
#include "plot.h"
#include "base/err.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define INK DN_RGB(30, 30, 30)
#define GRID DN_RGB(225, 225, 225)

static double ty(const dn_plot_style *st, float v) { return st->logy ? log10((double)v) : (double)v; }
static int usable(const dn_plot_style *st, float x, float y) {
    return isfinite(x) && isfinite(y) && (!st->logy || y > 0);
}

/* A "nice" tick step for a range: 1, 2 or 5 times a power of ten, about 5 ticks. */
static double nice_step(double range) {
    double raw = range / 5.0, p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

int dn_plot_draw(dn_canvas *cv, int x, int y, int w, int h, const dn_plot_series *s, int ns,
                 const dn_plot_style *st, dn_font *font, dn_font *title_font) {
    double x0 = HUGE_VAL, x1 = -HUGE_VAL, y0 = HUGE_VAL, y1 = -HUGE_VAL;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            if (!usable(st, s[k].x[i], s[k].y[i])) continue;
            double v = ty(st, s[k].y[i]), xv = (double)s[k].x[i];
            if (xv < x0) x0 = xv;
            if (xv > x1) x1 = xv;
            if (v < y0) y0 = v;
            if (v > y1) y1 = v;
        }
    dn_canvas_fill_rect(cv, x, y, w, h, DN_RGB(255, 255, 255));
    if (!(x1 >= x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1; /* nothing to draw: empty axes */
    if (x1 == x0) x1 = x0 + 1;
    if (y1 == y0) y1 = y0 + 1;
    double pad = (y1 - y0) * 0.05;
    y0 -= pad, y1 += pad;
    int lh = font->px + font->px / 2;
    int top = y + (st->title ? title_font->px * 2 : 0) + (st->ylabel ? lh : 0) + font->px / 2, left = x + font->px * 5, right = x + w - font->px,
        bottom = y + h - lh * 2;
    int pw = right - left, ph = bottom - top;
    if (pw < 20 || ph < 20) return dn_fail("plot area %dx%d too small", w, h);
    if (st->title && dn_canvas_text(cv, title_font, x + w / 2, y + title_font->px / 3, DN_ALIGN_CENTER, INK, st->title) < 0)
        return -1;
    /* y grid and labels */
    char buf[64];
    if (st->logy) {
        for (int e = (int)floor(y0); e <= (int)ceil(y1); e++)
            for (int m = 1; m <= 9; m++) {
                double v = e + log10((double)m);
                if (v < y0 || v > y1) continue;
                int py = bottom - (int)lround((v - y0) / (y1 - y0) * ph);
                dn_canvas_fill_rect(cv, left, py, pw, 1, m == 1 ? DN_RGB(200, 200, 200) : GRID);
                if (m == 1 || m == 2 || m == 5 || y1 - y0 < 1.2) {
                    snprintf(buf, sizeof buf, "%g", (double)m * pow(10.0, e));
                    if (dn_canvas_text(cv, font, left - font->px / 3, py - lh / 2, DN_ALIGN_RIGHT, INK, buf) < 0) return -1;
                }
            }
    } else {
        double step = nice_step(y1 - y0);
        for (double v = ceil(y0 / step) * step; v <= y1; v += step) {
            int py = bottom - (int)lround((v - y0) / (y1 - y0) * ph);
            dn_canvas_fill_rect(cv, left, py, pw, 1, GRID);
            snprintf(buf, sizeof buf, "%g", fabs(v) < step * 1e-6 ? 0.0 : v);
            if (dn_canvas_text(cv, font, left - font->px / 3, py - lh / 2, DN_ALIGN_RIGHT, INK, buf) < 0) return -1;
        }
    }
    /* x grid and labels */
    double xs = nice_step(x1 - x0);
    for (double v = ceil(x0 / xs) * xs; v <= x1; v += xs) {
        int px = left + (int)lround((v - x0) / (x1 - x0) * pw);
        dn_canvas_fill_rect(cv, px, top, 1, ph, GRID);
        snprintf(buf, sizeof buf, "%g", v);
        /* centred under its tick, but never past the chart's edges ("10000" at the right end
         * used to lose its last digit) */
        int tw = 0, th = 0;
        if (dn_font_measure(font, buf, &tw, &th) < 0) return -1;
        int lx = px - tw / 2;
        if (lx + tw > x + w - 2) lx = x + w - 2 - tw;
        if (lx < x + 2) lx = x + 2;
        if (dn_canvas_text(cv, font, lx, bottom + 2, DN_ALIGN_LEFT, INK, buf) < 0) return -1;
    }
    dn_canvas_rect(cv, left, top, pw + 1, ph + 1, 1, INK);
    if (st->xlabel && dn_canvas_text(cv, font, left + pw / 2, bottom + lh, DN_ALIGN_CENTER, INK, st->xlabel) < 0)
        return -1;
    if (st->ylabel && dn_canvas_text(cv, font, left, top - lh - font->px / 4, DN_ALIGN_LEFT, INK, st->ylabel) < 0)
        return -1;
    /* series: each point joined to the previous one by a straight run of dots */
    for (int k = 0; k < ns; k++) {
        int have = 0, px = 0, py = 0, lw = s[k].width < 1 ? 1 : s[k].width;
        for (int i = 0; i < s[k].n; i++) {
            if (!usable(st, s[k].x[i], s[k].y[i])) continue;
            int qx = left + (int)lround(((double)s[k].x[i] - x0) / (x1 - x0) * pw);
            int qy = bottom - (int)lround((ty(st, s[k].y[i]) - y0) / (y1 - y0) * ph);
            if (!have) px = qx, py = qy, have = 1;
            int steps = abs(qx - px) > abs(qy - py) ? abs(qx - px) : abs(qy - py);
            for (int j = 0; j <= steps; j++) {
                int ax = steps ? px + (qx - px) * j / steps : qx, ay = steps ? py + (qy - py) * j / steps : qy;
                dn_canvas_fill_rect(cv, ax - lw / 2, ay - lw / 2, lw, lw, s[k].color);
            }
            px = qx, py = qy;
        }
        if (s[k].label) {
            int ly = top + font->px / 2 + k * lh;
            dn_canvas_fill_rect(cv, right - font->px * 12, ly + lh / 2, font->px * 2, lw + 1, s[k].color);
            if (dn_canvas_text(cv, font, right - font->px * 9, ly, DN_ALIGN_LEFT, INK, s[k].label) < 0) return -1;
        }
    }
    return 0;
}

int dn_plot_save(const char *path, int w, int h, const dn_plot_series *s, int ns, const dn_plot_style *st,
                 const dn_png_text *text, int ntext) {
    dn_canvas cv = {0};
    dn_font font = {0}, tfont = {0};
    unsigned char *rgb = NULL;
    int rc = -1;
    if (dn_canvas_init(&cv, w, h, DN_RGB(255, 255, 255)) < 0 || dn_font_open(&font, NULL, 18) < 0 ||
        dn_font_open(&tfont, NULL, 24) < 0)
        goto out;
    if (dn_plot_draw(&cv, 0, 0, w, h, s, ns, st, &font, &tfont) < 0) goto out;
    rgb = malloc((size_t)w * (size_t)h * 3);
    if (!rgb) {
        dn_fail("out of memory for a %dx%d plot", w, h);
        goto out;
    }
    dn_canvas_to_rgb(&cv, rgb);
    rc = dn_png_write(path, rgb, w, h, 3, text, ntext);
out:
    free(rgb);
    dn_font_close(&tfont);
    dn_font_close(&font);
    dn_canvas_free(&cv);
    return rc;
}
