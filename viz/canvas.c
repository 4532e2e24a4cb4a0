/* canvas.c — see canvas.h. */
#include "canvas.h"
#include "base/err.h"
#include "data/image.h"

#include <stdlib.h>
#include <string.h>

int dn_canvas_init(dn_canvas *cv, int w, int h, uint32_t color) {
    memset(cv, 0, sizeof *cv);
    if (w < 1 || h < 1 || w > 32768 || h > 32768)
        return dn_fail("cannot make a %dx%d canvas: sides must be 1 to 32768", w, h);
    cv->px = malloc((size_t)w * (size_t)h * sizeof *cv->px);
    if (!cv->px) return dn_fail("cannot make a %dx%d canvas: out of memory", w, h);
    cv->w = w;
    cv->h = h;
    dn_canvas_clear(cv, color);
    return 0;
}

void dn_canvas_free(dn_canvas *cv) {
    if (!cv) return;
    free(cv->px);
    memset(cv, 0, sizeof *cv);
}

void dn_canvas_clear(dn_canvas *cv, uint32_t color) {
    long n = (long)cv->w * cv->h;
    for (long i = 0; i < n; i++) cv->px[i] = color;
}

/* Clip [x, x+w) x [y, y+h) to the canvas; 0 if nothing is left. */
static int clip(const dn_canvas *cv, int *x, int *y, int *w, int *h) {
    long x0 = *x, y0 = *y, x1 = (long)*x + *w, y1 = (long)*y + *h;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > cv->w) x1 = cv->w;
    if (y1 > cv->h) y1 = cv->h;
    if (x0 >= x1 || y0 >= y1) return 0;
    *x = (int)x0;
    *y = (int)y0;
    *w = (int)(x1 - x0);
    *h = (int)(y1 - y0);
    return 1;
}

void dn_canvas_fill_rect(dn_canvas *cv, int x, int y, int w, int h, uint32_t color) {
    if (!clip(cv, &x, &y, &w, &h)) return;
    for (int j = y; j < y + h; j++) {
        uint32_t *row = cv->px + (long)j * cv->w;
        for (int i = x; i < x + w; i++) row[i] = color;
    }
}

void dn_canvas_rect(dn_canvas *cv, int x, int y, int w, int h, int thick, uint32_t color) {
    if (thick <= 0 || w <= 0 || h <= 0) return;
    if (2 * thick >= w || 2 * thick >= h) {
        dn_canvas_fill_rect(cv, x, y, w, h, color);
        return;
    }
    dn_canvas_fill_rect(cv, x, y, w, thick, color);                  /* top */
    dn_canvas_fill_rect(cv, x, y + h - thick, w, thick, color);      /* bottom */
    dn_canvas_fill_rect(cv, x, y + thick, thick, h - 2 * thick, color);         /* left */
    dn_canvas_fill_rect(cv, x + w - thick, y + thick, thick, h - 2 * thick, color); /* right */
}

/* "over" compositing of one channel with alpha a in [0, 255], rounded: d + (s - d) a / 255 */
static uint32_t mix(uint32_t d, uint32_t s, uint32_t a) {
    return (d * (255 - a) + s * a + 127) / 255;
}

void dn_canvas_blend(dn_canvas *cv, int x, int y, const uint32_t *src, int w, int h, int pitch) {
    int cx = x, cy = y, cw = w, ch = h;
    if (!clip(cv, &cx, &cy, &cw, &ch)) return;
    for (int j = cy; j < cy + ch; j++) {
        const uint32_t *srow = src + (long)(j - y) * pitch;
        uint32_t *drow = cv->px + (long)j * cv->w;
        for (int i = cx; i < cx + cw; i++) {
            uint32_t s = srow[i - x], d = drow[i], a = s >> 24;
            if (a == 0) continue;
            if (a == 255) {
                drow[i] = s;
                continue;
            }
            uint32_t da = d >> 24;
            uint32_t oa = a + (da * (255 - a) + 127) / 255;
            drow[i] = DN_ARGB(oa, mix((d >> 16) & 255, (s >> 16) & 255, a),
                              mix((d >> 8) & 255, (s >> 8) & 255, a), mix(d & 255, s & 255, a));
        }
    }
}

