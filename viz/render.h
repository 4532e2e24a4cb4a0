/* render.h — the one renderer: draws a whole viewer frame from a dn_view into a canvas. The SDL
 * window shows that canvas and the exporters write it, so a slide is pixel for pixel what was on
 * screen. No SDL here beyond the fonts (SDL2_ttf, no display needed), so tests render offscreen.
 *
 * Two layouts (view.h's dn_view.look): the dashboard (header, the big x_t, six small panels, the
 * numbers, a histogram of x_t against N(0,1), the timeline of alpha-bar and log SNR, a caption)
 * and the presenter layout for a projector (x_t large, the one to four panels that have something
 * to show, a short timeline, a line of numbers in words, large captions). Both are designed for
 * 1280x720 and scaled uniformly (s = min(w/1280, h/720)) and centred, so 1920x1080 is the same
 * picture 1.5x larger; images are scaled by whole numbers (crisp pixels) unless look.smooth.
 * A dark and a light theme. */
#ifndef DN_RENDER_H
#define DN_RENDER_H
#include "canvas.h"
#include "font.h"
#include "view.h"

typedef struct {
    int x, y, w, h;
} dn_rect;

/* Type sizes in design pixels (x 1.5 at 1080p): presenter labels and captions. */
#define DN_RENDER_LABEL_PX 17
#define DN_RENDER_CAPTION_PX 22

/* Where everything goes on a w x h canvas (computed, never stored in the view). */
typedef struct {
    float s;              /* design pixels -> canvas pixels */
    int presenter;        /* the presenter layout */
    dn_rect header;
    dn_rect big;          /* the x_t panel (label, image, note) */
    dn_rect big_img;      /* the x_t image itself: img_w * zoom wide, centred in big */
    int zoom;             /* canvas pixels per image pixel in big_img */
    dn_rect cells[6];     /* dashboard: 3 columns x 2 rows, each label + image + note; presenter:
                             placed when drawing, by how many panels have something to show */
    int n_cells;
    dn_rect cells_area;   /* where the panels (or a lesson's picture) go */
    dn_rect numbers, hist, timeline, plot, caption; /* plot: the timeline's curve area; hist: 0 in
                                                       the presenter layout (it has none) */
    dn_rect strip;        /* a filmstrip's area */
} dn_layout;

/* The layout of v (its look and image size) on a w x h canvas. */
void dn_render_layout(dn_layout *L, const dn_view *v, int w, int h);

/* Fonts sized for a canvas: opened for the scale of w x h, reopened by dn_render_fonts_fit when the
 * scale changes (window resized). */
typedef struct {
    dn_font title, body, small, mono, label, caption, caption_bold;
    float s; /* the scale they were opened for; 0 = not open */
} dn_render_fonts;

/* Open the system font (fontconfig; DIFFUSE_FONT overrides) at the sizes for a w x h canvas.
 * Returns 0, or -1 + dn_error naming the font problem (install fonts-dejavu-core). */
int dn_render_fonts_fit(dn_render_fonts *f, int w, int h);
void dn_render_fonts_close(dn_render_fonts *f); /* accepts NULL and a zeroed struct */

/* Draw the whole frame as the screen shows it. The fonts must fit the canvas
 * (dn_render_fonts_fit). Returns 0, or -1 + dn_error (text error). Never blocks: a frame not
 * computed yet is drawn as the last ready one with a "computing" note. */
int dn_render(dn_canvas *cv, const dn_view *v, dn_render_fonts *f);

/* What a picture shows besides the view's settings: dn_render uses the view's own (cursor, help,
 * play mark, message); a slide is drawn at another cursor, without key hints, or as a filmstrip. */
