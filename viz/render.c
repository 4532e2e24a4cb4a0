/* render.c — one viewer frame from the state; see render.h.
 *
 * Two layouts, both designed in pixels of a 1280x720 frame and scaled by s and centred:
 *
 * Dashboard (everything at once):
 *   header            0..44    mode, what is shown, step counter, play state
 *   big x_t          20..440 x 50..486   the current image, 400 px box, whole-number zoom
 *   small panels    454..980 x 50..486   3 x 2 cells of 166 px images with a label and a note
 *   numbers        1000..1260 x 50..322  t, beta, alpha-bar, SNR and the settings
 *   histogram      1000..1260 x 330..486 x_t's values against the N(0,1) density
 *   timeline         20..1260 x 496..622 alpha-bar and log SNR over t, the cursor
 *   caption          20..1260 x 628..716 the lesson's text or the step explained
 *
 * Presenter (a projector at the back of a room; large type: captions 22, labels 17 design px,
 * that is 33 and 25 px at 1080p):
 *   header            0..44    as above
 *   big x_t          20..520 x 50..566   480 px box
 *   panels          540..1260 x 50..466  the 1 to 4 panels that have something to show: one row of
 *                                        up to three, or 2 x 2
 *   timeline        540..1260 x 474..548 the signal left (alpha-bar) over t and the cursor
 *   numbers line    540..1260 x 554..578 t, signal and noise in words, the sampler
 *   caption          20..1260 x 584..716 the lesson and slide, then the caption (4 lines)
 *   a filmstrip (an exported animated slide) replaces x_t, the panels, timeline and numbers with
 *   up to 6 frames side by side, t under each.
 *
 * The timeline runs the way the Right key moves: forward mode from t = 0 (clean, left) to T-1
 * (pure noise, right), reverse mode from T-1 (left) to 0. Colours: a dark theme (white on
 * near-black) and a light one for projectors; one accent per mode (orange forward, blue/cyan
 * reverse); noise is shown on a symmetric scale (grey = 0). */
#include "render.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/fileio.h"
#include "gif.h"
#include "data/image.h"
#include "sheet.h"

typedef struct {
    uint32_t bg, panel, head, ink, muted, note, forward, reverse, grid, snr, green, shade, on_accent;
} palette;

static const palette dark = {
    .bg = DN_RGB(14, 17, 22),        .panel = DN_RGB(30, 35, 43),    .head = DN_RGB(24, 28, 36),
    .ink = DN_RGB(245, 245, 245),    .muted = DN_RGB(170, 178, 190), .note = DN_RGB(255, 214, 74),
    .forward = DN_RGB(255, 159, 67), .reverse = DN_RGB(79, 195, 247), .grid = DN_RGB(60, 68, 80),
    .snr = DN_RGB(255, 183, 77),     .green = DN_RGB(130, 230, 160), .shade = DN_ARGB(235, 8, 10, 14),
    .on_accent = DN_RGB(14, 17, 22),
};
/* dark text on white: projectors keep contrast this way (accents darkened to read on white) */
static const palette light = {
    .bg = DN_RGB(252, 252, 249),     .panel = DN_RGB(228, 231, 236), .head = DN_RGB(236, 238, 242),
    .ink = DN_RGB(16, 18, 24),       .muted = DN_RGB(70, 76, 88),    .note = DN_RGB(150, 80, 0),
    .forward = DN_RGB(200, 80, 0),   .reverse = DN_RGB(0, 100, 170), .grid = DN_RGB(150, 156, 168),
    .snr = DN_RGB(190, 110, 0),      .green = DN_RGB(20, 130, 60),   .shade = DN_ARGB(240, 250, 250, 247),
    .on_accent = DN_RGB(255, 255, 255),
};

#define DESIGN_W 1280
#define DESIGN_H 720
#define NOISE_RANGE 3.0f /* noise panels map [-3, 3] to black .. white */
#define STRIP_MAX 6      /* frames in a filmstrip */

/* ---- layout ---------------------------------------------------------------------------------- */

typedef struct {
    float s;
    int ox, oy;
} xform;

static xform xform_of(int w, int h) {
    float sx = (float)w / DESIGN_W, sy = (float)h / DESIGN_H;
    xform t;
    t.s = sx < sy ? sx : sy;
    t.ox = (int)((float)w - DESIGN_W * t.s) / 2;
    t.oy = (int)((float)h - DESIGN_H * t.s) / 2;
    return t;
}

static dn_rect R(const xform *t, int x, int y, int w, int h) {
    dn_rect r;
    r.x = t->ox + (int)lroundf((float)x * t->s);
    r.y = t->oy + (int)lroundf((float)y * t->s);
    r.w = (int)lroundf((float)(x + w) * t->s) - (int)lroundf((float)x * t->s);
    r.h = (int)lroundf((float)(y + h) * t->s) - (int)lroundf((float)y * t->s);
    return r;
}

/* the largest whole-number zoom of an iw x ih image into box, centred */
static dn_rect fit_zoom(dn_rect box, int iw, int ih, int *zoom) {
    int z = box.w / iw < box.h / ih ? box.w / iw : box.h / ih;
    if (z < 1) z = 1;
    dn_rect r = {box.x + (box.w - z * iw) / 2, box.y + (box.h - z * ih) / 2, z * iw, z * ih};
    if (zoom) *zoom = z;
    return r;
}

void dn_render_layout(dn_layout *L, const dn_view *v, int w, int h) {
    xform t = xform_of(w, h);
    memset(L, 0, sizeof *L);
    L->s = t.s;
    L->presenter = v->look.layout == DN_LAYOUT_PRESENTER;
    L->header = R(&t, 0, 0, DESIGN_W, 44);
    L->header.h += L->header.y; /* the bar spans the whole width and reaches the top edge */
    L->header.x = 0, L->header.y = 0, L->header.w = w;
    if (L->presenter) {
        L->big = R(&t, 20, 50, 500, 516);
        L->big_img = fit_zoom(R(&t, 30, 84, 480, 480), v->width, v->height, &L->zoom);
        L->cells_area = R(&t, 540, 50, 720, 416);
        L->timeline = R(&t, 540, 474, 720, 74);
        L->plot = R(&t, 540, 496, 720, 30);
        L->numbers = R(&t, 540, 554, 720, 24);
        L->caption = R(&t, 20, 584, 1240, 132);
        L->strip = R(&t, 20, 50, 1240, 528);
        return;
    }
    L->big = R(&t, 20, 50, 420, 436);
    L->big_img = fit_zoom(R(&t, 30, 84, 400, 400), v->width, v->height, &L->zoom);
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 3; i++) L->cells[j * 3 + i] = R(&t, 454 + i * 180, 50 + j * 222, 166, 214);
    L->n_cells = 6;
    L->cells_area = R(&t, 454, 50, 526, 436);
    L->numbers = R(&t, 1000, 50, 260, 272);
    L->hist = R(&t, 1000, 330, 260, 156);
    L->timeline = R(&t, 20, 496, 1240, 126);
    L->plot = R(&t, 20, 520, 1240, 76);
    L->caption = R(&t, 20, 628, 1240, 88);
    L->strip = R(&t, 20, 50, 1240, 440);
}

/* The presenter's cells for n panels: one row of up to three, or 2 x 2 for four. */
static void presenter_cells(dn_layout *L, int n) {
    dn_rect a = L->cells_area;
    int gap = (int)lroundf(16 * L->s);
    int cols = n <= 3 ? (n < 1 ? 1 : n) : 2, rows = n <= 3 ? 1 : 2;
    int cw = (a.w - (cols - 1) * gap) / cols, ch = (a.h - (rows - 1) * gap) / rows;
    L->n_cells = n;
    for (int i = 0; i < n && i < 6; i++) {
        int col = i % cols, row = i / cols;
        L->cells[i] = (dn_rect){a.x + col * (cw + gap), a.y + row * (ch + gap), cw, ch};
    }
}

/* ---- fonts ----------------------------------------------------------------------------------- */

static int font_px(float s, int design) {
    int px = (int)lroundf((float)design * s);
    return px < 8 ? 8 : px;
}

int dn_render_fonts_fit(dn_render_fonts *f, int w, int h) {
    float s = xform_of(w, h).s;
    if (f->s > 0 && fabsf(f->s - s) < 0.01f) return 0;
    dn_render_fonts_close(f);
    if (dn_font_open(&f->title, "DejaVu Sans:bold", font_px(s, 24)) < 0 ||
        dn_font_open(&f->body, NULL, font_px(s, 19)) < 0 || dn_font_open(&f->small, NULL, font_px(s, 15)) < 0 ||
        dn_font_open(&f->mono, "DejaVu Sans Mono", font_px(s, 17)) < 0 ||
        dn_font_open(&f->label, NULL, font_px(s, DN_RENDER_LABEL_PX)) < 0 ||
        dn_font_open(&f->caption, NULL, font_px(s, DN_RENDER_CAPTION_PX)) < 0 ||
        dn_font_open(&f->caption_bold, "DejaVu Sans:bold", font_px(s, DN_RENDER_CAPTION_PX)) < 0) {
        dn_render_fonts_close(f);
        return -1;
    }
    f->s = s;
    return 0;
}

void dn_render_fonts_close(dn_render_fonts *f) {
    if (!f) return;
    dn_font_close(&f->title);
    dn_font_close(&f->body);
    dn_font_close(&f->small);
    dn_font_close(&f->mono);
    dn_font_close(&f->label);
    dn_font_close(&f->caption);
    dn_font_close(&f->caption_bold);
    memset(f, 0, sizeof *f);
}

/* ---- drawing helpers ------------------------------------------------------------------------- */

typedef struct {
    dn_canvas *cv;
    dn_render_fonts *f;
    const dn_view *v;
    const palette *P;
    dn_layout L;
    const dn_render_opts *o;
    int failed;
    long n;         /* values of one picture shown: channels * height * width */
    long np;        /* values of one plane of the run: n, or a latent run's latent values */
    int lat;        /* a latent run: planes are latents, shown as mosaics of their channels */
    float *tmp;     /* (n) scratch for scaled pictures */
    float *buf[6];  /* (n) each: the cells' derived pictures (differences, sums) */
    float *lbuf[12];/* (n) each: latent planes as mosaics (latent runs only) */
    int nl;         /* lbuf used so far in this frame */
    float move_max; /* the largest drift or random value of the whole run: one scale for all steps */
    size_t log_len;
} ctx;

