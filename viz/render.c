/* render.c — one viewer frame from the state; see render.h.
 *
 * Layout (design pixels of a 1280x720 frame; everything is scaled by s and centred):
 *   header            0..44    mode, what is shown, step counter, play state
 *   big x_t          20..440 x 50..486   the current image, 400 px box, whole-number zoom
 *   small panels    454..980 x 50..486   3 x 2 cells of 166 px images with a label and a note
 *   numbers        1000..1260 x 50..322  t, beta, alpha-bar, SNR and the settings
 *   histogram      1000..1260 x 330..486 x_t's values against the N(0,1) density
 *   timeline         20..1260 x 496..622 alpha-bar and log SNR over t = T-1 .. 0, the cursor
 *   caption          20..1260 x 628..716 the lesson's text or the step explained
 * Colours: near-black background, white text, one accent per mode (orange forward, cyan
 * reverse); noise is shown with a symmetric scale (grey = 0). */
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

#define BG DN_RGB(14, 17, 22)
#define PANEL DN_RGB(30, 35, 43)
#define INK DN_RGB(245, 245, 245)
#define MUTED DN_RGB(170, 178, 190)
#define YELLOW DN_RGB(255, 214, 74)
#define ORANGE DN_RGB(255, 159, 67)
#define CYAN DN_RGB(79, 195, 247)
#define GRID DN_RGB(60, 68, 80)

#define DESIGN_W 1280
#define DESIGN_H 720
#define NOISE_RANGE 3.0f /* noise panels map [-3, 3] to black .. white */

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

void dn_render_layout(dn_layout *L, int w, int h, int img_w, int img_h) {
    xform t = xform_of(w, h);
    memset(L, 0, sizeof *L);
    L->s = t.s;
    L->header = R(&t, 0, 0, DESIGN_W, 44);
    L->header.h += L->header.y; /* the bar spans the whole width and reaches the top edge */
    L->header.x = 0, L->header.y = 0, L->header.w = w;
    L->big = R(&t, 20, 50, 420, 436);
    L->big_img = fit_zoom(R(&t, 30, 84, 400, 400), img_w, img_h, &L->zoom);
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 3; i++) L->cells[j * 3 + i] = R(&t, 454 + i * 180, 50 + j * 222, 166, 214);
    L->numbers = R(&t, 1000, 50, 260, 272);
    L->hist = R(&t, 1000, 330, 260, 156);
    L->timeline = R(&t, 20, 496, 1240, 126);
    L->plot = R(&t, 20, 520, 1240, 76);
    L->caption = R(&t, 20, 628, 1240, 88);
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
        dn_font_open(&f->mono, "DejaVu Sans Mono", font_px(s, 17)) < 0) {
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
    memset(f, 0, sizeof *f);
}

/* ---- drawing helpers ------------------------------------------------------------------------- */

typedef struct {
    dn_canvas *cv;
    dn_render_fonts *f;
    const dn_view *v;
    dn_layout L;
    int failed;
    float *tmp; /* (C, H, W) scratch for scaled panels */
    /* what this picture shows of the view's state: the cursor, the help overlay, play mode and
     * the message line (the view's own on screen; a slide's when exporting) */
    int k, help, playing;
    const char *message;
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
}

static int text_width(dn_font *font, const char *s) {
    int w = 0, h = 0;
    return dn_font_measure(font, s, &w, &h) < 0 ? 0 : w;
}

static int S(const ctx *c, int design) {
    return (int)lroundf((float)design * c->L.s);
}

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

/* Draw img * mul into the box (whole-number zoom, centred, thin frame). Returns the image rect. */
static dn_rect image(ctx *c, dn_rect box, const float *img, float mul) {
    const dn_view *v = c->v;
    long n = (long)v->channels * v->height * v->width;
    const float *src = img;
    if (mul != 1.0f) {
        for (long i = 0; i < n; i++) c->tmp[i] = img[i] * mul;
        src = c->tmp;
    }
    dn_rect r = fit_zoom(box, v->width, v->height, NULL);
    int b = S(c, 2) < 1 ? 1 : S(c, 2);
    dn_canvas_rect(c->cv, r.x - b, r.y - b, r.w + 2 * b, r.h + 2 * b, b, GRID);
    dn_canvas_blit_float(c->cv, r.x, r.y, r.w, r.h, src, v->channels, v->height, v->width);
    return r;
}

