/* lesson.h — ready-to-teach lessons: plain text files a teacher can read and edit (format in
 * lessons/README.md). A lesson is a title and a list of slides; each slide is a viewer state
 * (view.h's dn_view_settings: mode, model, image, class, conditioning, guidance, sampler, steps,
 * seed, img2img start, panels), the range of steps it walks through, a caption and speaker notes.
 * A slide starts from the settings of the slide before it, so a lesson only writes what changes.
 *
 *   title: Forward diffusion
 *
 *   slide: A cat dissolves into noise
 *   mode: forward
 *   model: pets
 *   image: cat
 *   frames: 0-end
 *   caption: Each step adds a little Gaussian noise ...
 *     (indented lines continue the value above)
 *
 * No SDL here: parsing and checking only. Names of bundled things (model "pets", image "cat")
 * stay as written; dn_lesson_resolve turns them into paths. Errors name the file and line:
 * "lessons/1-forward.txt:12: unknown key 'colour' (known: mode, model, ...)". */
#ifndef DN_LESSON_H
#define DN_LESSON_H
#include "render.h"
#include "view.h"
#include <stddef.h>

#define DN_LESSON_MAX_SLIDES 64
#define DN_LESSON_MAX_BYTES (256 * 1024)

typedef struct {
    char title[128];          /* shown above the caption */
    dn_view_settings set;     /* the viewer state; set.caption is the caption */
    char class_name[32];      /* class by name ("cat", "Sneaker"); "" = class_id as set */
    int from, to;             /* frames shown: Right/Left walk from..to; to = -1 is the last frame */
    int play;                 /* start playing when the slide opens */
    char notes[1024];         /* speaker notes (not shown on the projector) */
    struct {                  /* compare: B = this slide's settings with these changes */
        int on;
        int has_sampler, has_steps, has_cfg, has_cond;
        dn_sampler_kind sampler;
        int steps, cond;
        float cfg;
        char class_name[32];  /* "" = A's class */
    } cmp;
    int line;                 /* where the slide starts in the file, for messages */
} dn_slide;

typedef struct {
    char title[128];
    char source[256];         /* file name, for messages */
    int n_slides;
    dn_slide *slides;         /* (n_slides) */
} dn_lesson;

/* Parse a lesson from text; `name` is used in messages. Returns 0, or -1 + dn_error()
 * ("NAME:LINE: what is wrong and what was expected"); on failure *l is zeroed. */
int dn_lesson_parse(dn_lesson *l, const char *text, size_t len, const char *name);
/* Read (at most DN_LESSON_MAX_BYTES) and parse a file. */
int dn_lesson_load(dn_lesson *l, const char *path);
void dn_lesson_free(dn_lesson *l); /* accepts NULL and a zeroed struct */

/* Turn names into paths: a model written without '/' or '.' is bundled, ROOT/assets/models/NAME.dfm
 * (ROOT = the folder holding assets/), an image likewise ROOT/assets/images/NAME.png; "none" means
 * no model. Other relative paths are relative to the lesson file's folder `dir` (NULL = as they
 * are). Returns 0, or -1 + dn_error() naming the slide's line when a path is too long. */
int dn_lesson_resolve(dn_lesson *l, const char *root, const char *dir);

/* ---- playing a lesson in a view (no display needed: the window and the exporter both use these) ---- */

/* Show slide i in v: its settings (the class looked up by name among the model's classes; an
 * unknown name is an error naming the lesson file and the slide's line), the caption headed by the
 * slide's title, the cursor on the slide's first frame. v is a zeroed view (started here) or a
 * running one (changed with dn_view_apply). Returns 0, or -1 + dn_error(). */
int dn_lesson_show(dn_view *v, const dn_lesson *l, int i);
/* The frames slide s walks through on v's current run, with "end" resolved and both clamped. */
void dn_lesson_range(const dn_view *v, const dn_slide *s, int *from, int *to);
/* Right (dir = +1) or Left (dir = -1): one step inside the slide, else on to the next slide (at its
 * first frame) or back to the previous one (at its last frame). PageDown/PageUp: dn_lesson_show
 * with *slide +- 1. Returns 1 if the view changed, 0 at the start or end of the lesson, -1 +
 * dn_error() if a slide could not be shown. */
int dn_lesson_step(dn_view *v, const dn_lesson *l, int *slide, int dir);

/* Headless slides, drawn with `look` (NULL: the presenter layout, dark) and no key hints:
 * DIR/slide_NN.png for every slide (a one-frame slide: that frame; a slide that walks through
 * several: a filmstrip of up to 6 of them side by side with t under each; with the caption, the
 * lesson and "slide N of M"; text chunks hold the lesson, the slide and its speaker notes),
 * DIR/slide_NN.gif for every slide that walks through more than one frame (at most gif_frames
 * frames, evenly spread), DIR/end.png (the lesson's outline: dn_lesson_render_end) and
 * DIR/contact.png with every slide drawn again at 960x540, two a row.
 * Creates DIR; every file is written atomically. Returns the number of slides written, or -1 +
 * dn_error(). progress (may be NULL) is called before each slide (slide 0-based, of n). */
/* The still picture of the slide on v (shown with dn_lesson_show) covering frames from..to, as
 * the export writes it: one frame, or a filmstrip of up to 6 (waits for them). log (may be NULL):
 * every string drawn, a line each. The fonts must fit cv. Returns 0, or -1 + dn_error(). */
int dn_lesson_render_slide(dn_canvas *cv, dn_view *v, dn_render_fonts *f, int from, int to, char *log,
                           size_t log_size);
/* The lesson's end slide: "The end" and the slides' titles as an outline of what it showed, in
 * the look given (NULL: presenter, dark). The fonts must fit cv. Returns 0, or -1 + dn_error(). */
int dn_lesson_render_end(dn_canvas *cv, dn_render_fonts *f, const dn_lesson *l, const dn_view_look *look);
typedef void (*dn_lesson_progress)(void *ctx, int slide, int n, const char *title);
int dn_lesson_export(const dn_lesson *l, const char *dir, int w, int h, int gif_frames, const dn_view_look *look,
                     dn_lesson_progress progress, void *ctx);

#endif