static void text(ctx *c, dn_font *font, int x, int y, dn_align al, uint32_t color, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static void text(ctx *c, dn_font *font, int x, int y, dn_align al, uint32_t color, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (dn_canvas_text(c->cv, font, x, y, al, color, buf) < 0) c->failed = 1;
    if (c->o->log && c->o->log_size > 0 && buf[0]) { /* every string drawn, a line each (tests) */
        int wrote = snprintf(c->o->log + c->log_len, c->o->log_size - c->log_len, "%s\n", buf);
        if (wrote > 0) c->log_len += (size_t)wrote;
        if (c->log_len >= c->o->log_size) c->log_len = c->o->log_size - 1;
    }
}

static int text_width(dn_font *font, const char *s) {
    int w = 0, h = 0;
    return dn_font_measure(font, s, &w, &h) < 0 ? 0 : w;
}

static int S(const ctx *c, int design) {
    return (int)lroundf((float)design * c->L.s);
}

static int line_w(const ctx *c) { return S(c, 2) < 1 ? 1 : S(c, 2); }

static int fwd(const ctx *c) { return c->v->set.mode == DN_RUN_FORWARD; }

static uint32_t accent(const ctx *c) { return fwd(c) ? c->P->forward : c->P->reverse; }

/* "inferno"-like ramp for the error heat map: black -> purple -> red -> orange -> pale yellow */
static uint32_t heat(float u) {
    static const float stops[5][3] = {{0, 0, 4}, {87, 16, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
    if (!(u > 0)) u = 0;
    if (u > 1) u = 1;
    float p = u * 4;
    int i = (int)p;
    if (i > 3) i = 3;
    float a = p - (float)i;
    int rgb[3];
    for (int k = 0; k < 3; k++) rgb[k] = (int)lroundf(stops[i][k] + a * (stops[i + 1][k] - stops[i][k]));
    return DN_RGB(rgb[0], rgb[1], rgb[2]);
}

static void blit(ctx *c, dn_rect r, const float *img) {
    const dn_view *v = c->v;
    if (v->look.smooth) dn_canvas_blit_float_smooth(c->cv, r.x, r.y, r.w, r.h, img, v->channels, v->height, v->width);
    else dn_canvas_blit_float(c->cv, r.x, r.y, r.w, r.h, img, v->channels, v->height, v->width);
}

/* Draw img * mul into the box (whole-number zoom, centred, thin frame). Returns the image rect. */
static dn_rect image(ctx *c, dn_rect box, const float *img, float mul) {
    const dn_view *v = c->v;
    const float *src = img;
    if (mul != 1.0f) {
        for (long i = 0; i < c->n; i++) c->tmp[i] = img[i] * mul;
        src = c->tmp;
    }
    dn_rect r = fit_zoom(box, v->width, v->height, NULL);
    int b = line_w(c);
    dn_canvas_rect(c->cv, r.x - b, r.y - b, r.w + 2 * b, r.h + 2 * b, b, c->P->grid);
    blit(c, r, src);
    return r;
}

/* The channel mean of |err| as a heat map, 0 .. 2 over the ramp. */
static void heat_image(ctx *c, dn_rect box, const float *err) {
    const dn_view *v = c->v;
    int z;
    dn_rect r = fit_zoom(box, v->width, v->height, &z);
    long plane = (long)v->height * v->width;
    int b = line_w(c);
    dn_canvas_rect(c->cv, r.x - b, r.y - b, r.w + 2 * b, r.h + 2 * b, b, c->P->grid);
    for (int y = 0; y < v->height; y++)
        for (int x = 0; x < v->width; x++) {
            float m = 0;
            for (int ch = 0; ch < v->channels; ch++) m += err[ch * plane + (long)y * v->width + x];
            m /= (float)v->channels;
            dn_canvas_fill_rect(c->cv, r.x + x * z, r.y + y * z, z, z, heat(m / 2));
        }
}

static float max_abs(const float *a, long n) {
    float m = 0;
    for (long i = 0; i < n; i++) {
        float x = fabsf(a[i]);
        if (x > m) m = x;
    }
    return m;
}

static void fmt_num(char *buf, size_t size, float x) {
    if (isinf(x)) snprintf(buf, size, "\xe2\x88\x9e"); /* the infinity sign */
    else if (x != 0 && (fabsf(x) < 1e-3f || fabsf(x) >= 1e5f)) snprintf(buf, size, "%.3e", (double)x);
    else snprintf(buf, size, "%.4f", (double)x);
}

/* x position on the plot of timestep t, the way the Right key moves: forward t = 0 at the left,
 * reverse t = T-1 at the left */
static int t_to_x(const dn_view *v, const dn_rect *p, float t) {
    float u = t / (float)(v->sched.T - 1);
    if (v->set.mode == DN_RUN_REVERSE) u = 1.0f - u;
    return p->x + (int)lroundf(u * (float)(p->w - 1));
}

/* Cut buf at whole UTF-8 characters (keeping at least `keep` bytes) and end it in an ellipsis,
 * so that it is at most width pixels wide in font; a text that fits is left as it is unless
 * `always` (a line that the rest of a paragraph follows). */
static void ellipsize(dn_font *font, char *buf, size_t size, int width, size_t keep, int always) {
    if (!always && text_width(font, buf) <= width) return;
    const char *dots = "\xe2\x80\xa6";
    int dw = text_width(font, dots);
    size_t len = strlen(buf);
    while (len > keep && text_width(font, buf) + dw > width) {
        len--;
        while (len > 0 && ((unsigned char)buf[len] & 0xC0) == 0x80) len--; /* whole UTF-8 characters */
        buf[len] = '\0';
    }
    snprintf(buf + len, size - len, "%s", dots);
}

/* Word-wrap `s` into lines of at most width pixels; draws up to max_lines lines from y (the last
 * one ends in an ellipsis if the text goes on). Returns the y under the last line. */
static int draw_wrapped(ctx *c, dn_font *font, int x, int y, int width, uint32_t color, const char *s, int max_lines) {
    char line[512];
    int lines = 0;
    while (*s && lines < max_lines) {
        size_t best = 0, i = 0;
        while (*s == ' ') s++;
        for (i = 0; s[i] && s[i] != '\n' && i < sizeof line - 4; i++) {
            if (s[i + 1] == ' ' || s[i + 1] == '\0' || s[i + 1] == '\n') {
                memcpy(line, s, i + 1);
                line[i + 1] = '\0';
                if (text_width(font, line) > width && best) break;
                best = i + 1;
            }
        }
        if (!best) best = i ? i : 1;
        memcpy(line, s, best);
        line[best] = '\0';
        s += best;
        if (lines == max_lines - 1 && *s && *s != '\n') /* more text than room: say so */
            ellipsize(font, line, sizeof line, width, 1, 1);
        text(c, font, x, y, DN_ALIGN_LEFT, color, "%s", line);
        y += font->height;
        lines++;
        if (*s == '\n') s++;
    }
    return y;
}

/* ---- the words ------------------------------------------------------------------------------- */

void dn_render_t_label(const dn_view *v, const dn_run_frame *f, char *buf, size_t size) {
    /* short: the numbers panel's value column holds about 16 characters at every size */
    if (f->alpha_bar >= 1.0f) snprintf(buf, size, "clean, no noise");
    else if (f->t == 0.0f) snprintf(buf, size, "0 (beta_0 noise)");
    else snprintf(buf, size, "%g of %d", (double)f->t, v->sched.T);
}

void dn_render_headline(const dn_view *v, char *what, size_t size) {
    const dn_view_settings *s = &v->set;
    if (s->cmp.on && v->cmp_run)
        snprintf(what, size, "compare: the same noise (seed %llu), two settings, stepping together",
                 (unsigned long long)s->seed);
    else if (s->mode == DN_RUN_FORWARD) snprintf(what, size, "noising %.48s", v->image_name);
    else if (s->start > 0) /* counted as the forward run counts: steps of noise put in, not steps left */
        snprintf(what, size, "img2img: denoising %.40s from t = %g (%d of %d steps of noise)", v->image_name,
                 v->run ? (double)dn_run_t(v->run, 0) : 0.0, s->steps - s->start, s->steps);
    else if (v->num_classes && s->cond && s->cfg_scale == 0.0f)
        snprintf(what, size, "denoising pure noise: guidance 0 ignores the class (unconditional)");
    else if (v->num_classes && s->cond) {
        const char *name = dn_view_class_name(v, s->class_id);
        int vowel = strchr("AEIOUaeiou", name[0]) != NULL && name[0];
        snprintf(what, size, "denoising pure noise into %s %s", vowel ? "an" : "a", name);
    } else snprintf(what, size, "denoising pure noise (no condition)");
}

/* How much of x_t is picture and how much noise, in percent of its variance (they add to 100):
 * alpha-bar and 1 - alpha-bar, "<1%" rather than a 0 that is not quite 0. */
typedef struct {
    char picture[8], noise[8];
} share_text;

static void pct(char *buf, size_t size, float u) {
    int p = (int)lroundf(100 * u);
    if (p == 0 && u > 0) snprintf(buf, size, "<1%%");
    else if (p == 100 && u < 1) snprintf(buf, size, ">99%%");
    else snprintf(buf, size, "%d%%", p);
}

static share_text shares(const dn_run_frame *f) {
    float ab = f->alpha_bar < 0 ? 0 : f->alpha_bar > 1 ? 1 : f->alpha_bar;
    share_text s;
    pct(s.picture, sizeof s.picture, ab);
    pct(s.noise, sizeof s.noise, 1 - ab);
    return s;
}

static float rms(const float *a, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)a[i] * (double)a[i];
    return n ? (float)sqrt(s / (double)n) : 0;
}

/* One side's settings in words: "DDIM, 50 steps, a cat at w = 3", "DDPM, 1000 steps, no class". */
static void side_words(const dn_view *v, const dn_view_settings *s, char *buf, size_t size) {
    char cls[96] = "";
    if (v->num_classes && s->cond && s->cfg_scale == 0.0f) snprintf(cls, sizeof cls, ", w = 0 (class ignored)");
    else if (v->num_classes && s->cond)
        snprintf(cls, sizeof cls, ", %s at w = %g", dn_view_class_name(v, s->class_id), (double)s->cfg_scale);
    else if (v->num_classes) snprintf(cls, sizeof cls, ", no class");
    snprintf(buf, size, "%s, %d steps%s", dn_sampler_kind_name(s->sampler), s->steps, cls);
}

void dn_render_step_text(const dn_view *v, const dn_run_frame *f, char *buf, size_t size) {
    const dn_view_settings *s = &v->set;
    if (s->cmp.on && v->cmp_run) {
        dn_view_settings b;
        dn_view_compare_settings(s, &b);
        char wa[160], wb[160];
        side_words(v, s, wa, sizeof wa);
        side_words(v, &b, wb, sizeof wb);
        snprintf(buf, size, "Both start from the same noise (seed %llu) and step together, the same fraction of the way "
                            "from noise to picture. A: %s. B: %s.", (unsigned long long)s->seed, wa, wb);
        return;
    }
    int K = dn_view_frames(v) - 1;
    share_text sh = shares(f);
    const dn_run_frame *g = f->k < K ? dn_run_frame_get(v->run, f->k + 1) : NULL;
    long n = (long)v->channels * v->height * v->width;
    const char *sampler = dn_sampler_kind_name(s->sampler);
    if (s->mode == DN_RUN_FORWARD) {
        if (f->k == 0)
            snprintf(buf, size, "The clean image x_0. Each step pulls every value a little toward 0 (drift) and adds "
                                "fresh Gaussian noise (random motion); after %d steps only noise is left.", K);
        else
            snprintf(buf, size, "After %d of %d steps: x_t = \xe2\x88\x9a" "alpha-bar \xc2\xb7 x_0 + \xe2\x88\x9a(1 \xe2\x88\x92 "
                                "alpha-bar) \xc2\xb7 noise, with alpha-bar = %.3f: x_t is %s picture and %s noise.",
                     f->k, K, (double)f->alpha_bar, sh.picture, sh.noise);
        return;
    }
    if (f->k == 0 && s->start > 0) {
        snprintf(buf, size, "img2img: the photo noised to t = %g (strength %.2f). The model denoises it from here, so "
                            "the result keeps the photo's layout.", (double)f->t, (double)(s->steps - s->start) / s->steps);
        return;
    }
    if (f->k >= K) {
        snprintf(buf, size, "Done: the sample after %d steps of %s, from the noise of seed %llu.", K, sampler,
                 (unsigned long long)s->seed);
        return;
    }
    share_text sh2 = g ? shares(g) : sh;
    float fresh = f->has_pred ? rms(f->random, n) : 0;
    char tail[200];
    if (s->sampler == DN_DDPM)
        snprintf(tail, sizeof tail, "DDPM then adds fresh noise (random motion, rms %.2f): each step is a small random walk.",
                 (double)fresh);
    else if (s->sampler == DN_DDIM)
        snprintf(tail, sizeof tail, "DDIM adds no fresh noise: its steps are deterministic, so the same seed always "
                                    "gives the same picture.");
    else
        snprintf(tail, sizeof tail, "%s adds no fresh noise: it follows the smooth path (an ODE) from noise to picture.",
                 sampler);
    snprintf(buf, size, "Step %d \xe2\x86\x92 %d of %d: the U-Net predicts the noise in x_t and the step removes part of "
                        "it (drift): the noise falls from %s to %s of x_t. %s", f->k, f->k + 1, K, sh.noise, sh2.noise, tail);
}

/* ---- the header ------------------------------------------------------------------------------ */

static void draw_header(ctx *c, const dn_run_frame *f, int shown) {
    const dn_view *v = c->v;
    dn_rect h = c->L.header;
    dn_canvas_fill_rect(c->cv, h.x, h.y, h.w, h.h, c->P->head);
    const char *tag = fwd(c) ? "FORWARD" : "REVERSE";
    int pad = S(c, 10), x = c->L.big.x;
    int tw = text_width(&c->f->title, tag);
    int ty = h.y + (h.h - c->f->title.height) / 2;
    dn_canvas_fill_rect(c->cv, x, h.y + S(c, 6), tw + 2 * pad, h.h - S(c, 12), accent(c));
    text(c, &c->f->title, x + pad, ty, DN_ALIGN_LEFT, c->P->on_accent, "%s", tag);
    char what[256], note[160], step[64];
    dn_render_headline(v, what, sizeof what);
    int n = dn_view_frames(v);
    int rx = c->L.caption.x + c->L.caption.w;
    /* the step of the picture on screen (the one being computed is in the note beside it); a
     * filmstrip says which steps it shows */
    if (c->o->n_strip > 1)
        snprintf(step, sizeof step, "steps %d\xe2\x80\x93%d / %d", c->o->strip[0], c->o->strip[c->o->n_strip - 1], n - 1);
    else snprintf(step, sizeof step, "step %d / %d", f ? shown : c->o->k, n - 1);
    text(c, &c->f->title, rx, ty, DN_ALIGN_RIGHT, c->P->ink, "%s", step);
    int sw = text_width(&c->f->title, step);
    if (sw < text_width(&c->f->title, "step 0000 / 0000")) sw = text_width(&c->f->title, "step 0000 / 0000");
    /* the note beside the step: what is going on, else the keys' hint (on screen only); the
     * headline keeps the room it needs (the hint gives way to it; a status note shortens it) */
    dn_font *nf = &c->f->body;
    uint32_t ncol = c->P->note;
    int status = 1;
    note[0] = 0;
    if (c->o->n_strip > 1) status = 0;
    else if ((!f || shown != c->o->k) && dn_run_failed(v->run))
        snprintf(note, sizeof note, "cannot compute step %d: %.100s", c->o->k, dn_run_error(v->run));
    else if (!f || shown != c->o->k)
        snprintf(note, sizeof note, "computing step %d (%d done)\xe2\x80\xa6", c->o->k, f ? shown : 0);
    else if (c->o->playing)
        snprintf(note, sizeof note, "\xe2\x96\xb6 playing %g steps/s", (double)dn_view_speeds[v->speed]), ncol = accent(c);
    else if (!c->o->exporting) {
        snprintf(note, sizeof note, "%sSpace plays   H: keys", v->slides ? "PageDown: next slide   " : "");
        nf = &c->f->small, ncol = c->P->muted, status = 0;
    } else status = 0;
    int wx = x + tw + 3 * pad, room = rx - sw - pad - wx; /* from the headline to the step number */
    int nw = note[0] ? text_width(nf, note) : 0, gap = 2 * pad;
    if (text_width(&c->f->body, what) + (nw ? gap + nw : 0) > room) {
        if (!status) note[0] = 0, nw = 0; /* the hint gives way */
        ellipsize(&c->f->body, what, sizeof what, room - (nw ? gap + nw : 0), 4, 0);
    }
    text(c, &c->f->body, wx, h.y + (h.h - c->f->body.height) / 2, DN_ALIGN_LEFT, c->P->ink, "%s", what);
    if (note[0]) text(c, nf, rx - sw - pad, h.y + (h.h - nf->height) / 2, DN_ALIGN_RIGHT, ncol, "%s", note);
}

/* ---- x_t ------------------------------------------------------------------------------------- */

/* Every picture of x shows it at the variance-preserving scale (the run's f->scale: Euler's
 * samples live at sqrt(sigma^2 + 1)), so x_t, its histogram and the next x_t read the same for all
 * samplers. `next`: the scale of x + drift + random, the next frame's x. */
static float shown_scale(const dn_run_frame *f, int next) { return next ? f->scale_next : f->scale; }

/* f->x at the shown scale: f->x itself, or a scaled copy in out (n values). */
static const float *shown_x(const ctx *c, const dn_run_frame *f, float *out) {
    float s = shown_scale(f, 0);
    if (s == 1.0f) return f->x;
    for (long i = 0; i < c->np; i++) out[i] = f->x[i] * s;
    return out;
}

/* A plane of the run as a picture: itself in pixel space; in latent space a mosaic of its
 * channels (a grid of ceil(sqrt(Z)) tiles, each channel enlarged to fill its tile, grey), so
 * the panels show the latent noise and moves where they live. */
static const float *lat_img(ctx *c, const float *plane) {
    if (!c->lat) return plane;
    if (c->nl >= 12) return c->lbuf[11]; /* never: at most 12 latent cells a frame */
    float *out = c->lbuf[c->nl++];
    const dn_view *v = c->v;
    int Z = v->lat_channels, h = v->lat_height, w = v->lat_width, g = 1;
    while (g * g < Z) g++;
    int th = v->height / g, tw = v->width / g;
    long pp = (long)v->height * v->width;
    for (long i = 0; i < c->n; i++) out[i] = 0.0f;
    for (int z = 0; z < Z; z++) {
        int ty = z / g, tx = z % g;
        for (int y = 0; y < th; y++)
            for (int x = 0; x < tw; x++) {
                float val = plane[((long)z * h + (long)y * h / th) * w + (long)x * w / tw];
                long o = (long)(ty * th + y) * v->width + tx * tw + x;
                for (int ch = 0; ch < v->channels; ch++) out[ch * pp + o] = val;
            }
    }
    return out;
}

/* Under a noise panel: its grey scale, and in latent space where the noise lives. */
static const char *noise_note(const ctx *c) {
    return c->lat ? "in the latent: 4 channels, \xc2\xb1" "3|latent, 4 channels"
                  : "grey 0, white +3, black \xe2\x88\x92" "3|grey 0, \xc2\xb1" "3";
}

/* "16x16x4 = 1024 numbers" (presenter) | "16x16x4 = 1024" (dashboard): the latent's size. */
static const char *lat_note(const ctx *c) {
    static char buf[64]; /* the renderer runs on one thread */
    snprintf(buf, sizeof buf, "%dx%dx%d = %ld numbers|%dx%dx%d = %ld", c->v->lat_width, c->v->lat_height,
             c->v->lat_channels, c->np, c->v->lat_width, c->v->lat_height, c->v->lat_channels, c->np);
    return buf;
}

/* The predicted x_0 as a picture (a latent run's decoded one). */
static const float *x0_img(const ctx *c, const dn_run_frame *f) { return c->lat && f->pic0 ? f->pic0 : f->x0_pred; }

/* x_t as a picture: shown_x, or a latent run's decoding. */
static const float *x_img(const ctx *c, const dn_run_frame *f, float *out) {
    return c->lat && f->pic ? f->pic : shown_x(c, f, out);
}

static void draw_big(ctx *c, const dn_run_frame *f) {
    const dn_view *v = c->v;
    dn_rect b = c->L.big;
    text(c, &c->f->title, b.x, b.y, DN_ALIGN_LEFT, c->P->ink, "%s", c->lat ? "x_t, decoded" : "x_t");
    char line[160];
    dn_font *lf = c->L.presenter ? &c->f->label : &c->f->body;
    share_text sh = shares(f);
    if (f->k == 0 && fwd(c)) snprintf(line, sizeof line, "the clean image x_0, before any step");
    else if (f->alpha_bar >= 1.0f) snprintf(line, sizeof line, "clean: after the last step");
    else if (c->L.presenter) snprintf(line, sizeof line, "t = %g: %s picture, %s noise", (double)f->t, sh.picture, sh.noise);
    else if (shown_scale(f, 0) != 1.0f)
        snprintf(line, sizeof line, "t = %g   x / \xe2\x88\x9a(\xcf\x83\xc2\xb2+1)", (double)f->t);
    else snprintf(line, sizeof line, "t = %g", (double)f->t);
    int tx = c->lat ? text_width(&c->f->title, "x_t, decoded") + S(c, 14) : S(c, 56);
    text(c, lf, b.x + tx, b.y + S(c, 4), DN_ALIGN_LEFT, c->P->muted, "%s", line);
    dn_rect r = c->L.big_img;
    int bw = line_w(c);
    dn_canvas_rect(c->cv, r.x - bw, r.y - bw, r.w + 2 * bw, r.h + 2 * bw, bw, c->P->grid);
    blit(c, r, x_img(c, f, c->tmp));
    const float *noise = fwd(c) ? (f->has_true ? f->eps_true : NULL) : (f->has_pred ? f->eps_pred : NULL);
    if (v->set.overlay && c->lat) {
        text(c, &c->f->small, b.x + b.w, b.y + S(c, 30), DN_ALIGN_RIGHT, c->P->muted,
             "the noise lives in the latent: see its panel");
    } else if (v->set.overlay && noise) {
        /* the noise drawn over x_t at half opacity, on the noise panels' symmetric scale */
        int iw = v->width, z = c->L.zoom;
        long plane = (long)iw * v->height;
        uint32_t *ov = malloc(sizeof(uint32_t) * (size_t)r.w * (size_t)r.h);
        if (ov) {
            for (int y = 0; y < r.h; y++)
                for (int x = 0; x < r.w; x++) {
                    long p = (long)(y / z) * iw + x / z;
                    unsigned char ch[3];
                    for (int k = 0; k < 3; k++)
                        ch[k] = dn_unit_to_byte(noise[(v->channels == 3 ? k : 0) * plane + p] / NOISE_RANGE);
                    ov[(long)y * r.w + x] = DN_ARGB(110, ch[0], ch[1], ch[2]);
                }
            dn_canvas_blend(c->cv, r.x, r.y, ov, r.w, r.h, r.w);
            free(ov);
        }
        text(c, &c->f->small, b.x + b.w, b.y + S(c, 30), DN_ALIGN_RIGHT, c->P->note, "%s noise drawn over it",
             fwd(c) ? "the true" : "the predicted");
    } else if (v->set.overlay) {
        text(c, &c->f->small, b.x + b.w, b.y + S(c, 30), DN_ALIGN_RIGHT, c->P->muted, "%s",
             fwd(c) ? "no noise to draw over it yet" : "no prediction to draw over it");
    }
}

/* ---- the panels: a list of cells, placed by the layout --------------------------------------- */

typedef enum { CELL_IMAGE, CELL_HEAT, CELL_EMPTY, CELL_TEXT, CELL_HIST } cell_kind;

typedef struct {
    int slot;         /* the dashboard's place, 0..5 (3 x 2) */
    cell_kind kind;
    char label[96];   /* above the picture */
    char note[128];   /* under it */
    const float *img; /* CELL_IMAGE: drawn as img * mul; CELL_HEAT: |error| */
    float mul;
    char why[160];    /* CELL_EMPTY: why there is nothing; CELL_TEXT: the lines, split at '\n' */
    const dn_run_frame *frame; /* CELL_HIST: the frame whose x it counts */
} cell_item;

static cell_item *add(cell_item *it, int *n, int slot, cell_kind kind, const char *label) {
    cell_item *e = &it[(*n)++];
    memset(e, 0, sizeof *e);
    e->slot = slot, e->kind = kind, e->mul = 1.0f;
    snprintf(e->label, sizeof e->label, "%s", label);
    return e;
}

static void empty_cell(cell_item *it, int *n, int slot, const char *label, const char *why) {
    snprintf(add(it, n, slot, CELL_EMPTY, label)->why, sizeof it->why, "%s", why);
}

static void img_cell(cell_item *it, int *n, int slot, const char *label, const float *img, float mul,
                     const char *note) {
    cell_item *e = add(it, n, slot, CELL_IMAGE, label);
    e->img = img, e->mul = mul;
    snprintf(e->note, sizeof e->note, "%s", note);
}

/* The largest drift or random value over the run: one scale for every step, so a small step looks
 * small. While the run is still being computed, over the steps so far (the screen; the exporters
 * wait for the whole run, so their pictures never depend on timing). */
static float run_move_max(const ctx *c) {
    const dn_view *v = c->v;
    int K = dn_view_frames(v) - 1;
    float m = 0;
    for (int k = 0; k < K; k++) { /* each frame's largest value, found once by the run's worker */
        const dn_run_frame *f = dn_run_frame_get(v->run, k);
        if (!f) break;
        if (f->move_max > m) m = f->move_max;
    }
    return m > 0 ? m : 1;
}

/* Drift and random motion of the step from frame k to k+1, on the run's one scale. */
static void move_cells(ctx *c, const dn_run_frame *f, cell_item *it, int *n, int sd, int sr) {
    const dn_view *v = c->v;
    int K = dn_view_frames(v) - 1;
    char ld[96], lr[96];
    snprintf(ld, sizeof ld, "%s|drift %d\xe2\x86\x92%d", fwd(c) ? "drift: pulled toward 0" : "drift: toward the picture",
             f->k, f->k + 1);
    snprintf(lr, sizeof lr, "random: fresh noise|random %d\xe2\x86\x92%d", f->k, f->k + 1);
    if (f->k >= K) {
        empty_cell(it, n, sd, "drift", "the last frame:\nno step after it");
        empty_cell(it, n, sr, "random motion", "the last frame:\nno step after it");
        return;
    }
    float m = c->move_max, md = max_abs(f->drift, c->np), mr = max_abs(f->random, c->np);
    char note[128];
    snprintf(note, sizeof note, "step %d \xe2\x86\x92 %d: up to %.2g (white %.2g)|max %.2g of %.2g", f->k, f->k + 1,
             (double)md, (double)m, (double)md, (double)m);
    img_cell(it, n, sd, ld, lat_img(c, f->drift), 1.0f / m, note);
    if (mr > 0) {
        snprintf(note, sizeof note, "step %d \xe2\x86\x92 %d: up to %.2g (white %.2g)|max %.2g of %.2g", f->k,
                 f->k + 1, (double)mr, (double)m, (double)mr, (double)m);
        img_cell(it, n, sr, lr, lat_img(c, f->random), 1.0f / m, note);
    } else {
        char why[96];
        snprintf(why, sizeof why, "none: %s adds\nno fresh noise", dn_sampler_kind_name(v->set.sampler));
        empty_cell(it, n, sr, lr, why);
    }
}

/* The class's pull, cond - uncond, scaled to its own largest value into buf. */
static float pull_image(ctx *c, const dn_run_frame *f, float *buf) {
    for (long i = 0; i < c->np; i++) buf[i] = f->eps_cond[i] - f->eps_uncond[i];
    float m = max_abs(buf, c->np);
    if (!(m > 0)) m = 1;
    for (long i = 0; i < c->np; i++) buf[i] /= m;
    return m;
}

static int collect_guidance(ctx *c, const dn_run_frame *f, cell_item *it) {
    const dn_view *v = c->v;
    int n = 0;
    char note[128];
    if (!f->has_pred) {
        empty_cell(it, &n, 0, "guidance breakdown|guidance breakdown", v->has_net ? "the last frame:\nno prediction" : "no model:\nno prediction");
        return n;
    }
    if (!f->guided) {
        img_cell(it, &n, 0, "the one prediction|the one prediction", lat_img(c, f->eps_pred), 1.0f / NOISE_RANGE, "grey 0, white +3|grey 0, \xc2\xb1" "3");
        empty_cell(it, &n, 1, "no guidance|no guidance",
                   v->set.cond ? "w = 1: the conditional\nprediction only" : "conditioning off:\nunconditional only");
        return n;
    }
    img_cell(it, &n, 0, "without the class|uncond \xce\xb5", lat_img(c, f->eps_uncond), 1.0f / NOISE_RANGE, "the unconditional prediction|no class given");
    img_cell(it, &n, 1, "with the class|cond \xce\xb5", lat_img(c, f->eps_cond), 1.0f / NOISE_RANGE, "the conditional prediction|the class given");
    float m = pull_image(c, f, c->buf[0]);
    snprintf(note, sizeof note, "with \xe2\x88\x92 without (white %.2g)|cond \xe2\x88\x92 uncond, \xc2\xb1%.2g", (double)m, (double)m);
    img_cell(it, &n, 2, "the class's pull|class pull", lat_img(c, c->buf[0]), 1.0f, note);
    char lab[64];
    snprintf(lab, sizeof lab, "what is used: w = %g|mix (w = %g)", (double)v->set.cfg_scale, (double)v->set.cfg_scale);
    img_cell(it, &n, 3, lab, lat_img(c, f->eps_pred), 1.0f / NOISE_RANGE, "without + w \xc2\xb7 pull|uncond + w \xc2\xb7 pull");
    if (!c->L.presenter) {
        cell_item *e = add(it, &n, 4, CELL_TEXT, "");
        snprintf(e->why, sizeof e->why, "used = without\n  + w \xc2\xb7 (with \xe2\x88\x92 without)\n\nw = 0: the class is ignored\n"
                                        "w = 1: plain conditional\nw > 1: more typical of it");
    }
    return n;
}

static int collect_panels(ctx *c, const dn_run_frame *f, cell_item *it);

/* Every panel the settings ask for, with what it shows at frame f; empty ones say why. The
 * presenter's histogram (the dashboard has a place of its own for it) comes last. */
static int collect_cells(ctx *c, const dn_run_frame *f, cell_item *it) {
    int n = collect_panels(c, f, it);
    if (c->L.presenter && (dn_view_panels(c->v) & DN_PANEL_HIST) && !c->v->set.guidance) {
        cell_item *e = add(it, &n, -1, CELL_HIST, "values of x_t");
        e->frame = f;
        snprintf(e->note, sizeof e->note, "the line: pure noise, N(0, 1)");
    }
    return n;
}

static int collect_panels(ctx *c, const dn_run_frame *f, cell_item *it) {
    const dn_view *v = c->v;
    unsigned P = dn_view_panels(v);
    int n = 0, pres = c->L.presenter;
    if (v->set.guidance) return collect_guidance(c, f, it);
    const char *nopred = v->has_net ? "the last frame:\nnothing to predict" : "no model:\nno prediction";
    if (fwd(c)) {
        if (P & DN_PANEL_NOISE) {
            if (!f->has_true) empty_cell(it, &n, 0, "the noise added|true noise \xce\xb5", "the clean image:\nno noise yet");
            else if (v->set.overlay) empty_cell(it, &n, 0, "the noise added|true noise \xce\xb5", "drawn over x_t");
            else img_cell(it, &n, 0, "the noise added|true noise \xce\xb5", lat_img(c, f->eps_true), 1.0f / NOISE_RANGE, noise_note(c));
            if (f->has_pred) img_cell(it, &n, 1, "the network's guess of it|predicted noise", lat_img(c, f->eps_pred), 1.0f / NOISE_RANGE, "the U-Net's prediction|the U-Net's guess");
            else empty_cell(it, &n, 1, "the network's guess of it|predicted noise", f->k == 0 && v->has_net ? "the clean image:\nnothing to predict" : nopred);
        }
        if (P & DN_PANEL_ERROR) {
            if (f->has_pred && f->has_true) {
                cell_item *e = add(it, &n, 2, CELL_HEAT, "where the guess is wrong|prediction error");
                e->img = lat_img(c, f->err);
            } else empty_cell(it, &n, 2, "where the guess is wrong|prediction error", f->k == 0 && v->has_net ? "the clean image:\nnothing to predict" : nopred);
        }
        if (P & DN_PANEL_X0) {
            if (f->has_pred) img_cell(it, &n, 3, "the clean image it implies|predicted x_0", x0_img(c, f), 1.0f, "x_0 from the guess|the clean image implied");
            else empty_cell(it, &n, 3, "the clean image it implies|predicted x_0", f->k == 0 && v->has_net ? "the clean image:\nnothing to predict" : nopred);
        }
        if (c->lat) { /* both spaces at the same step: the picture noised itself, and the latent */
            char pn[64];
            snprintf(pn, sizeof pn, "%dx%dx%d = %ld values|%dx%dx%d = %ld", v->width, v->height, v->channels, c->n, v->width,
             v->height, v->channels, c->n);
            if (f->pic_noised)
                img_cell(it, &n, 4, "the picture noised in pixels|pixel-space x_t", f->pic_noised, 1.0f, pn);
            else empty_cell(it, &n, 4, "the picture noised in pixels|pixel-space x_t", "the clean image:\nno noise yet");
            img_cell(it, &n, 5, "the latent x_t itself|latent x_t", lat_img(c, shown_x(c, f, c->buf[1])), 1.0f / NOISE_RANGE,
                     lat_note(c));
        } else if (P & DN_PANEL_MOVE) move_cells(c, f, it, &n, 4, 5);
        return n;
    }
    int K = dn_view_frames(v) - 1;
    if (P & DN_PANEL_NOISE) {
        if (!f->has_pred) empty_cell(it, &n, 0, "the predicted noise|predicted noise", nopred);
        else if (v->set.overlay) empty_cell(it, &n, 0, "the predicted noise|predicted noise", "drawn over x_t");
        else img_cell(it, &n, 0, "the predicted noise|predicted noise", lat_img(c, f->eps_pred), 1.0f / NOISE_RANGE, noise_note(c));
    }
    if (P & DN_PANEL_X0) {
        if (f->has_pred) img_cell(it, &n, 1, "where it aims: x_0|predicted x_0", x0_img(c, f), 1.0f, "the clean image predicted now|where this step aims");
        else empty_cell(it, &n, 1, "where it aims: x_0|predicted x_0", "the result:\nsee x_t");
    }
    if (P & DN_PANEL_MOVE) {
        if (!pres) { /* the presenter leaves it out: it looks like x_t */
            if (c->lat) { /* what the U-Net works on: the latent itself */
                img_cell(it, &n, 2, "the latent x_t itself|latent x_t", lat_img(c, shown_x(c, f, c->buf[1])), 1.0f / NOISE_RANGE,
                         lat_note(c));
            } else if (f->k < K) {
                float sn = shown_scale(f, 1);
                for (long i = 0; i < c->n; i++) c->buf[1][i] = (f->x[i] + f->drift[i] + f->random[i]) * sn;
                img_cell(it, &n, 2, "the next x_t|next x_t", c->buf[1], 1.0f, "x_t + drift + random|x + drift + random");
            } else empty_cell(it, &n, 2, "the next x_t|next x_t", "done");
        }
        move_cells(c, f, it, &n, 3, 4);
    }
    if (P & DN_PANEL_PULL) {
        if (f->has_pred && f->guided) {
            char note[128];
            float m = pull_image(c, f, c->buf[2]);
            snprintf(note, sizeof note, "with \xe2\x88\x92 without the class (white %.2g)|cond \xe2\x88\x92 uncond, \xc2\xb1%.2g", (double)m, (double)m);
            img_cell(it, &n, 5, "the class's pull|class pull", lat_img(c, c->buf[2]), 1.0f, note);
        } else
            empty_cell(it, &n, 5, "the class's pull|class pull",
                       !f->has_pred ? "the last frame:\nno prediction"
                       : !v->num_classes ? "no classes:\nnothing to pull to"
                       : v->set.cond ? (v->set.cfg_scale == 0.0f ? "w = 0:\nthe class is ignored" : "w = 1:\nno guidance")
                                     : "conditioning off:\nno class");
    }
    return n;
}

static void draw_hist_in(ctx *c, const dn_run_frame *f, dn_rect r, int title);

/* A cell: label on top, the picture's box, the note under it. */
static void cell_parts(const ctx *c, dn_rect r, dn_rect *box, int *note_y) {
    int lh = c->L.presenter ? S(c, 26) : S(c, 24), nh = c->L.presenter ? S(c, 24) : S(c, 22);
    *box = (dn_rect){r.x, r.y + lh, r.w, r.h - lh - nh};
    *note_y = box->y + box->h + S(c, 3);
}

/* One line of text that keeps inside width: in `font`, else in the small one, else cut with an
 * ellipsis. */
static void fit_text(ctx *c, dn_font *font, int x, int y, int width, dn_align al, uint32_t color, const char *s) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    if (text_width(font, buf) > width) font = &c->f->small;
    ellipsize(font, buf, sizeof buf, width, 1, 0);
    text(c, font, x, y, al, color, "%s", buf);
}

/* "the presenter's words|the dashboard's shorter ones" (or one text for both) */
static void pick(char *out, size_t size, const char *s, int presenter) {
    const char *bar = strchr(s, '|');
    if (!bar) snprintf(out, size, "%s", s);
    else if (presenter) snprintf(out, size, "%.*s", (int)(bar - s), s);
    else snprintf(out, size, "%s", bar + 1);
}

static void draw_cell(ctx *c, const cell_item *e, dn_rect r) {
    dn_rect box;
    int ny;
    cell_parts(c, r, &box, &ny);
    dn_font *lf = c->L.presenter ? &c->f->label : &c->f->body;
    char label[96], note[128];
    pick(label, sizeof label, e->label, c->L.presenter);
    pick(note, sizeof note, e->note, c->L.presenter);
    fit_text(c, lf, r.x, r.y, r.w, DN_ALIGN_LEFT, c->P->ink, label);
    switch (e->kind) {
    case CELL_IMAGE: image(c, box, e->img, e->mul); break;
    case CELL_HEAT: {
        heat_image(c, box, e->img);
        /* legend: the ramp from 0 to 2 */
        int lx = r.x + S(c, 24), lw = r.w - S(c, 48), lh = S(c, 10), ly = ny + S(c, 3);
        for (int x = 0; x < lw; x++) dn_canvas_fill_rect(c->cv, lx + x, ly, 1, lh, heat((float)x / (float)(lw - 1)));
        text(c, &c->f->small, lx - S(c, 4), ly - S(c, 5), DN_ALIGN_RIGHT, c->P->muted, "0");
        text(c, &c->f->small, lx + lw + S(c, 4), ly - S(c, 5), DN_ALIGN_LEFT, c->P->muted, "2");
        break;
    }
    case CELL_EMPTY: {
        dn_canvas_fill_rect(c->cv, box.x, box.y, box.w, box.h, c->P->panel);
        char buf[160];
        snprintf(buf, sizeof buf, "%s", e->why);
        char *nl = strchr(buf, '\n');
        int lh = c->f->small.height, cx = box.x + box.w / 2;
        if (nl) {
            *nl = '\0';
            text(c, &c->f->small, cx, box.y + box.h / 2 - lh, DN_ALIGN_CENTER, c->P->muted, "%s", buf);
            text(c, &c->f->small, cx, box.y + box.h / 2, DN_ALIGN_CENTER, c->P->muted, "%s", nl + 1);
        } else text(c, &c->f->small, cx, box.y + (box.h - lh) / 2, DN_ALIGN_CENTER, c->P->muted, "%s", buf);
        break;
    }
    case CELL_HIST: draw_hist_in(c, e->frame, box, 0); break;
    case CELL_TEXT: {
        char buf[160];
        snprintf(buf, sizeof buf, "%s", e->why);
        int y = r.y + S(c, 40);
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
            text(c, &c->f->small, r.x, y, DN_ALIGN_LEFT, c->P->ink, "%s", line);
            y += c->f->small.height + S(c, 2);
        }
        break;
    }
    }
    if (note[0] && e->kind != CELL_HEAT) fit_text(c, &c->f->small, r.x + r.w / 2, ny, r.w, DN_ALIGN_CENTER, c->P->muted, note);
}

