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
    snprintf(cap, sizeof cap, "%s%s%s", s->title, s->set.caption[0] ? ": " : "", s->set.caption);
    snprintf(set.caption, sizeof set.caption, "%.*s", (int)sizeof set.caption - 1, cap);
    int rc = v->run ? dn_view_apply(v, &set) : dn_view_init(v, &set);
    if (rc < 0) return dn_fail_context("%s:%d: slide %d", l->source, s->line, i + 1);
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
            if (dn_view_apply(v, &set) < 0) return dn_fail_context("%s:%d: slide %d", l->source, s->line, i + 1);
        }
    }
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

/* A canvas shrunk by an integer factor (box filter) into planar floats in [-1, 1], for the
 * contact sheet. out: (3, h / f, w / f). */
static void canvas_thumb(float *out, const dn_canvas *cv, int f) {
    int tw = cv->w / f, th = cv->h / f;
    long plane = (long)tw * th;
    for (int y = 0; y < th; y++)
        for (int x = 0; x < tw; x++) {
            unsigned sum[3] = {0, 0, 0};
            for (int dy = 0; dy < f; dy++)
                for (int dx = 0; dx < f; dx++) {
                    uint32_t p = cv->px[(long)(y * f + dy) * cv->w + x * f + dx];
                    sum[0] += (p >> 16) & 255, sum[1] += (p >> 8) & 255, sum[2] += p & 255;
                }
            for (int c = 0; c < 3; c++)
                out[c * plane + (long)y * tw + x] = (float)sum[c] / (float)(f * f) / 127.5f - 1.0f;
        }
}

int dn_lesson_export(const dn_lesson *l, const char *dir, int w, int h, int gif_frames, dn_lesson_progress progress,
                     void *ctx) {
    enum { THUMB = 4 };
    dn_view v;
    memset(&v, 0, sizeof v);
    dn_render_fonts fonts = {0};
    dn_canvas cv = {0};
    unsigned char *rgb = NULL;
    float *thumbs = NULL;
    char (*caps)[160] = NULL;
    const char **cp = NULL;
    int written = -1, tw = w / THUMB, th = h / THUMB;
    long tplane = 3L * tw * th;
    char path[4200], title[300], slide_no[16], range[64];
    if (gif_frames < 2) gif_frames = 2;
    if (dn_make_dir(dir) < 0 || dn_canvas_init(&cv, w, h, 0xff000000u) < 0 || dn_render_fonts_fit(&fonts, w, h) < 0)
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
        v.playing = 0;
        int from, to;
        dn_lesson_range(&v, s, &from, &to);
        snprintf(slide_no, sizeof slide_no, "%d", i + 1);
        snprintf(range, sizeof range, "%d-%d", from, to);
        snprintf(title, sizeof title, "%s, slide %d: %s", l->title, i + 1, s->title);
        dn_png_text txt[] = {{"Software", "diffuse " DN_VERSION}, {"Title", title}, {"diffuse-lesson", l->source},
                             {"diffuse-slide", slide_no}, {"diffuse-frames", range}, {"diffuse-notes", s->notes}};
        int ntxt = s->notes[0] ? 6 : 5;
        if (to > from) { /* an animated slide: a GIF of its frames */
            dn_gif gif;
            if (dn_gif_begin(&gif, w, h, NULL) < 0) goto done;
            int n = to - from + 1, count = n < gif_frames ? n : gif_frames;
            for (int j = 0; j < count; j++) {
                int k = from + (int)((long)j * (n - 1) / (count - 1));
                dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, k});
                if (!dn_run_frame_wait(v.run, k) || dn_render(&cv, &v, &fonts) < 0 ||
                    dn_gif_add(&gif, &cv, j == count - 1 ? 250 : 12) < 0) {
                    if (!dn_run_frame_wait(v.run, k)) dn_fail("%s: slide %d: frame %d could not be computed", l->source, i + 1, k);
                    dn_gif_free(&gif);
                    goto done;
                }
            }
            snprintf(path, sizeof path, "%s/slide_%02d.gif", dir, i + 1);
            if (dn_gif_end(&gif, path) < 0) goto done;
        }
        dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, to});
        if (!dn_run_frame_wait(v.run, to)) {
            dn_fail("%s: slide %d: frame %d could not be computed", l->source, i + 1, to);
            goto done;
        }
        if (dn_render(&cv, &v, &fonts) < 0) goto done;
        dn_canvas_to_rgb(&cv, rgb);
        snprintf(path, sizeof path, "%s/slide_%02d.png", dir, i + 1);
        if (dn_png_write(path, rgb, w, h, 3, txt, ntxt) < 0) goto done;
        canvas_thumb(thumbs + (long)i * tplane, &cv, THUMB);
        snprintf(caps[i], sizeof caps[i], "%d. %.150s", i + 1, s->title);
        cp[i] = caps[i];
    }
    snprintf(path, sizeof path, "%s/contact.png", dir);
    dn_png_text stxt[] = {{"Software", "diffuse " DN_VERSION}, {"Title", l->title}, {"diffuse-lesson", l->source}};
    if (dn_sheet_save(path, thumbs, l->n_slides, 3, th, tw, cp, l->title, l->n_slides < 3 ? l->n_slides : 3, 1, stxt, 3) < 0)
        goto done;
    written = l->n_slides;
done:
    dn_view_free(&v);
    dn_render_fonts_close(&fonts);
    dn_canvas_free(&cv);
    free(rgb), free(thumbs), free(caps), free(cp);
    return written;
}
