/* font.h — text on a dn_canvas: a font found by family name through fontconfig, rendered
 * anti-aliased by SDL2_ttf and blended onto the canvas. Needs no display (TTF_Init does not open
 * one), so the exporters and tests use it headless.
 *
 * The environment variable DIFFUSE_FONT, if set, is the path of a .ttf/.otf file to use instead of
 * asking fontconfig (for machines without fontconfig data, and for testing the no-font error). */
#ifndef DN_FONT_H
#define DN_FONT_H
#include "canvas.h"

#define DN_FONT_DEFAULT "DejaVu Sans"

typedef struct {
    struct _TTF_Font *ttf; /* SDL2_ttf's TTF_Font; owned */
    int px;                /* requested size in pixels */
    int height;            /* recommended line height in pixels */
    int ascent;            /* pixels from the top of a line to the baseline */
    char path[1024];       /* the font file that was opened */
} dn_font;

typedef enum { DN_ALIGN_LEFT, DN_ALIGN_CENTER, DN_ALIGN_RIGHT } dn_align;

/* Ask fontconfig for the file of `family` (e.g. "DejaVu Sans", "DejaVu Sans:bold"); writes it to
 * path. Returns 0, or -1 + dn_error when fontconfig knows no usable font (install
 * fonts-dejavu-core). */
int dn_font_find(char *path, int size, const char *family);

/* Open `family` (NULL = DN_FONT_DEFAULT) at `px` pixels (4..512). Returns 0, or -1 + dn_error. */
int dn_font_open(dn_font *f, const char *family, int px);
void dn_font_close(dn_font *f); /* accepts NULL and a zeroed struct */

/* Width and height in pixels of one line of UTF-8 text. Returns 0, or -1 + dn_error. */
int dn_font_measure(dn_font *f, const char *utf8, int *w, int *h);

/* Draw one line of UTF-8 text. (x, y) is the top of the line; align says whether x is its left
 * edge, centre or right edge. color's alpha scales the text's coverage. An empty string draws
 * nothing. Returns 0, or -1 + dn_error (bad UTF-8, out of memory). */
int dn_canvas_text(dn_canvas *cv, dn_font *f, int x, int y, dn_align align, uint32_t color,
                   const char *utf8);

#endif