static void draw_cells(ctx *c, const dn_run_frame *f) {
    cell_item it[9];
    int n = collect_cells(c, f, it);
    if (!c->L.presenter) {
        for (int i = 0; i < n; i++) draw_cell(c, &it[i], c->L.cells[it[i].slot]);
        return;
    }
    /* the presenter shows what has something to show, at most four, packed */
    cell_item keep[4];
    int m = 0;
    for (int i = 0; i < n && m < 4; i++)
        if (it[i].kind == CELL_IMAGE || it[i].kind == CELL_HEAT || it[i].kind == CELL_HIST) keep[m++] = it[i];
    presenter_cells(&c->L, m);
    for (int i = 0; i < m; i++) draw_cell(c, &keep[i], c->L.cells[i]);
    if (m == 0 && n > 0 && fwd(c) && f->k == 0) { /* nothing to show yet: say why, once, instead of empty boxes */
        char why[160];
        snprintf(why, sizeof why, "%s", it[0].why);
        for (char *p = why; *p; p++)
            if (*p == '\n') *p = ' ';
        dn_rect a = c->L.cells_area;
        text(c, &c->f->label, a.x + a.w / 2, a.y + a.h / 2 - c->f->label.height / 2, DN_ALIGN_CENTER, c->P->muted, "%s", why);
    }
}