void dn_canvas_blit_float(dn_canvas *cv, int x, int y, int dw, int dh, const float *img, int c,
                          int ih, int iw) {
    int cx = x, cy = y, cw = dw, chh = dh;
    if (iw <= 0 || ih <= 0 || !clip(cv, &cx, &cy, &cw, &chh)) return;
    long plane = (long)ih * iw;
    const float *r = img, *g = c == 3 ? img + plane : img, *b = c == 3 ? img + 2 * plane : img;
    for (int j = cy; j < cy + chh; j++) {
        /* nearest neighbour: destination pixel centre (j - y + 0.5) maps to source row
         * floor((j - y + 0.5) * ih / dh) — integer form below */
        long sy = ((2L * (j - y) + 1) * ih) / (2L * dh);
        uint32_t *drow = cv->px + (long)j * cv->w;
        for (int i = cx; i < cx + cw; i++) {
            long sx = ((2L * (i - x) + 1) * iw) / (2L * dw);
            long k = sy * iw + sx;
            drow[i] = DN_RGB(dn_unit_to_byte(r[k]), dn_unit_to_byte(g[k]), dn_unit_to_byte(b[k]));
        }
    }
}

void dn_canvas_blit_float_smooth(dn_canvas *cv, int x, int y, int dw, int dh, const float *img, int c,
                                 int ih, int iw) {
    int cx = x, cy = y, cw = dw, chh = dh;
    if (iw <= 0 || ih <= 0 || dw <= 0 || dh <= 0 || !clip(cv, &cx, &cy, &cw, &chh)) return;
    long plane = (long)ih * iw;
    for (int j = cy; j < cy + chh; j++) {
        float fy = ((float)(j - y) + 0.5f) * (float)ih / (float)dh - 0.5f;
        if (fy < 0) fy = 0;
        if (fy > (float)(ih - 1)) fy = (float)(ih - 1);
        int y0 = (int)fy, y1 = y0 + 1 < ih ? y0 + 1 : y0;
        float ay = fy - (float)y0;
        uint32_t *drow = cv->px + (long)j * cv->w;
        for (int i = cx; i < cx + cw; i++) {
            float fx = ((float)(i - x) + 0.5f) * (float)iw / (float)dw - 0.5f;
            if (fx < 0) fx = 0;
            if (fx > (float)(iw - 1)) fx = (float)(iw - 1);
            int x0 = (int)fx, x1 = x0 + 1 < iw ? x0 + 1 : x0;
            float ax = fx - (float)x0;
            unsigned char ch[3];
            for (int k = 0; k < 3; k++) {
                const float *p = img + (c == 3 ? k * plane : 0);
                float top = p[(long)y0 * iw + x0] + ax * (p[(long)y0 * iw + x1] - p[(long)y0 * iw + x0]);
                float bot = p[(long)y1 * iw + x0] + ax * (p[(long)y1 * iw + x1] - p[(long)y1 * iw + x0]);
                ch[k] = dn_unit_to_byte(top + ay * (bot - top));
            }
            drow[i] = DN_RGB(ch[0], ch[1], ch[2]);
        }
    }
}

void dn_canvas_to_rgb(const dn_canvas *cv, unsigned char *rgb) {
    long n = (long)cv->w * cv->h;
    for (long i = 0; i < n; i++) {
        uint32_t p = cv->px[i];
        rgb[3 * i + 0] = (unsigned char)(p >> 16);
        rgb[3 * i + 1] = (unsigned char)(p >> 8);
        rgb[3 * i + 2] = (unsigned char)p;
    }
}
