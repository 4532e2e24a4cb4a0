/* lesson_play.c — a lesson in a view: showing slides, Right/Left across slide boundaries, and the
 * headless slide export (lesson.h). The parser is lesson.c, kept apart so it can be fuzzed alone. */
#include "lesson.h"
#include "base/err.h"
#include "base/fileio.h"
#include "gif.h"
#include "render.h"
#include "sheet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- playing ------------------------------------------------------------------------------------ */

void dn_lesson_range(const dn_view *v, const dn_slide *s, int *from, int *to) {
    int last = dn_view_frames(v) - 1;
    int a = s->from < 0 || s->from > last ? last : s->from;
    int b = s->to < 0 || s->to > last ? last : s->to;
    if (b < a) b = a;
    *from = a, *to = b;
}

int dn_lesson_show(dn_view *v, const dn_lesson *l, int i) {
    if (i < 0 || i >= l->n_slides) return dn_fail("%s: no slide %d (it has %d)", l->source, i + 1, l->n_slides);
    const dn_slide *s = &l->slides[i];
    dn_view_settings set = s->set;
    /* the caption area shows "Title. Caption" */
    char cap[sizeof s->title + sizeof set.caption + 2]; /* fits: the parser checked the sum */
    size_t tl = strlen(s->title);
    int stop = tl && strchr("?!.:", s->title[tl - 1]); /* "Cat or dog? After ...", not "dog?: After" */
    snprintf(cap, sizeof cap, "%s%s%s", s->title, s->set.caption[0] ? (stop ? " " : ": ") : "", s->set.caption);
    snprintf(set.caption, sizeof set.caption, "%.*s", (int)sizeof set.caption - 1, cap);
    /* compare: B from this slide's settings (its class by name once the model is loaded, below) */
    set.cmp.on = s->cmp.on;
    set.cmp.sampler = s->cmp.has_sampler ? s->cmp.sampler : set.sampler;
    set.cmp.steps = s->cmp.has_steps ? s->cmp.steps : set.steps;
    set.cmp.cfg_scale = s->cmp.has_cfg ? s->cmp.cfg : set.cfg_scale;
    set.cmp.cond = s->cmp.has_cond ? s->cmp.cond : set.cond;
    set.cmp.class_id = set.class_id;
    int fresh = !v->run;
    int rc = fresh ? dn_view_init(v, &set) : dn_view_apply(v, &set);
    if (rc < 0) return dn_fail_context("%s:%d: slide %d", l->source, s->line, i + 1);
    if (fresh) v->look.layout = DN_LAYOUT_PRESENTER; /* a lesson is shown to a room */
    snprintf(v->deck, sizeof v->deck, "%s", l->title);
    v->slide = i + 1, v->slides = l->n_slides;
    if (s->class_name[0]) {
        if (!v->num_classes)
            return dn_fail("%s:%d: class '%s', but the model has no classes", l->source, s->line, s->class_name);
        int id = dn_model_class_id(&v->meta, v->num_classes, s->class_name);
        if (id < 0) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s", dn_error());
            return dn_fail("%s:%d: the model %s", l->source, s->line, msg);
        }
        if (id != v->set.class_id) {
            set.class_id = id;
            if (!s->cmp.class_name[0]) set.cmp.class_id = id;
            if (dn_view_apply(v, &set) < 0) return dn_fail_context("%s:%d: slide %d", l->source, s->line, i + 1);
        }
    }
    if (s->cmp.on && s->cmp.class_name[0]) {
        int id = v->num_classes ? dn_model_class_id(&v->meta, v->num_classes, s->cmp.class_name) : -1;
        if (id < 0) return dn_fail("%s:%d: compare: the model knows no class '%s'", l->source, s->line, s->cmp.class_name);
        set = v->set;
        set.cmp.class_id = id, set.cmp.cond = 1;
        if (dn_view_apply(v, &set) < 0) return dn_fail_context("%s:%d: slide %d", l->source, s->line, i + 1);
    }
    if (s->cmp.on && v->set.mode != DN_RUN_REVERSE)
        return dn_fail("%s:%d: compare is for reverse slides (mode: reverse)", l->source, s->line);
    int from, to;
    dn_lesson_range(v, s, &from, &to);
    dn_view_act(v, (dn_action){DN_ACT_SCRUB_TO, from});
    v->playing = s->play;
    return 0;
}

int dn_lesson_step(dn_view *v, const dn_lesson *l, int *slide, int dir) {
    const dn_slide *s = &l->slides[*slide];
    int from, to;
    dn_lesson_range(v, s, &from, &to);
    if (dir > 0 && v->k < to) return dn_view_act(v, DN_ACT(DN_ACT_STEP_NEXT)) >= 0 ? 1 : -1;
    if (dir < 0 && v->k > from) return dn_view_act(v, DN_ACT(DN_ACT_STEP_PREV)) >= 0 ? 1 : -1;
    int next = *slide + (dir > 0 ? 1 : -1);
    if (next < 0 || next >= l->n_slides) return 0;
    if (dn_lesson_show(v, l, next) < 0) return -1;
    *slide = next;
    if (dir < 0) { /* arriving backwards: at the end of the slide */
        dn_lesson_range(v, &l->slides[next], &from, &to);
        dn_view_act(v, (dn_action){DN_ACT_SCRUB_TO, to});
        v->playing = 0;
    }
    return 1;
}