/* ---- numbers, histogram, timeline ------------------------------------------------------------ */

static void draw_numbers(ctx *c, const dn_run_frame *f) {
    const dn_view *v = c->v;
    const dn_view_settings *s = &v->set;
    dn_rect r = c->L.numbers;
    char a[64], b[96];
    if (c->L.presenter) { /* one line in words */
        share_text sh = shares(f);
        dn_render_t_label(v, f, b, sizeof b);
        char cls[96] = "";
        if (v->num_classes && !fwd(c))
            snprintf(cls, sizeof cls, s->cond ? "   %s, w = %g" : "   no class", dn_view_class_name(v, s->class_id),
                     (double)s->cfg_scale);
        text(c, &c->f->label, r.x, r.y, DN_ALIGN_LEFT, c->P->ink, "%s%s   picture %s, noise %s   %s %d steps%s",
             f->alpha_bar >= 1.0f ? "" : "t ", b, sh.picture, sh.noise, dn_sampler_kind_name(s->sampler), s->steps, cls);
        return;
    }
    dn_font *m = &c->f->mono;
    int lh = S(c, 22), y = r.y, kx = r.x, vx = r.x + S(c, 108);
#define ROW(key, color, ...)                                                                           \
    do {                                                                                               \
        text(c, m, kx, y, DN_ALIGN_LEFT, c->P->muted, "%s", key);                                      \
        text(c, m, vx, y, DN_ALIGN_LEFT, color, __VA_ARGS__);                                          \
        y += lh;                                                                                       \
    } while (0)
    int clean = f->alpha_bar >= 1.0f; /* a forward run's first frame, a reverse run's end */
    dn_render_t_label(v, f, b, sizeof b);
    ROW("t", clean ? c->P->ink : c->P->note, "%s", b);
    int ti = (int)lroundf(f->t);
    if (ti < 0) ti = 0;
    if (ti >= v->sched.T) ti = v->sched.T - 1;
    if (clean) ROW("beta_t", c->P->ink, "-");
    else {
        fmt_num(a, sizeof a, v->sched.betas[ti]);
        ROW("beta_t", c->P->ink, "%s", a);
    }
    fmt_num(a, sizeof a, f->alpha_bar);
    ROW("alpha-bar", c->P->ink, "%s", a);
    fmt_num(a, sizeof a, f->snr);
    ROW("SNR", c->P->ink, "%s", a);
    if (isinf(f->snr) || !(f->snr > 0)) snprintf(b, sizeof b, "%s", a);
    else snprintf(b, sizeof b, "%.3f", (double)logf(f->snr));
    ROW("log SNR", c->P->ink, "%s", b);
    y += S(c, 6);
    ROW("sampler", c->P->ink, "%s", dn_sampler_kind_name(s->sampler));
    ROW("steps", c->P->ink, "%d", s->steps);
    ROW("seed", c->P->ink, "%llu", (unsigned long long)s->seed);
    int guided_cfg = v->num_classes && s->cond;
    ROW("guidance", guided_cfg ? c->P->ink : c->P->muted, "w = %g%s", (double)s->cfg_scale, guided_cfg ? "" : " (off)");
    ROW("class", c->P->ink, "%s", v->num_classes ? dn_view_class_name(v, s->class_id) : "none");
    ROW("cond", s->cond ? c->P->ink : c->P->note, "%s", v->num_classes == 0 ? "n/a" : s->cond ? "on" : "OFF");
    ROW("model", c->P->ink, "%.14s", v->model_name[0] ? v->model_name : "none");
#undef ROW
}

