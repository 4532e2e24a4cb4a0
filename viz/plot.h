/* plot.h — a line chart on a canvas (the training loss curve of a model card, later the live loss
 * in the viewer): axes with round tick values, a linear or log-10 y axis, one or two series. */
#ifndef DN_PLOT_H
#define DN_PLOT_H
#include "canvas.h"
#include "font.h"
#include "data/image.h"

typedef struct {
    const float *x, *y; /* (n) points, x increasing */
    int n;
    uint32_t color;
    int width;          /* line width in pixels (>= 1) */
    const char *label;  /* legend entry, or NULL */
} dn_plot_series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    int logy;           /* 1: log-10 y axis (values <= 0 are skipped) */
} dn_plot_style;

/* Draw series (ns of them) into the rectangle (x, y, w, h) of cv, white background. The axes fit
 * all finite points. Returns 0, or -1 + dn_error (text). */
int dn_plot_draw(dn_canvas *cv, int x, int y, int w, int h, const dn_plot_series *s, int ns,
                 const dn_plot_style *st, dn_font *font, dn_font *title_font);

/* The whole job: a w x h PNG with the chart, written atomically with text chunks. */
int dn_plot_save(const char *path, int w, int h, const dn_plot_series *s, int ns, const dn_plot_style *st,
                 const dn_png_text *text, int ntext);

#endif
