/* canvas.h — a plain pixel buffer that every picture is drawn into: the renderer draws here, the
 * SDL window uploads it to a streaming texture, the exporters write it as PNG or GIF.
 *
 * One pixel is a uint32_t 0xAARRGGBB. That is SDL_PIXELFORMAT_ARGB8888 on every machine (SDL
 * defines packed formats by the integer's value, not by byte order), so a window can upload the
 * buffer unchanged with pitch = w * 4. No SDL in here: drawing is plain loops over the array.
 * All drawing is clipped to the canvas; coordinates may be negative or past the edge. */
#ifndef DN_CANVAS_H
#define DN_CANVAS_H
#include <stdint.h>

#define DN_ARGB(a, r, g, b) \
    (((uint32_t)(a) << 24) | ((uint32_t)(r) << 16) | ((uint32_t)(g) << 8) | (uint32_t)(b))
#define DN_RGB(r, g, b) DN_ARGB(255, r, g, b)

typedef struct {
    int w, h;      /* size in pixels */
    uint32_t *px;  /* (h, w) ARGB8888, row-major, owned; pixel (x, y) is px[y * w + x] */
} dn_canvas;

/* Allocate a w x h canvas filled with `color`. 1 <= w, h <= 32768. Returns 0, or -1 + dn_error. */
int dn_canvas_init(dn_canvas *cv, int w, int h, uint32_t color);
void dn_canvas_free(dn_canvas *cv); /* accepts NULL and a zeroed struct */

void dn_canvas_clear(dn_canvas *cv, uint32_t color);

/* Fill the rectangle [x, x+w) x [y, y+h) with `color`, replacing what was there. */
void dn_canvas_fill_rect(dn_canvas *cv, int x, int y, int w, int h, uint32_t color);

/* Outline of the same rectangle, `thick` pixels wide, drawn inside it. */
void dn_canvas_rect(dn_canvas *cv, int x, int y, int w, int h, int thick, uint32_t color);

/* Draw src (color's alpha times src's alpha) over the canvas at (x, y): the usual "over" blend.
 * src: (h, w) ARGB8888 with `pitch` pixels per row. Used for text and overlays. */
void dn_canvas_blend(dn_canvas *cv, int x, int y, const uint32_t *src, int w, int h, int pitch);

/* Draw a float image into the rectangle (x, y, dw, dh), scaled by nearest neighbour so every
 * image pixel stays a crisp square (dw = k * iw shows each pixel as k x k).
 * img: (c, ih, iw) planar, values in [-1, 1] shown as dn_unit_to_byte (clipped); c = 1 (grey)
 * or 3 (RGB). */
void dn_canvas_blit_float(dn_canvas *cv, int x, int y, int dw, int dh, const float *img, int c,
                          int ih, int iw);

/* The same, scaled smoothly (bilinear between pixel centres, edges clamped): for a picture seen
 * from the back of a room rather than counted pixel by pixel. */
void dn_canvas_blit_float_smooth(dn_canvas *cv, int x, int y, int dw, int dh, const float *img, int c,
                                 int ih, int iw);

/* Copy the canvas to interleaved bytes rgb: (h, w, 3), alpha dropped (for PNG). */
void dn_canvas_to_rgb(const dn_canvas *cv, unsigned char *rgb);

#endif
