/* sheet.h — a contact sheet: a row (or a few rows) of images, each upscaled by nearest neighbour
 * so its pixels stay crisp, a caption under each and an optional title above, on a plain
 * background. Made for slides and handouts; `diffuse noise` writes one as contact.png. */
#ifndef DN_SHEET_H
#define DN_SHEET_H
#include "canvas.h"
#include "font.h"
#include "data/image.h"

typedef struct {
    dn_font *caption;    /* font of the captions (required) */
    dn_font *title_font; /* font of the title; NULL = the caption font */
    const char *title;   /* one line above the grid; NULL or "" = none */
    int cols;            /* images per row; 0 = choose: one row up to 12, else balanced rows */
    int scale;           /* screen pixels per image pixel; 0 = choose so an image is >= 128 px */
    int gap;             /* pixels between cells and around the edge; 0 = 16 */
    uint32_t paper;      /* background; 0 (transparent black) = white */
    uint32_t ink;        /* title and first caption line; 0 = near-black */
    uint32_t muted;      /* further caption lines; 0 = grey */
} dn_sheet_style;

/* Lay out n images into a new canvas *cv (sized to fit; the caller frees it).
 * imgs: (n, c, h, w) planar in [-1, 1], c = 1 or 3; captions: n strings, each one or more lines
 * separated by '\n' (at most 4 lines), or captions == NULL for none.
 * Returns 0, or -1 + dn_error (too big, out of memory, text error). */
int dn_sheet_render(dn_canvas *cv, const float *imgs, int n, int c, int h, int w,
                    const char *const *captions, const dn_sheet_style *style);

/* The whole job for a program: open the system font (captions 15 px, title 22 px), lay out the sheet,
 * and write it as a PNG atomically with the text chunks (settings) given. cols/scale as in the style.
 * Returns 0, or -1 + dn_error (no font, too big, cannot write). */
int dn_sheet_save(const char *path, const float *imgs, int n, int c, int h, int w,
                  const char *const *captions, const char *title, int cols, int scale,
                  const dn_png_text *text, int ntext);

#endif