/* The histogram of x_t's values against the N(0, 1) density in r; `title`: with its own heading. */
static void draw_hist_in(ctx *c, const dn_run_frame *f, dn_rect r, int title) {
    if (title) text(c, &c->f->small, r.x, r.y, DN_ALIGN_LEFT, c->P->ink, "values of x_t vs N(0,1)");
    int top = title ? S(c, 22) : 0;
    dn_rect p = {r.x, r.y + top, r.w, r.h - top - S(c, 20)};
    dn_canvas_fill_rect(c->cv, p.x, p.y, p.w, p.h, c->P->panel);
    enum { NB = 48 };
    const float lo = -4, hi = 4, bw = (hi - lo) / NB;
    long cnt[NB] = {0};
    const float *xs = shown_x(c, f, c->tmp);
    for (long i = 0; i < c->np; i++) {
        float x = xs[i];
        if (!(x >= lo && x < hi)) continue;
        int b = (int)((x - lo) / bw);
        if (b >= 0 && b < NB) cnt[b]++;
    }
    const float ymax = 0.8f; /* density shown up to 0.8; taller bars are clipped (clean images) */
    for (int b = 0; b < NB; b++) {
        float d = (float)cnt[b] / ((float)c->np * bw);
        int bh = (int)lroundf(fminf(d / ymax, 1.0f) * (float)p.h);
        int x0 = p.x + b * p.w / NB, x1 = p.x + (b + 1) * p.w / NB;
        dn_canvas_fill_rect(c->cv, x0, p.y + p.h - bh, x1 - x0 - 1 > 0 ? x1 - x0 - 1 : 1, bh, accent(c));
    }
    int th = line_w(c);
    for (int x = 0; x < p.w; x++) {
        float z = lo + (hi - lo) * ((float)x + 0.5f) / (float)p.w;
        float d = expf(-0.5f * z * z) / sqrtf(2 * 3.14159265f);
        int y = p.y + p.h - (int)lroundf(d / ymax * (float)p.h);
        dn_canvas_fill_rect(c->cv, p.x + x, y - th / 2, 1, th, c->P->note);
    }
    int ly = p.y + p.h + S(c, 2);
    text(c, &c->f->small, p.x, ly, DN_ALIGN_LEFT, c->P->muted, "-4");
    text(c, &c->f->small, p.x + p.w / 2, ly, DN_ALIGN_CENTER, c->P->muted, "0");
    text(c, &c->f->small, p.x + p.w, ly, DN_ALIGN_RIGHT, c->P->muted, "4");
}