/* ---- headless export ---------------------------------------------------------------------------- */

/* A canvas as planar floats in [-1, 1] (3, h, w), for the contact sheet. */
static void canvas_planes(float *out, const dn_canvas *cv) {
    long plane = (long)cv->w * cv->h;
    for (long i = 0; i < plane; i++) {
        uint32_t p = cv->px[i];
        out[i] = (float)((p >> 16) & 255) / 127.5f - 1.0f;
        out[plane + i] = (float)((p >> 8) & 255) / 127.5f - 1.0f;
        out[2 * plane + i] = (float)(p & 255) / 127.5f - 1.0f;
    }
}

/* The frames a slide's filmstrip shows: up to 6, evenly spread over from..to, both ends included. */
static int strip_frames(int from, int to, int *ks) {
    int n = to - from + 1, m = n < 6 ? n : 6;
    for (int j = 0; j < m; j++) ks[j] = from + (int)((long)j * (n - 1) / (m > 1 ? m - 1 : 1));
    return m;
}

int dn_lesson_render_slide(dn_canvas *cv, dn_view *v, dn_render_fonts *f, int from, int to, char *log,
                           size_t log_size) {
    int ks[6], m = strip_frames(from, to, ks);
    /* the whole run (and B's): the drift and random panels use the run's scale */
    if (!dn_run_frame_wait(v->run, dn_view_frames(v) - 1)) return dn_fail("the slide's run could not be computed");
    if (v->cmp_run && !dn_run_frame_wait(v->cmp_run, dn_run_frames(v->cmp_run) - 1))
        return dn_fail("the compared run could not be computed");
    for (int j = 0; j < m; j++)
        if (!dn_run_frame_wait(v->run, ks[j])) return dn_fail("frame %d could not be computed", ks[j]);
    if (v->cmp_run && !dn_run_frame_wait(v->cmp_run, dn_view_compare_k(v, to)))
        return dn_fail("frame %d of the compared run could not be computed", dn_view_compare_k(v, to));
    /* compare slides show both runs at the slide's last frame (a strip would show one of them) */
    int strip = m > 1 && !v->set.cmp.on;
    dn_render_opts o = {.k = to, .exporting = 1, .strip = ks, .n_strip = strip ? m : 0, .log = log, .log_size = log_size};
    return dn_render_with(cv, v, f, &o);
}

int dn_lesson_render_end(dn_canvas *cv, dn_render_fonts *f, const dn_lesson *l, const dn_view_look *look) {
    dn_view_look dflt = {DN_LAYOUT_PRESENTER, DN_THEME_DARK, 0};
    const char *items[DN_LESSON_MAX_SLIDES];
    for (int i = 0; i < l->n_slides; i++) items[i] = l->slides[i].title;
    char footer[200];
    snprintf(footer, sizeof footer, "%s   \xc2\xb7   the end (%d slides)", l->title, l->n_slides);
    return dn_render_outline(cv, f, look ? look : &dflt, l->title, "The end. What we saw:", items, l->n_slides, footer);
}