typedef struct {
    int k;                /* the cursor */
    int help, playing;    /* the help overlay, the play mark */
    const char *message;  /* the notice line; NULL or "" = none */
    int exporting;        /* a slide or exported frame: no key hints */
    const int *strip;     /* n_strip >= 2: these frames side by side (a filmstrip, t under each)
                             instead of x_t and the panels */
    int n_strip;
    char *log;            /* if not NULL: every string drawn, a line each (for tests) */
    size_t log_size;
} dn_render_opts;
void dn_render_opts_screen(dn_render_opts *o, const dn_view *v); /* the view's own */
int dn_render_with(dn_canvas *cv, const dn_view *v, dn_render_fonts *f, const dn_render_opts *o);

/* A plain slide in the look of the viewer (theme, type sizes): a header with `title`, a heading,
 * a bulleted list of items (wrapped, as many as fit) and a footer line; the end slide of a lesson.
 * The fonts must fit cv. Returns 0, or -1 + dn_error. */
int dn_render_outline(dn_canvas *cv, dn_render_fonts *f, const dn_view_look *look, const char *title,
                      const char *heading, const char *const *items, int n, const char *footer);

/* The step explained in words, the caption when a slide has none: forward, how much of the
 * picture is left; reverse, what the step removed and how much fresh noise it added (and why DDIM,
 * Euler and DPM-Solver++ add none); img2img's start and the end. */
void dn_render_step_text(const dn_view *v, const dn_run_frame *f, char *buf, size_t size);


/* Mouse: the frame under canvas point (x, y) on the timeline (nearest timestep; ties go to the
 * frame nearest the cursor), or -1 if the point is not on the timeline. */
int dn_render_timeline_pick(const dn_view *v, int w, int h, int x, int y);

/* The t of a frame in words: "780 of 1000"; "0 (beta_0 noise)" for t = 0, which still has
 * beta_0's noise; "clean, no noise" for the clean frames of a forward run's start and a reverse
 * run's end (two frames used to read t = 0). */
void dn_render_t_label(const dn_view *v, const dn_run_frame *f, char *buf, size_t size);

/* The header's sentence for the view's settings: "noising cat.png", "denoising pure noise into an
 * Ankle boot", "... guidance 0 ignores the class (unconditional)", "img2img: denoising cat.png
 * from t = 590 (20 of 50 steps of noise)" (as many as the forward run had put in). */
void dn_render_headline(const dn_view *v, char *buf, size_t size);

/* Exporter: render frames first..last of the view's run (waiting for each) at w x h into DIR as
 * frame_%03d.png (each with tEXt chunks: the settings and `command`), contact.png (the x_t of up to
 * 10 frames spread over the run, labelled) and run.gif (delay_cs per frame). v is not changed
 * (each frame is drawn as the screen would show it at that cursor). Creates DIR. Every file is written atomically. Returns the number of frames
 * written, or -1 + dn_error. */
int dn_render_export(const dn_view *v, const char *dir, int w, int h, const char *command, int delay_cs);

/* The same export a file at a time, so a window stays live while it runs (the viewer's E):
 *   dn_export *ex = dn_export_begin(v, dir, w, h, command, delay_cs);  // NULL + dn_error
 *   while ((rc = dn_export_step(ex, v, 0)) > 0) { ...draw the progress, handle events... }
 *   dn_export_free(ex);                                                  // rc 0 done, -1 failed
 * begin keeps v's message, so every slide shows what the screen showed when the export began
 * (the window can show progress meanwhile). step writes the next frame, drawn as the screen shows
 * it at that cursor (v is not changed); with wait = 0 it returns 2 at once when that frame is not computed
 * yet, else 1 after a frame, 0 after the last (with contact.png and run.gif), -1 + dn_error on
 * failure. The run of v must not change between the calls. Cancelling = freeing early: the
 * frames written so far stay (each file is complete), the contact sheet and the GIF are not written. */
typedef struct dn_export dn_export;
dn_export *dn_export_begin(const dn_view *v, const char *dir, int w, int h, const char *command, int delay_cs);
int dn_export_step(dn_export *ex, const dn_view *v, int wait);
void dn_export_progress(const dn_export *ex, int *done, int *total); /* frames written, to write */
void dn_export_free(dn_export *ex); /* accepts NULL */

#endif