static void draw_timeline(ctx *c, const dn_run_frame *f) {
    const dn_view *v = c->v;
    const dn_sched *sc = &v->sched;
    int T = sc->T, pres = c->L.presenter;
    dn_rect r = c->L.timeline, p = c->L.plot;
    if (fwd(c)) text(c, &c->f->small, r.x, r.y, DN_ALIGN_LEFT, c->P->ink, "t = 0 (clean)  \xe2\x86\x92  %d (pure noise)", T - 1);
    else text(c, &c->f->small, r.x, r.y, DN_ALIGN_LEFT, c->P->ink, "t = %d (pure noise)  \xe2\x86\x92  0 (clean)", T - 1);
    int lx = r.x + r.w, w2 = 0;
    if (!pres) {
        text(c, &c->f->small, lx, r.y, DN_ALIGN_RIGHT, c->P->snr, "log SNR, signal to noise (\xe2\x88\x92" "12 .. 12)");
        w2 = text_width(&c->f->small, "log SNR, signal to noise (\xe2\x88\x92" "12 .. 12)") + S(c, 24);
    }
    text(c, &c->f->small, lx - w2, r.y, DN_ALIGN_RIGHT, c->P->reverse, "signal left, alpha-bar (0 .. 1)");
    dn_canvas_fill_rect(c->cv, p.x, p.y, p.w, p.h, c->P->panel);
    /* img2img: the part of the schedule the run denoises, shaded */
    if (!fwd(c) && v->set.start > 0) {
        int x0 = t_to_x(v, &p, dn_run_t(v->run, 0));
        dn_canvas_fill_rect(c->cv, x0, p.y, p.x + p.w - x0, p.h, v->look.theme ? DN_RGB(200, 235, 210) : DN_RGB(30, 60, 50));
        char lab[48];
        snprintf(lab, sizeof lab, "img2img strength %.2f", (double)(v->set.steps - v->set.start) / v->set.steps);
        int lw = text_width(&c->f->small, lab), lxs = x0 + S(c, 6);
        if (lxs + lw > p.x + p.w - S(c, 6)) lxs = p.x + p.w - S(c, 6) - lw; /* never cut at the right edge */
        text(c, &c->f->small, lxs, p.y + S(c, 2), DN_ALIGN_LEFT, c->P->green, "%s", lab);
    }
    /* the run's timesteps as ticks */
    int n = dn_view_frames(v);
    if (n <= 260)
        for (int k = 0; k < n; k++) {
            int x = t_to_x(v, &p, dn_run_t(v->run, k));
            int th = S(c, pres ? 8 : 12);
            dn_canvas_fill_rect(c->cv, x, p.y + p.h - th, line_w(c), th, c->P->muted);
        }
    /* curves: one point per pixel column, joined by vertical runs */
    int th = S(c, 3) < 2 ? 2 : S(c, 3);
    int pa = -1, ps = -1;
    for (int x = 0; x < p.w; x++) {
        float u = (float)x / (float)(p.w - 1);
        float t = (fwd(c) ? u : 1.0f - u) * (float)(T - 1);
        int ti = (int)lroundf(t);
        float ab = sc->alphas_cumprod[ti];
        float ls = logf(sc->snr[ti]);
        if (ls < -12) ls = -12;
        if (ls > 12) ls = 12;
        int ya = p.y + (int)lroundf((1.0f - ab) * (float)(p.h - th));
        int ys = p.y + (int)lroundf((12.0f - ls) / 24.0f * (float)(p.h - th));
        int a0 = pa < 0 ? ya : (pa < ya ? pa : ya), a1 = pa < 0 ? ya : (pa > ya ? pa : ya);
        int s0 = ps < 0 ? ys : (ps < ys ? ps : ys), s1 = ps < 0 ? ys : (ps > ys ? ps : ys);
        if (!pres) dn_canvas_fill_rect(c->cv, p.x + x, s0, 1, s1 - s0 + th, c->P->snr);
        dn_canvas_fill_rect(c->cv, p.x + x, a0, 1, a1 - a0 + th, c->P->reverse);
        pa = ya, ps = ys;
    }
    /* cursor: at the frame shown (while a run catches up, the step it is computing gets a thin
     * mark), so the timeline never contradicts the picture */
    float tc = f ? f->t : dn_run_t(v->run, c->o->k);
    int cx = t_to_x(v, &p, tc), cw = S(c, 3) < 2 ? 2 : S(c, 3);
    if (f && f->k != c->o->k) {
        int tx = t_to_x(v, &p, dn_run_t(v->run, c->o->k));
        dn_canvas_fill_rect(c->cv, tx, p.y, 1, p.h, c->P->note);
    }
    dn_canvas_fill_rect(c->cv, cx - cw / 2, p.y - S(c, 4), cw, p.h + S(c, 8), c->P->ink);
    /* axis labels, in the direction of the plot */
    int ly = p.y + p.h + S(c, 4);
    for (int i = 0; i <= 4; i++) {
        int t = (T - 1) - i * (T - 1) / 4;
        int x = t_to_x(v, &p, (float)t);
        int left = x < p.x + S(c, 20), right = x > p.x + p.w - S(c, 20);
        if (pres && i != 0 && i != 4) continue; /* the ends say enough */
        text(c, &c->f->small, x, ly, left ? DN_ALIGN_LEFT : right ? DN_ALIGN_RIGHT : DN_ALIGN_CENTER, c->P->muted, "%d", t);
    }
}

/* ---- caption, help, picture ------------------------------------------------------------------ */

static void draw_caption(ctx *c, const dn_run_frame *f) {
    const dn_view *v = c->v;
    dn_rect r = c->L.caption;
    int y = r.y, pres = c->L.presenter;
    dn_font *cf = pres ? &c->f->caption : &c->f->body;
    int lines = pres ? 4 : 3;
    if (v->slides) { /* where in the lesson: on screen throughout, and on every slide */
        text(c, &c->f->small, r.x, y, DN_ALIGN_LEFT, c->P->muted, "%s   \xc2\xb7   slide %d of %d", v->deck, v->slide, v->slides);
        y += c->f->small.height;
        if (!pres) lines--;
    }
    if (c->o->message && c->o->message[0]) {
        text(c, &c->f->body, r.x, y, DN_ALIGN_LEFT, c->P->note, "%s", c->o->message);
        y += c->f->body.height;
        lines--;
    }
    char buf[1024];
    const char *cap = v->set.caption;
    if (!cap[0]) {
        dn_render_step_text(v, f, buf, sizeof buf);
        cap = buf;
    }
    draw_wrapped(c, cf, r.x, y, r.w, c->P->ink, cap, lines < 1 ? 1 : lines);
}

static const struct {
    const char *term, *meaning;
} glossary[] = {
    {"x_t", "the picture at step t: part picture, part noise"},
    {"t", "how far the noising has gone: 0 clean, T\xe2\x88\x92" "1 pure noise"},
    {"noise \xce\xb5", "random Gaussian values mixed into the picture; the U-Net is trained to predict them"},
    {"alpha-bar", "how much of the picture is left at t (1 clean, 0 none): x_t = \xe2\x88\x9a" "alpha-bar \xc2\xb7 x_0 + "
                  "\xe2\x88\x9a(1 \xe2\x88\x92 alpha-bar) \xc2\xb7 \xce\xb5"},
    {"SNR", "signal-to-noise ratio, alpha-bar / (1 \xe2\x88\x92 alpha-bar); log SNR above 0: more picture than noise"},
    {"x_0 (predicted)", "the clean picture the predicted noise implies; where a reverse step aims"},
    {"drift", "the part of a step that is the same every time: toward 0 going forward, toward the picture going back"},
    {"random motion", "the fresh noise a step adds (forward, DDPM); DDIM, Euler and DPM-Solver++ add none going back"},
    {"sampler", "the rule that turns a prediction into the next x_t: DDPM, DDIM, Euler, DPM-Solver++"},
    {"guidance w", "used = without + w \xc2\xb7 (with \xe2\x88\x92 without the class): 0 ignores it, 1 plain, more: more typical"},
    {"img2img", "start going back from a photo noised to some t: the result keeps its layout"},
};

static void draw_help(ctx *c) {
    dn_canvas *cv = c->cv;
    int w = S(c, 1220), h = S(c, 672);
    int x = (cv->w - w) / 2, y = (cv->h - h) / 2;
    uint32_t *shade = malloc(sizeof(uint32_t) * (size_t)w * (size_t)h);
    if (shade) {
        for (long i = 0; i < (long)w * h; i++) shade[i] = c->P->shade;
        dn_canvas_blend(cv, x, y, shade, w, h, w);
        free(shade);
    }
    dn_canvas_rect(cv, x, y, w, h, line_w(c), c->P->note);
    text(c, &c->f->title, x + S(c, 20), y + S(c, 10), DN_ALIGN_LEFT, c->P->note, "Keys");
    text(c, &c->f->title, x + S(c, 660), y + S(c, 10), DN_ALIGN_LEFT, c->P->note, "Words");
    text(c, &c->f->small, x + w - S(c, 20), y + S(c, 16), DN_ALIGN_RIGHT, c->P->muted, "H, F1 or Esc closes this help");
    int ly = y + S(c, 48), lh = c->f->small.height + S(c, 1);
    for (int i = 0; dn_view_help[i].keys; i++) {
        text(c, &c->f->small, x + S(c, 20), ly, DN_ALIGN_LEFT, c->P->note, "%s", dn_view_help[i].keys);
        draw_wrapped(c, &c->f->small, x + S(c, 200), ly, S(c, 440), c->P->ink, dn_view_help[i].what, 1);
        ly += lh;
    }
    ly = y + S(c, 48);
    for (size_t i = 0; i < sizeof glossary / sizeof glossary[0]; i++) {
        text(c, &c->f->small, x + S(c, 660), ly, DN_ALIGN_LEFT, c->P->note, "%s", glossary[i].term);
        ly = draw_wrapped(c, &c->f->small, x + S(c, 800), ly, S(c, 400), c->P->ink, glossary[i].meaning, 3) + S(c, 4);
    }
}

/* The view's picture (a lesson's chart) in place of the panels: scaled to fit by averaging the
 * source pixels under each screen pixel, centred. */
static void draw_picture(ctx *c) {
    const dn_view *v = c->v;
    dn_rect a = c->L.cells_area;
    int x0 = a.x, y0 = a.y, w = a.w, h = a.h;
    dn_canvas_fill_rect(c->cv, x0, y0, w, h, c->P->bg);
    double k = fmin((double)w / v->pic_w, (double)h / v->pic_h);
    int dw = (int)(v->pic_w * k), dh = (int)(v->pic_h * k);
    if (dw < 1 || dh < 1) return;
    uint32_t *buf = malloc(sizeof(uint32_t) * (size_t)dw * (size_t)dh);
    if (!buf) return;
    for (int y = 0; y < dh; y++) {
        int sy0 = (int)(y / k), sy1 = (int)((y + 1) / k);
        if (sy1 <= sy0) sy1 = sy0 + 1;
        if (sy1 > v->pic_h) sy1 = v->pic_h;
        for (int x = 0; x < dw; x++) {
            int sx0 = (int)(x / k), sx1 = (int)((x + 1) / k);
            if (sx1 <= sx0) sx1 = sx0 + 1;
            if (sx1 > v->pic_w) sx1 = v->pic_w;
            unsigned sum[3] = {0, 0, 0}, cnt = 0;
            for (int sy = sy0; sy < sy1; sy++)
                for (int sx = sx0; sx < sx1; sx++, cnt++)
                    for (int ch = 0; ch < 3; ch++) sum[ch] += v->pic[((size_t)sy * v->pic_w + sx) * 3 + ch];
            buf[(size_t)y * dw + x] = DN_RGB(sum[0] / cnt, sum[1] / cnt, sum[2] / cnt);
        }
    }
    dn_canvas_blend(c->cv, x0 + (w - dw) / 2, y0 + (h - dh) / 2, buf, dw, dh, dw);
    free(buf);
}