int dn_lesson_export(const dn_lesson *l, const char *dir, int w, int h, int gif_frames, const dn_view_look *look,
                     dn_lesson_progress progress, void *ctx) {
    enum { TW = 960, TH = 540 }; /* contact sheet: each slide drawn again at this size (text stays readable) */
    dn_view v;
    memset(&v, 0, sizeof v);
    dn_render_fonts fonts = {0}, tfonts = {0};
    dn_canvas cv = {0}, tcv = {0};
    unsigned char *rgb = NULL;
    float *thumbs = NULL;
    char (*caps)[200] = NULL;
    const char **cp = NULL;
    int written = -1;
    long tplane = 3L * TW * TH;
    char path[4200], title[300], slide_no[16], range[64];
    if (gif_frames < 2) gif_frames = 2;
    if (dn_make_dir(dir) < 0 || dn_canvas_init(&cv, w, h, 0xff000000u) < 0 || dn_render_fonts_fit(&fonts, w, h) < 0 ||
        dn_canvas_init(&tcv, TW, TH, 0xff000000u) < 0 || dn_render_fonts_fit(&tfonts, TW, TH) < 0)
        goto done;
    rgb = malloc((size_t)w * (size_t)h * 3);
    thumbs = malloc(sizeof(float) * (size_t)tplane * (size_t)l->n_slides);
    caps = calloc((size_t)l->n_slides, sizeof *caps);
    cp = calloc((size_t)l->n_slides, sizeof *cp);
    if (!rgb || !thumbs || !caps || !cp) {
        dn_fail("out of memory exporting %d slides at %dx%d", l->n_slides, w, h);
        goto done;
    }
    for (int i = 0; i < l->n_slides; i++) {
        const dn_slide *s = &l->slides[i];
        if (progress) progress(ctx, i, l->n_slides, s->title);
        if (dn_lesson_show(&v, l, i) < 0) goto done;
        if (look) v.look = *look;
        v.playing = 0;
        v.message[0] = '\0'; /* a slide shows the lesson, not the viewer's notices */
        int from, to;
        dn_lesson_range(&v, s, &from, &to);
        snprintf(slide_no, sizeof slide_no, "%d", i + 1);
        snprintf(range, sizeof range, "%d-%d", from, to);
        snprintf(title, sizeof title, "%s, slide %d of %d: %s", l->title, i + 1, l->n_slides, s->title);
        dn_png_text txt[] = {{"Software", "diffuse " DN_VERSION}, {"Title", title}, {"diffuse-lesson", l->source},
                             {"diffuse-slide", slide_no}, {"diffuse-frames", range}, {"diffuse-notes", s->notes}};
        int ntxt = s->notes[0] ? 6 : 5;
        if (!dn_run_frame_wait(v.run, dn_view_frames(&v) - 1)) { /* the whole run: one drift scale */
            dn_fail("%s: slide %d: its run could not be computed", l->source, i + 1);
            goto done;
        }
        if (to > from) { /* an animated slide: a GIF of its frames, as the screen plays them */
            dn_gif gif;
            if (dn_gif_begin(&gif, w, h, NULL) < 0) goto done;
            int n = to - from + 1, count = n < gif_frames ? n : gif_frames;
            for (int j = 0; j < count; j++) {
                int k = from + (int)((long)j * (n - 1) / (count - 1));
                dn_render_opts o = {.k = k, .exporting = 1};
                if (!dn_run_frame_wait(v.run, k)) {
                    dn_fail("%s: slide %d: frame %d could not be computed", l->source, i + 1, k);
                    dn_gif_free(&gif);
                    goto done;
                }
                if (v.cmp_run) dn_run_frame_wait(v.cmp_run, dn_view_compare_k(&v, k));
                if (dn_render_with(&cv, &v, &fonts, &o) < 0 || dn_gif_add(&gif, &cv, j == count - 1 ? 250 : 12) < 0) {
                    dn_gif_free(&gif);
                    goto done;
                }
            }
            snprintf(path, sizeof path, "%s/slide_%02d.gif", dir, i + 1);
            if (dn_gif_end(&gif, path) < 0) goto done;
        }
        dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, to});
        if (dn_lesson_render_slide(&cv, &v, &fonts, from, to, NULL, 0) < 0) {
            dn_fail_context("%s: slide %d", l->source, i + 1);
            goto done;
        }
        dn_canvas_to_rgb(&cv, rgb);
        snprintf(path, sizeof path, "%s/slide_%02d.png", dir, i + 1);
        if (dn_png_write(path, rgb, w, h, 3, txt, ntxt) < 0) goto done;
        if (dn_lesson_render_slide(&tcv, &v, &tfonts, from, to, NULL, 0) < 0) goto done;
        canvas_planes(thumbs + (long)i * tplane, &tcv);
        snprintf(caps[i], sizeof caps[i], "slide %d of %d\n%.150s", i + 1, l->n_slides, s->title);
        cp[i] = caps[i];
    }
    /* the end slide: the outline of what the lesson showed */
    if (dn_lesson_render_end(&cv, &fonts, l, look) < 0) goto done;
    dn_canvas_to_rgb(&cv, rgb);
    snprintf(path, sizeof path, "%s/end.png", dir);
    {
        dn_png_text etxt[] = {{"Software", "diffuse " DN_VERSION}, {"Title", l->title}, {"diffuse-lesson", l->source}};
        if (dn_png_write(path, rgb, w, h, 3, etxt, 3) < 0) goto done;
    }
    snprintf(path, sizeof path, "%s/contact.png", dir);
    dn_png_text stxt[] = {{"Software", "diffuse " DN_VERSION}, {"Title", l->title}, {"diffuse-lesson", l->source}};
    if (dn_sheet_save(path, thumbs, l->n_slides, 3, TH, TW, cp, l->title, l->n_slides < 2 ? 1 : 2, 1, stxt, 3) < 0)
        goto done;
    written = l->n_slides;
done:
    dn_view_free(&v);
    dn_render_fonts_close(&fonts);
    dn_render_fonts_close(&tfonts);
    dn_canvas_free(&cv);
    dn_canvas_free(&tcv);
    free(rgb), free(thumbs), free(caps), free(cp);
    return written;
}