/* The channel mean of |err| as a heat map, 0 .. 2 over the ramp. */
static void heat_image(ctx *c, dn_rect box, const float *err) {
    const dn_view *v = c->v;
    int z;
    dn_rect r = fit_zoom(box, v->width, v->height, &z);
    long plane = (long)v->height * v->width;
    int b = S(c, 2) < 1 ? 1 : S(c, 2);
    dn_canvas_rect(c->cv, r.x - b, r.y - b, r.w + 2 * b, r.h + 2 * b, b, GRID);
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

/* A small panel: label on top, image box, note under it. Returns the image box. */
static dn_rect cell(ctx *c, int i, const char *label, uint32_t color) {
    dn_rect r = c->L.cells[i];
    text(c, &c->f->body, r.x, r.y, DN_ALIGN_LEFT, color, "%s", label);
    dn_rect box = {r.x, r.y + S(c, 24), r.w, S(c, 166)};
    return box;
}

static void cell_note(ctx *c, int i, uint32_t color, const char *note) {
    dn_rect r = c->L.cells[i];
    text(c, &c->f->small, r.x + r.w / 2, r.y + S(c, 196), DN_ALIGN_CENTER, color, "%s", note);
}

/* A panel with nothing to show: a dim box with a short reason (up to two lines split at '\n'). */
static void cell_empty(ctx *c, dn_rect box, const char *why) {
    dn_canvas_fill_rect(c->cv, box.x, box.y, box.w, box.h, PANEL);
    char buf[160];
    snprintf(buf, sizeof buf, "%s", why);
    char *nl = strchr(buf, '\n');
    int lh = c->f->small.height;
    if (nl) {
        *nl = '\0';
        text(c, &c->f->small, box.x + box.w / 2, box.y + box.h / 2 - lh, DN_ALIGN_CENTER, MUTED, "%s", buf);
        text(c, &c->f->small, box.x + box.w / 2, box.y + box.h / 2, DN_ALIGN_CENTER, MUTED, "%s", nl + 1);
    } else {
        text(c, &c->f->small, box.x + box.w / 2, box.y + (box.h - lh) / 2, DN_ALIGN_CENTER, MUTED, "%s", buf);
    }
}

static void fmt_num(char *buf, size_t size, float x) {
    if (isinf(x)) snprintf(buf, size, "\xe2\x88\x9e"); /* the infinity sign */
    else if (x != 0 && (fabsf(x) < 1e-3f || fabsf(x) >= 1e5f)) snprintf(buf, size, "%.3e", (double)x);
    else snprintf(buf, size, "%.4f", (double)x);
}

/* x position on the plot of timestep t: T-1 at the left, 0 at the right */
static int t_to_x(const dn_rect *p, int T, float t) {
    return p->x + (int)lroundf((1.0f - t / (float)(T - 1)) * (float)(p->w - 1));
}

/* ---- the parts of the frame ------------------------------------------------------------------ */

void dn_render_t_label(const dn_view *v, const dn_run_frame *f, char *buf, size_t size) {
    /* short: the numbers panel's value column holds about 16 characters at every size */
    if (f->alpha_bar >= 1.0f) snprintf(buf, size, "clean, no noise");
    else if (f->t == 0.0f) snprintf(buf, size, "0 (beta_0 noise)");
    else snprintf(buf, size, "%g of %d", (double)f->t, v->sched.T);
}

void dn_render_headline(const dn_view *v, char *what, size_t size) {
    const dn_view_settings *s = &v->set;
    if (s->mode == DN_RUN_FORWARD) snprintf(what, size, "noising %.48s", v->image_name);
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

static void draw_header(ctx *c, const dn_run_frame *f, int shown) {
    const dn_view *v = c->v;
    const dn_view_settings *s = &v->set;
    dn_rect h = c->L.header;
    dn_canvas_fill_rect(c->cv, h.x, h.y, h.w, h.h, DN_RGB(24, 28, 36));
    int fwd = s->mode == DN_RUN_FORWARD;
    uint32_t acc = fwd ? ORANGE : CYAN;
    const char *tag = fwd ? "FORWARD" : "REVERSE";
    int pad = S(c, 10), x = c->L.big.x;
    int tw = text_width(&c->f->title, tag);
    int ty = h.y + (h.h - c->f->title.height) / 2;
    dn_canvas_fill_rect(c->cv, x, h.y + S(c, 6), tw + 2 * pad, h.h - S(c, 12), acc);
    text(c, &c->f->title, x + pad, ty, DN_ALIGN_LEFT, BG, "%s", tag);
    char what[256], note[160];
    dn_render_headline(v, what, sizeof what);
    int n = dn_view_frames(v);
    int rx = c->L.numbers.x + c->L.numbers.w;
    /* the step of the picture on screen (the one being computed is in the note beside it) */
    text(c, &c->f->title, rx, ty, DN_ALIGN_RIGHT, INK, "step %d / %d", f ? shown : c->k, n - 1);
    int sw = text_width(&c->f->title, "step 0000 / 0000");
    /* the note beside the step: what is going on, else the keys' hint; the headline keeps the
     * room it needs (the hint gives way to it; a status note shortens it) */
    dn_font *nf = &c->f->body;
    uint32_t ncol = YELLOW;
    int status = 1;
    if (!f || shown != c->k)
        snprintf(note, sizeof note, "computing step %d\xe2\x80\xa6", c->k);
    else if (c->playing)
        snprintf(note, sizeof note, "\xe2\x96\xb6 playing %g steps/s", (double)dn_view_speeds[v->speed]), ncol = acc;
    else {
        snprintf(note, sizeof note, "Space plays (%g steps/s)   H: keys", (double)dn_view_speeds[v->speed]);
        nf = &c->f->small, ncol = MUTED, status = 0;
    }
    int wx = x + tw + 3 * pad, room = rx - sw - pad - wx; /* from the headline to the step number */
    int nw = text_width(nf, note), gap = 2 * pad;
    if (text_width(&c->f->body, what) + gap + nw > room) {
        if (!status) note[0] = 0, nw = 0; /* the hint gives way */
        size_t len = strlen(what);
        while (len > 4 && text_width(&c->f->body, what) + (nw ? gap + nw : 0) > room) {
            len--;
            while (len > 0 && ((unsigned char)what[len] & 0xC0) == 0x80) len--; /* whole UTF-8 characters */
            snprintf(what + len, sizeof what - len, "\xe2\x80\xa6");
        }
    }
    text(c, &c->f->body, wx, h.y + (h.h - c->f->body.height) / 2, DN_ALIGN_LEFT, INK, "%s", what);
    if (note[0]) text(c, nf, rx - sw - pad, h.y + (h.h - nf->height) / 2, DN_ALIGN_RIGHT, ncol, "%s", note);
}

/* Every picture of x shows it at the variance-preserving scale (the run's f->scale: Euler's
 * samples live at sqrt(sigma^2 + 1)), so x_t, its histogram and the next x_t read the same for all
 * samplers. `next`: the scale of x + drift + random, the next frame's x. */
static float shown_scale(const dn_run_frame *f, int next) { return next ? f->scale_next : f->scale; }

/* f->x at the shown scale: f->x itself, or a scaled copy in out (n values). */
static const float *shown_x(const dn_view *v, const dn_run_frame *f, float *out) {
    float s = shown_scale(f, 0);
    if (s == 1.0f) return f->x;
    long n = (long)v->channels * v->height * v->width;
    for (long i = 0; i < n; i++) out[i] = f->x[i] * s;
    return out;
}

static void draw_big(ctx *c, const dn_run_frame *f) {
    const dn_view *v = c->v;
    dn_rect b = c->L.big;
    text(c, &c->f->title, b.x, b.y, DN_ALIGN_LEFT, INK, "x_t");
    char tb[32];
    fmt_num(tb, sizeof tb, f->alpha_bar);
    if (f->k == 0 && v->set.mode == DN_RUN_FORWARD)
        text(c, &c->f->body, b.x + S(c, 56), b.y + S(c, 3), DN_ALIGN_LEFT, MUTED, "clean image x_0, before any step");
    else if (f->alpha_bar >= 1.0f)
        text(c, &c->f->body, b.x + S(c, 56), b.y + S(c, 3), DN_ALIGN_LEFT, MUTED, "clean: after the last step");
    else if (shown_scale(f, 0) != 1.0f)
        text(c, &c->f->body, b.x + S(c, 56), b.y + S(c, 3), DN_ALIGN_LEFT, MUTED,
             "t = %g   x / \xe2\x88\x9a(\xcf\x83\xc2\xb2+1)", (double)f->t);
    else
        text(c, &c->f->body, b.x + S(c, 56), b.y + S(c, 3), DN_ALIGN_LEFT, MUTED, "t = %g", (double)f->t);
    dn_rect r = c->L.big_img;
    int bw = S(c, 2) < 1 ? 1 : S(c, 2);
    dn_canvas_rect(c->cv, r.x - bw, r.y - bw, r.w + 2 * bw, r.h + 2 * bw, bw, GRID);
    dn_canvas_blit_float(c->cv, r.x, r.y, r.w, r.h, shown_x(v, f, c->tmp), v->channels, v->height, v->width);
    const float *noise = v->set.mode == DN_RUN_FORWARD ? (f->has_true ? f->eps_true : NULL)
                                                       : (f->has_pred ? f->eps_pred : NULL);
    if (v->set.overlay && noise) {
        /* the noise drawn over x_t at half opacity, on the noise panels' symmetric scale */
        int iw = v->width, ih = v->height, z = c->L.zoom;
        long plane = (long)iw * ih;
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
        text(c, &c->f->small, b.x + b.w, b.y + S(c, 6), DN_ALIGN_RIGHT, YELLOW, "%s noise overlaid (O)",
             v->set.mode == DN_RUN_FORWARD ? "true" : "predicted");
    }
}

/* Drift and random of one step share one symmetric scale, so their sizes compare at a glance. */
static void draw_move(ctx *c, const dn_run_frame *f, int ci_drift, int ci_random) {
    const dn_view *v = c->v;
    long n = (long)v->channels * v->height * v->width;
    int K = dn_view_frames(v) - 1;
    dn_rect bd = cell(c, ci_drift, "drift", INK);
    dn_rect br = cell(c, ci_random, "random motion", INK);
    if (f->k >= K) {
        cell_empty(c, bd, "last frame:\nno more steps");
        cell_empty(c, br, "last frame:\nno more steps");
        return;
    }
    float m = max_abs(f->drift, n), mr = max_abs(f->random, n);
    if (mr > m) m = mr;
    if (!(m > 0)) m = 1;
    image(c, bd, f->drift, 1.0f / m);
    char note[64];
    snprintf(note, sizeof note, "max %.2g  (\xc2\xb1%.2g)", (double)max_abs(f->drift, n), (double)m);
    cell_note(c, ci_drift, MUTED, note);
    if (mr > 0) {
        image(c, br, f->random, 1.0f / m);
        snprintf(note, sizeof note, "max %.2g  (\xc2\xb1%.2g)", (double)mr, (double)m);
        cell_note(c, ci_random, MUTED, note);
    } else {
        cell_empty(c, br, "none: this sampler\nadds no noise here");
    }
}

static void noise_cell(ctx *c, int i, const char *label, const float *eps) {
    dn_rect b = cell(c, i, label, INK);
    image(c, b, eps, 1.0f / NOISE_RANGE);
    cell_note(c, i, MUTED, "grey 0, scale \xc2\xb1" "3");
}

static void draw_guidance(ctx *c, const dn_run_frame *f) {
    const dn_view *v = c->v;
    long n = (long)v->channels * v->height * v->width;
    if (!f->has_pred) {
        for (int i = 0; i < 4; i++)
            cell_empty(c, cell(c, i, i == 0 ? "guidance breakdown" : "", INK),
                       v->has_net ? "no prediction\nat the last frame" : "no model:\nno prediction");
        return;
    }
    if (!f->guided) {
        noise_cell(c, 0, "the one prediction", f->eps_pred);
        cell_empty(c, cell(c, 1, "no guidance", MUTED),
                   v->set.cond ? "w = 1: conditional\nprediction only" : "conditioning off:\nunconditional only");
        return;
    }
    noise_cell(c, 0, "unconditional \xce\xb5", f->eps_uncond);
    noise_cell(c, 1, "conditional \xce\xb5", f->eps_cond);
    for (long i = 0; i < n; i++) c->tmp[i] = f->eps_cond[i] - f->eps_uncond[i];
    float m = max_abs(c->tmp, n);
    if (!(m > 0)) m = 1;
    dn_rect b = cell(c, 2, "cond \xe2\x88\x92 uncond", INK);
    for (long i = 0; i < n; i++) c->tmp[i] /= m;
    /* c->tmp already scaled: draw without a second scaling */
    {
        dn_rect r = fit_zoom(b, v->width, v->height, NULL);
        dn_canvas_blit_float(c->cv, r.x, r.y, r.w, r.h, c->tmp, v->channels, v->height, v->width);
    }
    char note[64];
    snprintf(note, sizeof note, "the pull, scale \xc2\xb1%.2g", (double)m);
    cell_note(c, 2, MUTED, note);
    char lab[64];
    snprintf(lab, sizeof lab, "mix (w = %g)", (double)v->set.cfg_scale);
    noise_cell(c, 3, lab, f->eps_pred);
    dn_rect r = c->L.cells[4];
    int lh = c->f->body.height;
    text(c, &c->f->body, r.x, r.y + S(c, 40), DN_ALIGN_LEFT, INK, "mix = uncond");
    text(c, &c->f->body, r.x, r.y + S(c, 40) + lh, DN_ALIGN_LEFT, INK, "  + w \xc2\xb7 (cond \xe2\x88\x92 uncond)");
    text(c, &c->f->small, r.x, r.y + S(c, 40) + 3 * lh, DN_ALIGN_LEFT, MUTED, "w = 0: unconditional");
    text(c, &c->f->small, r.x, r.y + S(c, 40) + 4 * lh, DN_ALIGN_LEFT, MUTED, "w = 1: conditional");
    text(c, &c->f->small, r.x, r.y + S(c, 40) + 5 * lh, DN_ALIGN_LEFT, MUTED, "w > 1: further toward the class");
}

static void draw_cells(ctx *c, const dn_run_frame *f) {
    const dn_view *v = c->v;
    unsigned P = v->set.panels;
    int fwd = v->set.mode == DN_RUN_FORWARD;
    if (v->set.guidance) {
        draw_guidance(c, f);
        return;
    }
    const char *nopred = v->has_net ? "no prediction\nat the last frame" : "no model:\nno prediction";
    if (fwd) {
        if (P & DN_PANEL_NOISE) {
            dn_rect b = cell(c, 0, "true noise \xce\xb5", INK);
            if (v->set.overlay) cell_empty(c, b, "shown on x_t\n(O to bring back)");
            else if (f->has_true) {
                image(c, b, f->eps_true, 1.0f / NOISE_RANGE);
                cell_note(c, 0, MUTED, "grey 0, scale \xc2\xb1" "3");
            } else cell_empty(c, b, "clean image:\nno noise yet");
            b = cell(c, 1, "predicted noise", INK);
            if (f->has_pred) {
                image(c, b, f->eps_pred, 1.0f / NOISE_RANGE);
                cell_note(c, 1, MUTED, "the U-Net's guess");
            } else cell_empty(c, b, f->k == 0 && v->has_net ? "clean image:\nnothing to predict" : nopred);
        }
        if (P & DN_PANEL_ERROR) {
            dn_rect b = cell(c, 2, "prediction error", INK);
            if (f->has_pred && f->has_true) {
                heat_image(c, b, f->err);
                /* legend: the ramp from 0 to 2 */
                dn_rect r = c->L.cells[2];
                int lx = r.x + S(c, 24), lw = r.w - S(c, 48), ly = r.y + S(c, 199), lh = S(c, 10);
                for (int x = 0; x < lw; x++) dn_canvas_fill_rect(c->cv, lx + x, ly, 1, lh, heat((float)x / (float)(lw - 1)));
                text(c, &c->f->small, lx - S(c, 4), ly - S(c, 4), DN_ALIGN_RIGHT, MUTED, "0");
                text(c, &c->f->small, lx + lw + S(c, 4), ly - S(c, 4), DN_ALIGN_LEFT, MUTED, "2");
            } else cell_empty(c, b, f->k == 0 && v->has_net ? "clean image:\nnothing to predict" : nopred);
        }
        if (P & DN_PANEL_X0) {
            dn_rect b = cell(c, 3, "predicted x_0", INK);
            if (f->has_pred) {
                image(c, b, f->x0_pred, 1.0f);
                cell_note(c, 3, MUTED, "the clean image implied");
            } else cell_empty(c, b, f->k == 0 && v->has_net ? "clean image:\nnothing to predict" : nopred);
        }
        if (P & DN_PANEL_MOVE) draw_move(c, f, 4, 5);
        return;
    }
    if (P & DN_PANEL_NOISE) {
        dn_rect b = cell(c, 0, "predicted noise", INK);
        if (v->set.overlay) cell_empty(c, b, "shown on x_t\n(O to bring back)");
        else if (f->has_pred) {
            image(c, b, f->eps_pred, 1.0f / NOISE_RANGE);
            cell_note(c, 0, MUTED, "grey 0, scale \xc2\xb1" "3");
        } else cell_empty(c, b, nopred);
    }
    if (P & DN_PANEL_X0) {
        dn_rect b = cell(c, 1, "predicted x_0", INK);
        if (f->has_pred) {
            image(c, b, f->x0_pred, 1.0f);
            cell_note(c, 1, MUTED, "where this step aims");
        } else cell_empty(c, b, "the result:\nsee x_t");
    }
    if (P & DN_PANEL_MOVE) {
        dn_rect b = cell(c, 2, "next x_t", INK);
        int K = dn_view_frames(v) - 1;
        long n = (long)v->channels * v->height * v->width;
        if (f->k < K) {
            float sn = shown_scale(f, 1);
            for (long i = 0; i < n; i++) c->tmp[i] = (f->x[i] + f->drift[i] + f->random[i]) * sn;
            dn_rect r = fit_zoom(b, v->width, v->height, NULL);
            dn_canvas_blit_float(c->cv, r.x, r.y, r.w, r.h, c->tmp, v->channels, v->height, v->width);
            cell_note(c, 2, MUTED, "x + drift + random");
        } else cell_empty(c, b, "done");
        draw_move(c, f, 3, 4);
    }
    if (P & DN_PANEL_NOISE) {
        dn_rect b = cell(c, 5, "cond \xe2\x88\x92 uncond", INK);
        long n = (long)v->channels * v->height * v->width;
        if (f->has_pred && f->guided) {
            for (long i = 0; i < n; i++) c->tmp[i] = f->eps_cond[i] - f->eps_uncond[i];
            float m = max_abs(c->tmp, n);
            if (!(m > 0)) m = 1;
            for (long i = 0; i < n; i++) c->tmp[i] /= m;
            dn_rect r = fit_zoom(b, v->width, v->height, NULL);
            dn_canvas_blit_float(c->cv, r.x, r.y, r.w, r.h, c->tmp, v->channels, v->height, v->width);
            char note[64];
            snprintf(note, sizeof note, "scale \xc2\xb1%.2g (G: more)", (double)m);
            cell_note(c, 5, MUTED, note);
        } else cell_empty(c, b, !f->has_pred ? "no prediction" : v->set.cond ? "w = 1:\nno guidance" : "conditioning off:\nno guidance");
    }
}

static void draw_numbers(ctx *c, const dn_run_frame *f) {
    const dn_view *v = c->v;
    const dn_view_settings *s = &v->set;
    dn_rect r = c->L.numbers;
    dn_font *m = &c->f->mono;
    int lh = S(c, 22), y = r.y, kx = r.x, vx = r.x + S(c, 108);
    char a[64], b[96];
#define ROW(key, color, ...)                                                                           \
    do {                                                                                               \
        text(c, m, kx, y, DN_ALIGN_LEFT, MUTED, "%s", key);                                            \
        text(c, m, vx, y, DN_ALIGN_LEFT, color, __VA_ARGS__);                                          \
        y += lh;                                                                                       \
    } while (0)
    int clean = f->alpha_bar >= 1.0f; /* a forward run's first frame, a reverse run's end */
    dn_render_t_label(v, f, b, sizeof b);
    ROW("t", clean ? INK : YELLOW, "%s", b);
    int ti = (int)lroundf(f->t);
    if (ti < 0) ti = 0;
    if (ti >= v->sched.T) ti = v->sched.T - 1;
    if (clean) ROW("beta_t", INK, "-");
    else {
        fmt_num(a, sizeof a, v->sched.betas[ti]);
        ROW("beta_t", INK, "%s", a);
    }
    fmt_num(a, sizeof a, f->alpha_bar);
    ROW("alpha-bar", INK, "%s", a);
    fmt_num(a, sizeof a, f->snr);
    ROW("SNR", INK, "%s", a);
    if (isinf(f->snr) || !(f->snr > 0)) snprintf(b, sizeof b, "%s", a);
    else snprintf(b, sizeof b, "%.3f", (double)logf(f->snr));
    ROW("log SNR", INK, "%s", b);
    y += S(c, 6);
    ROW("sampler", INK, "%s", dn_sampler_kind_name(s->sampler));
    ROW("steps", INK, "%d", s->steps);
    ROW("seed", INK, "%llu", (unsigned long long)s->seed);
    int guided_cfg = v->num_classes && s->cond;
    ROW("guidance", guided_cfg ? INK : MUTED, "w = %g%s", (double)s->cfg_scale, guided_cfg ? "" : " (off)");
    ROW("class", INK, "%s", v->num_classes ? dn_view_class_name(v, s->class_id) : "none");
    ROW("cond", s->cond ? INK : YELLOW, "%s", v->num_classes == 0 ? "n/a" : s->cond ? "on" : "OFF");
    ROW("model", INK, "%.14s", v->model_name[0] ? v->model_name : "none");
#undef ROW
}

static void draw_hist(ctx *c, const dn_run_frame *f) {
    const dn_view *v = c->v;
    dn_rect r = c->L.hist;
    text(c, &c->f->small, r.x, r.y, DN_ALIGN_LEFT, INK, "values of x_t vs N(0,1)");
    dn_rect p = {r.x, r.y + S(c, 22), r.w, r.h - S(c, 42)};
    dn_canvas_fill_rect(c->cv, p.x, p.y, p.w, p.h, PANEL);
    enum { NB = 48 };
    const float lo = -4, hi = 4, bw = (hi - lo) / NB;
    long cnt[NB] = {0};
    long n = (long)v->channels * v->height * v->width;
    const float *xs = shown_x(v, f, c->tmp);
    for (long i = 0; i < n; i++) {
        float x = xs[i];
        if (!(x >= lo && x < hi)) continue;
        int b = (int)((x - lo) / bw);
        if (b >= 0 && b < NB) cnt[b]++;
    }
    const float ymax = 0.8f; /* density shown up to 0.8; taller bars are clipped (clean images) */
    for (int b = 0; b < NB; b++) {
        float d = (float)cnt[b] / ((float)n * bw);
        int bh = (int)lroundf(fminf(d / ymax, 1.0f) * (float)p.h);
        int x0 = p.x + b * p.w / NB, x1 = p.x + (b + 1) * p.w / NB;
        dn_canvas_fill_rect(c->cv, x0, p.y + p.h - bh, x1 - x0 - 1 > 0 ? x1 - x0 - 1 : 1, bh,
                            v->set.mode == DN_RUN_FORWARD ? ORANGE : CYAN);
    }
    int th = S(c, 2) < 1 ? 1 : S(c, 2);
    for (int x = 0; x < p.w; x++) {
        float z = lo + (hi - lo) * ((float)x + 0.5f) / (float)p.w;
        float d = expf(-0.5f * z * z) / sqrtf(2 * 3.14159265f);
        int y = p.y + p.h - (int)lroundf(d / ymax * (float)p.h);
        dn_canvas_fill_rect(c->cv, p.x + x, y - th / 2, 1, th, YELLOW);
    }
    int ly = p.y + p.h + S(c, 2);
    text(c, &c->f->small, p.x, ly, DN_ALIGN_LEFT, MUTED, "-4");
    text(c, &c->f->small, p.x + p.w / 2, ly, DN_ALIGN_CENTER, MUTED, "0");
    text(c, &c->f->small, p.x + p.w, ly, DN_ALIGN_RIGHT, MUTED, "4");
}

static void draw_timeline(ctx *c, const dn_run_frame *f) {
    const dn_view *v = c->v;
    const dn_sched *sc = &v->sched;
    int T = sc->T;
    dn_rect r = c->L.timeline, p = c->L.plot;
    text(c, &c->f->small, r.x, r.y, DN_ALIGN_LEFT, INK, "timeline: t = %d (pure noise)  \xe2\x86\x92  0 (clean)", T - 1);
    int lx = r.x + r.w;
    text(c, &c->f->small, lx, r.y, DN_ALIGN_RIGHT, DN_RGB(255, 183, 77), "log SNR (-12 .. 12)");
    int w2 = text_width(&c->f->small, "log SNR (-12 .. 12)");
    text(c, &c->f->small, lx - w2 - S(c, 24), r.y, DN_ALIGN_RIGHT, CYAN, "alpha-bar (0 .. 1)");
    dn_canvas_fill_rect(c->cv, p.x, p.y, p.w, p.h, PANEL);
    /* img2img: the part of the schedule the run denoises, shaded */
    if (v->set.mode == DN_RUN_REVERSE && v->set.start > 0) {
        float t0 = dn_run_t(v->run, 0);
        int x0 = t_to_x(&p, T, t0);
        dn_canvas_fill_rect(c->cv, x0, p.y, p.x + p.w - x0, p.h, DN_RGB(30, 60, 50));
        char lab[48];
        snprintf(lab, sizeof lab, "img2img strength %.2f", (double)(v->set.steps - v->set.start) / v->set.steps);
        int lw = text_width(&c->f->small, lab), lxs = x0 + S(c, 6);
        if (lxs + lw > p.x + p.w - S(c, 6)) lxs = p.x + p.w - S(c, 6) - lw; /* never cut at the right edge */
        text(c, &c->f->small, lxs, p.y + S(c, 2), DN_ALIGN_LEFT, DN_RGB(130, 230, 160), "%s", lab);
    }
    /* the run's timesteps as ticks */
    int n = dn_view_frames(v);
    if (n <= 260)
        for (int k = 0; k < n; k++) {
            int x = t_to_x(&p, T, dn_run_t(v->run, k));
            dn_canvas_fill_rect(c->cv, x, p.y + p.h - S(c, 12), S(c, 2) < 1 ? 1 : S(c, 2), S(c, 12), MUTED);
        }
    /* curves: one point per pixel column, joined by vertical runs */
    int th = S(c, 3) < 2 ? 2 : S(c, 3);
    int pa = -1, ps = -1;
    for (int x = 0; x < p.w; x++) {
        float t = (1.0f - (float)x / (float)(p.w - 1)) * (float)(T - 1);
        int ti = (int)lroundf(t);
        float ab = sc->alphas_cumprod[ti];
        float ls = logf(sc->snr[ti]);
        if (ls < -12) ls = -12;
        if (ls > 12) ls = 12;
        int ya = p.y + (int)lroundf((1.0f - ab) * (float)(p.h - th));
        int ys = p.y + (int)lroundf((12.0f - ls) / 24.0f * (float)(p.h - th));
        int a0 = pa < 0 ? ya : (pa < ya ? pa : ya), a1 = pa < 0 ? ya : (pa > ya ? pa : ya);
        int s0 = ps < 0 ? ys : (ps < ys ? ps : ys), s1 = ps < 0 ? ys : (ps > ys ? ps : ys);
        dn_canvas_fill_rect(c->cv, p.x + x, s0, 1, s1 - s0 + th, DN_RGB(255, 183, 77));
        dn_canvas_fill_rect(c->cv, p.x + x, a0, 1, a1 - a0 + th, CYAN);
        pa = ya, ps = ys;
    }
    /* cursor: at the frame shown (while a run catches up, the step it is computing gets a thin
     * yellow mark), so the timeline never contradicts the picture */
    float tc = f ? f->t : dn_run_t(v->run, c->k);
    int cx = t_to_x(&p, T, tc), cw = S(c, 3) < 2 ? 2 : S(c, 3);
    if (f && f->k != c->k) {
        int tx = t_to_x(&p, T, dn_run_t(v->run, c->k));
        dn_canvas_fill_rect(c->cv, tx, p.y, 1, p.h, YELLOW);
    }
    dn_canvas_fill_rect(c->cv, cx - cw / 2, p.y - S(c, 4), cw, p.h + S(c, 8), INK);
    /* axis labels */
    int ly = p.y + p.h + S(c, 4);
    for (int i = 0; i <= 4; i++) {
        int t = (T - 1) - i * (T - 1) / 4;
        int x = t_to_x(&p, T, (float)t);
        dn_align al = i == 0 ? DN_ALIGN_LEFT : i == 4 ? DN_ALIGN_RIGHT : DN_ALIGN_CENTER;
        text(c, &c->f->small, x, ly, al, MUTED, "%d", t);
    }
}

/* Word-wrap `s` into lines of at most width pixels; draws up to max_lines lines from y. */
static int draw_wrapped(ctx *c, dn_font *font, int x, int y, int width, uint32_t color, const char *s, int max_lines) {
    char line[512];
    int lines = 0;
    while (*s && lines < max_lines) {
        size_t best = 0, i = 0;
        while (s[i] == ' ') s++;
        for (i = 0; s[i] && s[i] != '\n' && i < sizeof line - 1; i++) {
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
        text(c, font, x, y, DN_ALIGN_LEFT, color, "%s", line);
        y += font->height;
        lines++;
        s += best;
        if (*s == '\n') s++;
    }
    return y;
}

static void draw_caption(ctx *c, const dn_run_frame *f) {
    const dn_view *v = c->v;
    dn_rect r = c->L.caption;
    int y = r.y;
    if (c->message[0]) {
        text(c, &c->f->body, r.x, y, DN_ALIGN_LEFT, YELLOW, "%s", c->message);
        y += c->f->body.height;
    }
    char buf[512];
    const char *cap = v->set.caption;
    int K = dn_view_frames(v) - 1;
    if (!cap[0]) {
        if (v->set.mode == DN_RUN_FORWARD) {
            if (f->k == 0)
                snprintf(buf, sizeof buf, "The clean image x_0. Each step pulls every value toward 0 (drift) and adds "
                                          "fresh Gaussian noise (random motion). Press Right.");
            else
                snprintf(buf, sizeof buf, "x_t = \xe2\x88\x9a" "alpha-bar \xc2\xb7 x_0 + \xe2\x88\x9a(1 \xe2\x88\x92 alpha-bar) \xc2\xb7 \xce\xb5:  "
                                          "%.0f%% of the signal's amplitude is left, noise amplitude %.0f%%.",
                         (double)(100 * sqrtf(f->alpha_bar)), (double)(100 * sqrtf(1 - f->alpha_bar)));
        } else if (f->k == 0 && v->set.start > 0) {
            snprintf(buf, sizeof buf, "img2img: the photo noised to t = %g (strength %.2f). The model denoises it from "
                                      "here, so the result keeps the photo's layout.", (double)f->t,
                     (double)(v->set.steps - v->set.start) / v->set.steps);
        } else if (f->k >= K) {
            snprintf(buf, sizeof buf, "Done: the sample after %d steps of %s. Left goes back through the same steps.", K,
                     dn_sampler_kind_name(v->set.sampler));
        } else {
            snprintf(buf, sizeof buf, "The U-Net predicts the noise in x_t; %s removes part of it: next x = x_t + drift + random.",
                     dn_sampler_kind_name(v->set.sampler));
        }
        cap = buf;
    }
    draw_wrapped(c, &c->f->body, r.x, y, r.w, INK, cap, c->message[0] ? 2 : 3);
}

static void draw_help(ctx *c) {
    dn_canvas *cv = c->cv;
    int w = S(c, 900), h = S(c, 620);
    int x = (cv->w - w) / 2, y = (cv->h - h) / 2;
    uint32_t *shade = malloc(sizeof(uint32_t) * (size_t)w * (size_t)h);
    if (shade) {
        for (long i = 0; i < (long)w * h; i++) shade[i] = DN_ARGB(235, 8, 10, 14);
        dn_canvas_blend(cv, x, y, shade, w, h, w);
        free(shade);
    }
    dn_canvas_rect(cv, x, y, w, h, S(c, 2) < 1 ? 1 : S(c, 2), YELLOW);
    text(c, &c->f->title, x + S(c, 24), y + S(c, 14), DN_ALIGN_LEFT, YELLOW, "Keys");
    text(c, &c->f->small, x + w - S(c, 24), y + S(c, 20), DN_ALIGN_RIGHT, MUTED, "H or F1 closes this help");
    int ly = y + S(c, 58), lh = c->f->body.height + S(c, 2);
    for (int i = 0; dn_view_help[i].keys; i++) {
        text(c, &c->f->body, x + S(c, 24), ly, DN_ALIGN_LEFT, YELLOW, "%s", dn_view_help[i].keys);
        text(c, &c->f->body, x + S(c, 280), ly, DN_ALIGN_LEFT, INK, "%s", dn_view_help[i].what);
        ly += lh;
    }
}

/* The view's picture (a lesson's chart) in place of the small panels: scaled to fit by averaging
 * the source pixels under each screen pixel, centred on a white card. */
static void draw_picture(ctx *c) {
    const dn_view *v = c->v;
    dn_rect a = c->L.cells[0], b = c->L.cells[5];
    int x0 = a.x, y0 = a.y, w = b.x + b.w - a.x, h = b.y + b.h - a.y;
    dn_canvas_fill_rect(c->cv, x0, y0, w, h, BG);
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

/* The view at cursor k, with or without the help overlay and the play mark, with this message. */
static int render_at(dn_canvas *cv, const dn_view *v, dn_render_fonts *f, int k, int help, int playing,
                     const char *message) {
    ctx c;
    memset(&c, 0, sizeof c);
    c.cv = cv, c.f = f, c.v = v;
    c.k = k, c.help = help, c.playing = playing, c.message = message;
    dn_render_layout(&c.L, cv->w, cv->h, v->width, v->height);
    dn_canvas_clear(cv, BG);
    c.tmp = malloc(sizeof(float) * (size_t)v->channels * v->height * v->width);
    if (!c.tmp) return dn_fail("out of memory drawing a frame");
    int shown = 0;
    const dn_run_frame *fr = dn_view_frame_at(v, k, &shown);
    draw_header(&c, fr, shown);
    if (!fr) {
        text(&c, &f->title, cv->w / 2, cv->h / 2, DN_ALIGN_CENTER, YELLOW, "computing the first frame\xe2\x80\xa6");
    } else {
        draw_big(&c, fr);
        draw_cells(&c, fr);
        if (v->pic) draw_picture(&c);
        if (v->set.panels & DN_PANEL_NUMBERS) draw_numbers(&c, fr);
        if (v->set.panels & DN_PANEL_HIST) draw_hist(&c, fr);
        if (v->set.panels & DN_PANEL_TIMELINE) draw_timeline(&c, fr);
        draw_caption(&c, fr);
    }
    if (c.help) draw_help(&c);
    free(c.tmp);
    return c.failed ? -1 : 0;
}

int dn_render(dn_canvas *cv, const dn_view *v, dn_render_fonts *f) {
    return render_at(cv, v, f, v->k, v->help, v->playing, v->message);
}

int dn_render_timeline_pick(const dn_view *v, int w, int h, int x, int y) {
    dn_layout L;
    dn_render_layout(&L, w, h, v->width, v->height);
    dn_rect p = L.plot;
    int slack = (int)lroundf(12 * L.s);
    if (x < p.x - slack || x > p.x + p.w + slack || y < L.timeline.y || y > L.timeline.y + L.timeline.h) return -1;
    int n = dn_view_frames(v), best = -1;
    float bd = 0;
    for (int k = 0; k < n; k++) {
        float d = fabsf((float)(t_to_x(&p, v->sched.T, dn_run_t(v->run, k)) - x));
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
    if (dn_make_dir(dir) < 0 || dn_canvas_init(&ex->cv, w, h, BG) < 0 || dn_render_fonts_fit(&ex->fonts, w, h) < 0)
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
        memcpy(sheet + (long)i * plane, f->x, sizeof(float) * (size_t)plane);
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
    const dn_run_frame *f = wait ? dn_run_frame_wait(v->run, k) : dn_run_frame_get(v->run, k);
    if (!f) {
        if (!wait && !dn_run_failed(v->run)) return 2; /* not computed yet */
        dn_fail_context("frame %d of the run could not be computed", k);
        return -1;
    }
    /* the frame as the screen shows it at cursor k, without help or play mark: a slide is the
     * screen, pixel for pixel */
    if (render_at(&ex->cv, v, &ex->fonts, k, 0, 0, ex->message) < 0) return -1;
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