/* ---- compare mode: A and B side by side ------------------------------------------------------ */

static void draw_compare_side(ctx *c, dn_rect r, const char *tag, const dn_view_settings *s, const dn_run_frame *f,
                              int shown, int want, int frames) {
    const dn_view *v = c->v;
    char words[160], line[200];
    side_words(v, s, words, sizeof words);
    text(c, &c->f->title, r.x, r.y, DN_ALIGN_LEFT, accent(c), "%s", tag);
    text(c, &c->f->label, r.x + S(c, 34), r.y + S(c, 4), DN_ALIGN_LEFT, c->P->ink, "%s", words);
    dn_rect box = {r.x, r.y + S(c, 36), r.w, r.h - S(c, 36) - S(c, 56)};
    if (!f) {
        text(c, &c->f->label, box.x + box.w / 2, box.y + box.h / 2, DN_ALIGN_CENTER, c->P->note, "computing\xe2\x80\xa6");
        return;
    }
    dn_rect ir = image(c, box, x_img(c, f, c->buf[4]), 1.0f);
    share_text sh = shares(f);
    if (f->alpha_bar >= 1.0f) snprintf(line, sizeof line, "step %d of %d: done, clean", shown, frames - 1);
    else snprintf(line, sizeof line, "step %d of %d, t = %g: %s picture", shown, frames - 1, (double)f->t, sh.picture);
    text(c, &c->f->label, ir.x + ir.w / 2, ir.y + ir.h + S(c, 10), DN_ALIGN_CENTER, c->P->ink, "%s", line);
    if (shown != want)
        text(c, &c->f->small, ir.x + ir.w / 2, ir.y + ir.h + S(c, 32), DN_ALIGN_CENTER, c->P->note,
             "computing step %d\xe2\x80\xa6", want);
}

static void draw_compare(ctx *c, const dn_run_frame *fa, int shown_a) {
    const dn_view *v = c->v;
    xform t = xform_of(c->cv->w, c->cv->h);
    dn_rect ra = R(&t, 20, 50, 610, 528), rb = R(&t, 650, 50, 610, 528);
    dn_view_settings b;
    dn_view_compare_settings(&v->set, &b);
    int shown_b = 0;
    const dn_run_frame *fb = dn_view_compare_frame(v, c->o->k, &shown_b);
    draw_compare_side(c, ra, "A", &v->set, fa, shown_a, c->o->k, dn_view_frames(v));
    draw_compare_side(c, rb, "B", &b, fb, shown_b, dn_view_compare_k(v, c->o->k), v->cmp_run ? dn_run_frames(v->cmp_run) : 0);
}

/* ---- the filmstrip: several frames side by side, t under each --------------------------------- */

/* The filmstrip's rows under x_t: what tells the process for the slide's panels. */
typedef enum { ROW_X, ROW_NOISE, ROW_X0, ROW_DRIFT, ROW_RANDOM, ROW_PIX } strip_row;

static void draw_strip(ctx *c) {
    const dn_view *v = c->v;
    dn_rect a = c->L.strip;
    int n = c->o->n_strip < STRIP_MAX ? c->o->n_strip : STRIP_MAX;
    unsigned P = dn_view_panels(v);
    /* going forward the step's two parts (drift and random) or the noise so far; going back where
     * each step aims (the predicted x_0), else the step's two parts */
    strip_row rows[3] = {ROW_X};
    int nr = 1;
    if (fwd(c) && c->lat) rows[nr++] = ROW_PIX; /* latent: the same picture noised in pixel space */
    else if (fwd(c) && (P & DN_PANEL_MOVE)) rows[nr++] = ROW_DRIFT, rows[nr++] = ROW_RANDOM;
    else if (fwd(c) && (P & DN_PANEL_NOISE)) rows[nr++] = ROW_NOISE;
    else if (!fwd(c) && (P & DN_PANEL_X0) && v->has_net) rows[nr++] = ROW_X0;
    else if (!fwd(c) && (P & DN_PANEL_MOVE) && v->has_net) rows[nr++] = ROW_DRIFT, rows[nr++] = ROW_RANDOM;
    c->move_max = run_move_max(c);
    if (P & DN_PANEL_TIMELINE) { /* the schedule under the strip, its frames marked */
        xform t = xform_of(c->cv->w, c->cv->h);
        c->L.timeline = R(&t, 20, 504, 1240, 72);
        c->L.plot = R(&t, 20, 526, 1240, 26);
        a.h = c->L.timeline.y - a.y - S(c, 10);
        const dn_run_frame *last = dn_run_frame_get(v->run, c->o->strip[n - 1]);
        if (last) draw_timeline(c, last);
        for (int i = 0; i < n; i++) {
            int x = t_to_x(v, &c->L.plot, dn_run_t(v->run, c->o->strip[i]));
            dn_canvas_fill_rect(c->cv, x - S(c, 3), c->L.plot.y - S(c, 6), S(c, 6) < 2 ? 2 : S(c, 6), S(c, 6), accent(c));
        }
    }
    int gap = S(c, 18), rgap = S(c, 8);
    int lab = c->f->label.height + S(c, 4), under = c->f->label.height + c->f->small.height + S(c, 6);
    int cw = (a.w - (n - 1) * gap) / n;
    /* x_t's row gets the most room (1.6 shares; the rows under it 1 each) */
    float unit = (float)(a.h - (nr - 1) * rgap) / (1.6f + (float)(nr - 1));
    int ry = a.y;
    for (int row = 0; row < nr; ry += (int)(unit * (row == 0 ? 1.6f : 1.0f)) + rgap, row++) {
        int rh = (int)(unit * (row == 0 ? 1.6f : 1.0f));
        if (nr == 1) rh = a.h;
        char what[96];
        switch (rows[row]) {
        case ROW_X: snprintf(what, sizeof what, "%s", c->lat ? "x_t: the noisy latent, decoded" : "x_t: the picture"); break;
        case ROW_PIX: snprintf(what, sizeof what, "the same picture noised in pixel space, at the same steps"); break;
        case ROW_NOISE: snprintf(what, sizeof what, "the noise added"); break;
        case ROW_X0: snprintf(what, sizeof what, "where each step aims: the predicted x_0"); break;
        case ROW_DRIFT:
            snprintf(what, sizeof what, "drift of the next step (%s; white %.2g)", fwd(c) ? "toward 0" : "toward the picture",
                     (double)c->move_max);
            break;
        case ROW_RANDOM: snprintf(what, sizeof what, "random motion of the next step (fresh noise, same scale)"); break;
        }
        text(c, &c->f->label, a.x, ry, DN_ALIGN_LEFT, c->P->ink, "%s", what);
        for (int i = 0; i < n; i++) {
            int k = c->o->strip[i];
            const dn_run_frame *f = dn_run_frame_get(v->run, k);
            if (!f) continue;
            int K = dn_view_frames(v) - 1;
            dn_rect box = {a.x + i * (cw + gap), ry + lab, cw, rh - lab - (row == 0 ? under : S(c, 4))};
            if (rows[row] == ROW_X) {
                image(c, box, x_img(c, f, c->buf[3]), 1.0f);
                char t[64];
                if (f->alpha_bar >= 1.0f) snprintf(t, sizeof t, "clean");
                else snprintf(t, sizeof t, "t = %g", (double)f->t);
                dn_rect ir = fit_zoom(box, v->width, v->height, NULL);
                text(c, &c->f->label, box.x + box.w / 2, ir.y + ir.h + S(c, 6), DN_ALIGN_CENTER, c->P->ink, "%s", t);
                text(c, &c->f->small, box.x + box.w / 2, ir.y + ir.h + S(c, 6) + c->f->label.height, DN_ALIGN_CENTER,
                     c->P->muted, "step %d", k);
                if (i + 1 < n)
                    text(c, &c->f->title, box.x + box.w + gap / 2, ir.y + ir.h / 2 - c->f->title.height / 2, DN_ALIGN_CENTER,
                         accent(c), "\xe2\x80\xba");
                continue;
            }
            const float *img = NULL;
            float mul = 1.0f;
            const char *none = "";
            switch (rows[row]) {
            case ROW_NOISE: img = f->has_true ? lat_img(c, f->eps_true) : NULL, mul = 1.0f / NOISE_RANGE, none = "clean: no noise yet"; break;
            case ROW_X0: img = f->has_pred ? x0_img(c, f) : NULL, none = "the result is x_t"; break;
            case ROW_DRIFT: img = f->k < K ? lat_img(c, f->drift) : NULL, mul = 1.0f / c->move_max, none = "the end: no next step"; break;
            case ROW_RANDOM:
                img = f->k < K && max_abs(f->random, c->np) > 0 ? lat_img(c, f->random) : NULL, mul = 1.0f / c->move_max;
                none = f->k < K ? "none: no fresh noise" : "the end: no next step";
                break;
            case ROW_PIX: img = f->pic_noised ? f->pic_noised : f->k == 0 ? v->x0 : NULL, none = ""; break;
            case ROW_X: break;
            }
            if (img) image(c, box, img, mul);
            else text(c, &c->f->small, box.x + box.w / 2, box.y + box.h / 2, DN_ALIGN_CENTER, c->P->muted, "%s", none);
        }
    }
}

/* ---- the frame ------------------------------------------------------------------------------- */

void dn_render_opts_screen(dn_render_opts *o, const dn_view *v) {
    memset(o, 0, sizeof *o);
    o->k = v->k, o->help = v->help, o->playing = v->playing, o->message = v->message;
}

int dn_render_with(dn_canvas *cv, const dn_view *v, dn_render_fonts *f, const dn_render_opts *o) {
    ctx c;
    memset(&c, 0, sizeof c);
    c.cv = cv, c.f = f, c.v = v, c.o = o;
    c.P = v->look.theme == DN_THEME_LIGHT ? &light : &dark;
    c.n = (long)v->channels * v->height * v->width;
    c.lat = v->latent;
    c.np = c.lat ? (long)v->lat_channels * v->lat_height * v->lat_width : c.n;
    if (o->log && o->log_size) o->log[0] = '\0';
    dn_render_layout(&c.L, v, cv->w, cv->h);
    dn_canvas_clear(cv, c.P->bg);
    float *mem = malloc(sizeof(float) * (size_t)c.n * (c.lat ? 19 : 7));
    if (!mem) return dn_fail("out of memory drawing a frame");
    c.tmp = mem;
    for (int i = 0; i < 6; i++) c.buf[i] = mem + (long)(i + 1) * c.n;
    for (int i = 0; c.lat && i < 12; i++) c.lbuf[i] = mem + (long)(i + 7) * c.n;
    int shown = 0;
    const dn_run_frame *fr = dn_view_frame_at(v, o->k, &shown);
    draw_header(&c, fr, shown);
    if (!fr) {
        text(&c, &f->title, cv->w / 2, cv->h / 2, DN_ALIGN_CENTER, c.P->note, "computing the first frame\xe2\x80\xa6");
    } else if (o->n_strip > 1) {
        draw_strip(&c);
        draw_caption(&c, fr);
    } else if (v->set.cmp.on && v->cmp_run) {
        draw_compare(&c, fr, shown);
        draw_caption(&c, fr);
    } else {
        unsigned P = dn_view_panels(v);
        c.move_max = run_move_max(&c);
        draw_big(&c, fr);
        if (v->pic) draw_picture(&c);
        else draw_cells(&c, fr);
        if (P & DN_PANEL_NUMBERS) draw_numbers(&c, fr);
        if ((P & DN_PANEL_HIST) && !c.L.presenter) draw_hist_in(&c, fr, c.L.hist, 1);
        if (P & DN_PANEL_TIMELINE) draw_timeline(&c, fr);
        draw_caption(&c, fr);
    }
    if (o->help) draw_help(&c);
    free(mem);
    return c.failed ? -1 : 0;
}

int dn_render_outline(dn_canvas *cv, dn_render_fonts *f, const dn_view_look *look, const char *title,
                      const char *heading, const char *const *items, int n, const char *footer) {
    dn_view dummy; /* the drawing helpers read the look and nothing else of it here */
    memset(&dummy, 0, sizeof dummy);
    dummy.look = *look;
    dummy.look.layout = DN_LAYOUT_PRESENTER;
    dn_render_opts o = {0};
    ctx c;
    memset(&c, 0, sizeof c);
    c.cv = cv, c.f = f, c.v = &dummy, c.o = &o;
    c.P = look->theme == DN_THEME_LIGHT ? &light : &dark;
    xform t = xform_of(cv->w, cv->h);
    c.L.s = t.s;
    dn_canvas_clear(cv, c.P->bg);
    dn_rect h = R(&t, 0, 0, DESIGN_W, 44);
    dn_canvas_fill_rect(cv, 0, 0, cv->w, h.y + h.h, c.P->head);
    text(&c, &f->title, R(&t, 20, 0, 1, 1).x, h.y + (h.h - f->title.height) / 2, DN_ALIGN_LEFT, c.P->ink, "%s", title);
    dn_rect body = R(&t, 40, 70, 1200, 590);
    int y = body.y;
    text(&c, &f->title, body.x, y, DN_ALIGN_LEFT, c.P->reverse, "%s", heading);
    y += f->title.height + S(&c, 14);
    for (int i = 0; i < n && y + f->caption.height <= body.y + body.h; i++) {
        text(&c, &f->caption, body.x, y, DN_ALIGN_LEFT, c.P->muted, "\xe2\x80\xa2"); /* a bullet: titles bring their own numbers */
        y = draw_wrapped(&c, &f->caption, body.x + S(&c, 48), y, body.w - S(&c, 48), c.P->ink, items[i], 2) + S(&c, 4);
    }
    if (footer && footer[0]) {
        dn_rect fr = R(&t, 40, 680, 1200, 30);
        text(&c, &f->small, fr.x, fr.y, DN_ALIGN_LEFT, c.P->muted, "%s", footer);
    }
    return c.failed ? -1 : 0;
}

int dn_render(dn_canvas *cv, const dn_view *v, dn_render_fonts *f) {
    dn_render_opts o;
    dn_render_opts_screen(&o, v);
    return dn_render_with(cv, v, f, &o);
}

int dn_render_timeline_pick(const dn_view *v, int w, int h, int x, int y) {
    dn_layout L;
    dn_render_layout(&L, v, w, h);
    if (!(dn_view_panels(v) & DN_PANEL_TIMELINE)) return -1;
    dn_rect p = L.plot;
    int slack = (int)lroundf(12 * L.s);
    if (x < p.x - slack || x > p.x + p.w + slack || y < L.timeline.y || y > L.timeline.y + L.timeline.h) return -1;
    int n = dn_view_frames(v), best = -1;
    float bd = 0;
    for (int k = 0; k < n; k++) {
        float d = fabsf((float)(t_to_x(v, &p, dn_run_t(v->run, k)) - x));
        /* ties (equal t, e.g. the clean frame and t = 0) go to the frame nearest the cursor */
        if (best < 0 || d < bd || (d == bd && abs(k - v->k) < abs(best - v->k))) best = k, bd = d;
    }
    return best;
}

/* ---- export: the same frames as PNGs, a contact sheet and a GIF ------------------------------ */

#define EXPORT_MAX_FRAMES 101 /* longer runs are exported every few steps (always with the last) */
#define SHEET_MAX 10

struct dn_export {
    char dir[4096], command[2048], settings[1024], message[sizeof((dn_view *)0)->message];
    int w, h, delay_cs, has_command;
    int n, stride, next_k, count, total; /* run frames, frame stride, next frame to write */
    int finished;
    dn_render_fonts fonts;
    dn_canvas cv;
    dn_gif gif;
    int gif_open;
    unsigned char *rgb;
};

/* The frames exported from a run of n: 0, stride, 2 stride, ... and always the last, n - 1. */
static int export_next(int k, int n, int stride) { return k + stride < n - 1 ? k + stride : n - 1; }
static int export_total(int n, int stride) { return n <= 1 ? 1 : (n - 2) / stride + 2; }

dn_export *dn_export_begin(const dn_view *v, const char *dir, int w, int h, const char *command, int delay_cs) {
    dn_export *ex = calloc(1, sizeof *ex);
    if (!ex) {
        dn_fail("out of memory starting an export");
        return NULL;
    }
    if (strlen(dir) >= sizeof ex->dir || (command && strlen(command) >= sizeof ex->command)) {
        free(ex);
        dn_fail("export: directory name or command too long");
        return NULL;
    }
    strcpy(ex->dir, dir);
    if (command) strcpy(ex->command, command), ex->has_command = 1;
    memcpy(ex->message, v->message, sizeof ex->message); /* the slides show what the screen showed */
    ex->w = w, ex->h = h, ex->delay_cs = delay_cs;
    ex->n = dn_view_frames(v);
    ex->stride = (ex->n + EXPORT_MAX_FRAMES - 2) / (EXPORT_MAX_FRAMES - 1);
    if (ex->stride < 1) ex->stride = 1;
    ex->total = export_total(ex->n, ex->stride);
    dn_view_describe(v, ex->settings, sizeof ex->settings);
    if (dn_make_dir(dir) < 0 || dn_canvas_init(&ex->cv, w, h, 0) < 0 || dn_render_fonts_fit(&ex->fonts, w, h) < 0)
        goto fail;
    ex->rgb = malloc((size_t)w * (size_t)h * 3);
    if (!ex->rgb) {
        dn_fail("out of memory exporting %dx%d frames", w, h);
        goto fail;
    }
    if (dn_gif_begin(&ex->gif, w, h, NULL) < 0) goto fail;
    ex->gif_open = 1;
    return ex;
fail:
    dn_fail_context("export to %s", dir);
    dn_export_free(ex);
    return NULL;
}

void dn_export_progress(const dn_export *ex, int *done, int *total) {
    *done = ex->count;
    *total = ex->total;
}

/* The contact sheet (up to SHEET_MAX x_t's spread evenly over the run) and the GIF. */
static int export_finish(dn_export *ex, const dn_view *v) {
    long plane = (long)v->channels * v->height * v->width;
    int n = ex->n, ns = n < SHEET_MAX ? n : SHEET_MAX;
    float *sheet = malloc(sizeof(float) * (size_t)plane * SHEET_MAX);
    if (!sheet) return dn_fail("out of memory making the contact sheet");
    char caps[SHEET_MAX][48], path[4200], title[300];
    const char *cp[SHEET_MAX];
    for (int i = 0; i < ns; i++) {
        int k = ns > 1 ? (int)lround((double)i * (n - 1) / (ns - 1)) : 0;
        const dn_run_frame *f = dn_run_frame_wait(v->run, k);
        if (!f) {
            free(sheet);
            return dn_fail("frame %d of the run could not be computed", k);
        }
        memcpy(sheet + (long)i * plane, v->latent && f->pic ? f->pic : f->x, sizeof(float) * (size_t)plane);
        snprintf(caps[i], sizeof caps[i], "step %d\nt = %g", k, (double)f->t);
        cp[i] = caps[i];
    }
    char what[200];
    if (v->set.mode == DN_RUN_FORWARD) snprintf(what, sizeof what, "forward: %s", v->image_name);
    else if (v->set.start > 0)
        snprintf(what, sizeof what, "img2img from %s (%d of %d steps of noise)", v->image_name,
                 v->set.steps - v->set.start, v->set.steps);
    else if (v->num_classes && v->set.cond)
        snprintf(what, sizeof what, "reverse: a %s (guidance %g)", dn_view_class_name(v, v->set.class_id), (double)v->set.cfg_scale);
    else snprintf(what, sizeof what, "reverse: unconditional");
    snprintf(title, sizeof title, "%s, %s %d steps, seed %llu", what, dn_sampler_kind_name(v->set.sampler), v->set.steps,
             (unsigned long long)v->set.seed);
    dn_png_text stxt[] = {{"Software", "diffuse " DN_VERSION}, {"Title", title}, {"diffuse-settings", ex->settings},
                          {"diffuse-command", ex->command}};
    snprintf(path, sizeof path, "%s/contact.png", ex->dir);
    int rc = dn_sheet_save(path, sheet, ns, v->channels, v->height, v->width, cp, title, 0, 0, stxt,
                           ex->has_command ? 4 : 3);
    free(sheet);
    if (rc < 0) return -1;
    snprintf(path, sizeof path, "%s/run.gif", ex->dir);
    ex->gif_open = 0;
    return dn_gif_end(&ex->gif, path);
}

int dn_export_step(dn_export *ex, const dn_view *v, int wait) {
    if (ex->finished) return 0;
    int k = ex->next_k, n = ex->n;
    /* the whole run first: the drift and random panels share the run's scale, known at its end,
     * so every slide of an export has the same (and the same as a later export of the run) */
    const dn_run_frame *f = wait ? dn_run_frame_wait(v->run, n - 1) : dn_run_frame_get(v->run, n - 1);
    if (f) f = dn_run_frame_get(v->run, k);
    if (!f) {
        if (!wait && !dn_run_failed(v->run)) return 2; /* not computed yet */
        dn_fail_context("frame %d of the run could not be computed", k);
        return -1;
    }
    /* the frame as the screen shows it at cursor k, without help, play mark or key hints */
    dn_render_opts o = {.k = k, .message = ex->message, .exporting = 1};
    if (dn_render_with(&ex->cv, v, &ex->fonts, &o) < 0) return -1;
    char tval[32], kval[16], title[300], path[4200];
    snprintf(tval, sizeof tval, "%g", (double)f->t);
    snprintf(kval, sizeof kval, "%d", k);
    snprintf(title, sizeof title, "diffuse view: step %d of %d, t = %s", k, n - 1, tval);
    dn_png_text txt[] = {{"Software", "diffuse " DN_VERSION}, {"Title", title}, {"diffuse-settings", ex->settings},
                         {"diffuse-step", kval}, {"diffuse-t", tval}, {"diffuse-command", ex->command}};
    dn_canvas_to_rgb(&ex->cv, ex->rgb);
    snprintf(path, sizeof path, "%s/frame_%03d.png", ex->dir, ex->count);
    if (dn_png_write(path, ex->rgb, ex->w, ex->h, 3, txt, ex->has_command ? 6 : 5) < 0) return -1;
    if (dn_gif_add(&ex->gif, &ex->cv, k == n - 1 ? 200 : ex->delay_cs) < 0) return -1;
    ex->count++;
    if (k < n - 1) {
        ex->next_k = export_next(k, n, ex->stride);
        return 1;
    }
    if (export_finish(ex, v) < 0) return -1;
    ex->finished = 1;
    return 0;
}

void dn_export_free(dn_export *ex) {
    if (!ex) return;
    if (ex->gif_open) dn_gif_free(&ex->gif);
    dn_render_fonts_close(&ex->fonts);
    dn_canvas_free(&ex->cv);
    free(ex->rgb);
    free(ex);
}

int dn_render_export(const dn_view *v, const char *dir, int w, int h, const char *command, int delay_cs) {
    dn_export *ex = dn_export_begin(v, dir, w, h, command, delay_cs);
    if (!ex) return -1;
    int rc;
    while ((rc = dn_export_step(ex, v, 1)) == 1) {}
    int written = rc == 0 ? ex->count : -1;
    dn_export_free(ex);
    return written;
}
