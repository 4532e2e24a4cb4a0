/* lesson.c — the lesson file parser (format: lessons/README.md; API: lesson.h). Line based:
 * "key: value", indented lines continue the value above, '#' starts a comment line, blank lines
 * separate nothing in particular. Every problem is reported with the file and line. */
#include "lesson.h"
#include "base/err.h"
#include "base/fileio.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char known_keys[] =
    "title, slide, mode, model, image, class, cond, cfg, sampler, steps, seed, start, frames, panels, "
    "overlay, guidance, play, picture, compare, caption, notes";

static const struct {
    const char *name;
    unsigned bit;
} panel_names[] = {
    {"noise", DN_PANEL_NOISE},       {"x0", DN_PANEL_X0},       {"error", DN_PANEL_ERROR},
    {"move", DN_PANEL_MOVE},         {"timeline", DN_PANEL_TIMELINE}, {"histogram", DN_PANEL_HIST},
    {"numbers", DN_PANEL_NUMBERS},   {"pull", DN_PANEL_PULL},
};

typedef struct {
    const char *name;
    int line;
} ctx;

#define FAIL(...) return lesson_fail(c, __VA_ARGS__)
static int lesson_fail(const ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lesson_fail(const ctx *c, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dn_fail("%s:%d: %s", c->name, c->line, msg);
}

static int parse_onoff(const ctx *c, const char *key, const char *v, int *out) {
    if (!strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true")) *out = 1;
    else if (!strcasecmp(v, "off") || !strcasecmp(v, "no") || !strcasecmp(v, "false")) *out = 0;
    else FAIL("%s wants on or off, not '%s'", key, v);
    return 0;
}

static int parse_int(const ctx *c, const char *key, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) FAIL("%s wants a whole number %ld .. %ld, not '%s'", key, lo, hi, v);
    *out = x;
    return 0;
}

static int copy_value(const ctx *c, const char *key, char *dst, size_t size, const char *v) {
    size_t n = strlen(v);
    if (n >= size) FAIL("%s is too long (%zu characters, at most %zu)", key, n, size - 1);
    memcpy(dst, v, n + 1);
    return 0;
}

/* frames: "A-B", "A-end", "A" (one frame), "end" */
static int parse_frames(const ctx *c, const char *v, int *from, int *to) {
    char a[32], b[32];
    const char *dash = strchr(v, '-');
    if (strlen(v) >= sizeof a) FAIL("frames wants FROM-TO like 0-50 or 0-end, not '%s'", v);
    if (!dash) {
        snprintf(a, sizeof a, "%.31s", v), snprintf(b, sizeof b, "%.31s", v);
    } else {
        snprintf(a, sizeof a, "%.*s", (int)(dash - v), v), snprintf(b, sizeof b, "%.31s", dash + 1);
    }
    long x[2];
    const char *s[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        char *t = (char *)s[i];
        while (*t == ' ') t++;
        char *e = t + strlen(t);
        while (e > t && e[-1] == ' ') *--e = '\0';
        if (!strcasecmp(t, "end")) x[i] = -1;
        else {
            char *end;
            x[i] = strtol(t, &end, 10);
            if (end == t || *end || x[i] < 0 || x[i] > 100000)
                FAIL("frames wants FROM-TO like 0-50 or 0-end, not '%s'", v);
        }
    }
    if (x[0] == -1 && dash) FAIL("frames cannot start at 'end' ('%s')", v);
    if (x[1] != -1 && x[0] != -1 && x[1] < x[0]) FAIL("frames %ld-%ld end before they start", x[0], x[1]);
    *from = (int)x[0], *to = (int)x[1];
    return 0;
}

static int parse_panels(const ctx *c, const char *v, unsigned *out) {
    unsigned bits = 0;
    char word[32];
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        size_t n = 0;
        while (p[n] && p[n] != ' ' && p[n] != ',') n++;
        if (n >= sizeof word) FAIL("unknown panel '%.*s'", (int)n, p);
        memcpy(word, p, n), word[n] = '\0';
        p += n;
        if (!strcasecmp(word, "all")) {
            bits |= DN_PANEL_ALL;
            continue;
        }
        if (!strcasecmp(word, "none")) continue;
        size_t i;
        for (i = 0; i < sizeof panel_names / sizeof panel_names[0]; i++)
            if (!strcasecmp(word, panel_names[i].name)) break;
        if (i == sizeof panel_names / sizeof panel_names[0])
            FAIL("unknown panel '%s' (known: all, none, noise, x0, error, move, timeline, histogram, numbers, pull)", word);
        bits |= panel_names[i].bit;
    }
    *out = bits;
    return 0;
}

/* compare: "sampler ddim steps 10", "cfg 7", "cond off", "class dog" (any of them, in pairs), or
 * "off". */
static int parse_compare(const ctx *c, const char *v, dn_slide *s) {
    memset(&s->cmp, 0, sizeof s->cmp);
    if (!strcasecmp(v, "off") || !strcasecmp(v, "none")) return 0;
    char buf[256];
    size_t len = strlen(v);
    if (len >= sizeof buf) FAIL("compare: too long (%zu characters, at most %zu)", len, sizeof buf - 1);
    memcpy(buf, v, len + 1);
    char *save = NULL, *name = strtok_r(buf, " ,", &save);
    if (!name) FAIL("compare wants what B changes, e.g. 'sampler ddim steps 10', 'cfg 7' or 'cond off'");
    for (; name; name = strtok_r(NULL, " ,", &save)) {
        char *val = strtok_r(NULL, " ,", &save);
        if (!val) FAIL("compare: '%s' wants a value (e.g. 'steps 10')", name);
        long x;
        if (!strcasecmp(name, "sampler")) {
            if (dn_sampler_kind_parse(val, &s->cmp.sampler) < 0) FAIL("compare: sampler wants ddpm, ddim, euler or dpm++2m, not '%s'", val);
            s->cmp.has_sampler = 1;
        } else if (!strcasecmp(name, "steps")) {
            if (parse_int(c, "compare: steps", val, 1, 1000, &x) < 0) return -1;
            s->cmp.steps = (int)x, s->cmp.has_steps = 1;
        } else if (!strcasecmp(name, "cfg")) {
            char *end;
            double w = strtod(val, &end);
            if (end == val || *end || !(w >= 0 && w <= 100)) FAIL("compare: cfg wants a guidance scale 0 .. 100, not '%s'", val);
            s->cmp.cfg = (float)w, s->cmp.has_cfg = 1;
        } else if (!strcasecmp(name, "cond")) {
            if (parse_onoff(c, "compare: cond", val, &s->cmp.cond) < 0) return -1;
            s->cmp.has_cond = 1;
        } else if (!strcasecmp(name, "class")) {
            snprintf(s->cmp.class_name, sizeof s->cmp.class_name, "%s", val);
        } else FAIL("compare: unknown setting '%s' (known: sampler, steps, cfg, cond, class)", name);
    }
    s->cmp.on = 1;
    return 0;
}

/* Apply one complete "key: value" to the lesson (slide = the current slide or NULL before the
 * first). */
static int apply(dn_lesson *l, dn_slide *s, const ctx *c, const char *key, const char *v) {
    if (!strcmp(key, "title")) {
        if (!*v) FAIL("title is empty");
        return s ? copy_value(c, key, s->title, sizeof s->title, v) : copy_value(c, key, l->title, sizeof l->title, v);
    }
    if (!s) FAIL("'%s' belongs to a slide: start one with 'slide: TITLE' first", key);
    dn_view_settings *st = &s->set;
    long x;
    if (!strcmp(key, "mode")) {
        if (!strcasecmp(v, "forward")) st->mode = DN_RUN_FORWARD;
        else if (!strcasecmp(v, "reverse")) st->mode = DN_RUN_REVERSE;
        else FAIL("mode wants forward or reverse, not '%s'", v);
    } else if (!strcmp(key, "model")) {
        if (!*v) FAIL("model is empty (write 'none' for no model)");
        if (!strcasecmp(v, "none")) st->model[0] = '\0';
        else return copy_value(c, key, st->model, sizeof st->model, v);
    } else if (!strcmp(key, "image")) {
        if (!strncasecmp(v, "train ", 6) || !strncasecmp(v, "training ", 9)) {
            if (parse_int(c, "image train", strchr(v, ' ') + 1, 0, 9999999, &x) < 0) return -1;
            st->image[0] = '\0';
            st->image_index = (int)x;
        } else {
            if (!*v) FAIL("image wants a file, a bundled name like cat, or 'train N'");
            return copy_value(c, key, st->image, sizeof st->image, v);
        }
    } else if (!strcmp(key, "class")) {
        if (!strcasecmp(v, "none")) {
            st->cond = 0;
            s->class_name[0] = '\0';
        } else {
            if (!*v) FAIL("class is empty");
            st->cond = 1;
            return copy_value(c, key, s->class_name, sizeof s->class_name, v);
        }
    } else if (!strcmp(key, "cond")) {
        return parse_onoff(c, key, v, &st->cond);
    } else if (!strcmp(key, "cfg")) {
        char *end;
        double w = strtod(v, &end);
        if (end == v || *end || !(w >= 0 && w <= 100)) FAIL("cfg wants a guidance scale 0 .. 100, not '%s'", v);
        st->cfg_scale = (float)w;
    } else if (!strcmp(key, "sampler")) {
        dn_sampler_kind k;
        if (dn_sampler_kind_parse(v, &k) < 0) FAIL("sampler wants ddpm, ddim, euler or dpm++2m, not '%s'", v);
        st->sampler = k;
    } else if (!strcmp(key, "steps")) {
        if (parse_int(c, key, v, 1, 1000, &x) < 0) return -1;
        st->steps = (int)x;
    } else if (!strcmp(key, "seed")) {
        if (parse_int(c, key, v, 0, 2147483647L, &x) < 0) return -1;
        st->seed = (uint64_t)x;
    } else if (!strcmp(key, "start")) {
        if (parse_int(c, key, v, 0, 999, &x) < 0) return -1;
        st->start = (int)x;
    } else if (!strcmp(key, "frames")) {
        return parse_frames(c, v, &s->from, &s->to);
    } else if (!strcmp(key, "panels")) {
        return parse_panels(c, v, &st->panels);
    } else if (!strcmp(key, "overlay")) {
        return parse_onoff(c, key, v, &st->overlay);
    } else if (!strcmp(key, "guidance")) {
        return parse_onoff(c, key, v, &st->guidance);
    } else if (!strcmp(key, "play")) {
        return parse_onoff(c, key, v, &s->play);
    } else if (!strcmp(key, "picture")) {
        if (!strcasecmp(v, "none")) st->picture[0] = '\0';
        else if (!*v) FAIL("picture wants an image file (PNG, JPEG, ...) or none");
        else return copy_value(c, key, st->picture, sizeof st->picture, v);
    } else if (!strcmp(key, "compare")) {
        return parse_compare(c, v, s);
    } else if (!strcmp(key, "caption")) {
        return copy_value(c, key, st->caption, sizeof st->caption, v);
    } else if (!strcmp(key, "notes")) {
        return copy_value(c, key, s->notes, sizeof s->notes, v);
    } else {
        FAIL("unknown key '%s' (known: %s)", key, known_keys);
    }
    return 0;
}

static int finish_slide(const dn_slide *s, const char *name) {
    if (strlen(s->title) + 2 + strlen(s->set.caption) >= sizeof s->set.caption) {
        ctx cc = {name, s->line}, *c = &cc;
        FAIL("title and caption together are too long (%zu characters, at most %zu)",
             strlen(s->title) + 2 + strlen(s->set.caption), sizeof s->set.caption - 1);
    }
    if (s->set.start > 0 && s->set.start >= s->set.steps) {
        ctx cc = {name, s->line}, *c = &cc;
        FAIL("start %d must be below steps %d", s->set.start, s->set.steps);
    }
    if (s->to >= 0 && s->from > s->to) {
        ctx cc = {name, s->line}, *c = &cc;
        FAIL("frames %d-%d end before they start", s->from, s->to);
    }
    return 0;
}

int dn_lesson_parse(dn_lesson *l, const char *text, size_t len, const char *name) {
    memset(l, 0, sizeof *l);
    snprintf(l->source, sizeof l->source, "%s", name);
    ctx c = {name, 0};
    char key[32] = "", value[2048] = "";
    int have = 0, key_line = 0;
    dn_slide *cur = NULL;
    size_t i = 0;
    int rc = -1;
    if (len > DN_LESSON_MAX_BYTES) {
        dn_fail("%s: too long for a lesson (%zu bytes, at most %d)", name, len, DN_LESSON_MAX_BYTES);
        goto fail;
    }
    l->slides = calloc(DN_LESSON_MAX_SLIDES, sizeof *l->slides);
    if (!l->slides) {
        dn_fail("%s: out of memory", name);
        goto fail;
    }
    for (;;) {
        /* one line, or the end (which flushes the pending key) */
        int at_end = i >= len;
        char line[1024];
        size_t n = 0;
        if (!at_end) {
            c.line++;
            size_t j = i;
            while (j < len && text[j] != '\n') j++;
            n = j - i;
            if (n && text[i + n - 1] == '\r') n--;
            if (n >= sizeof line) {
                lesson_fail(&c, "line too long (%zu characters, at most %zu)", n, sizeof line - 1);
                goto fail;
            }
            memcpy(line, text + i, n);
            line[n] = '\0';
            i = j + 1;
            for (size_t k = 0; k < n; k++)
                if (line[k] == '\0' || ((unsigned char)line[k] < 32 && line[k] != '\t')) {
                    lesson_fail(&c, "control character (byte %d) in the text", (unsigned char)line[k]);
                    goto fail;
                }
        }
        const char *p = line;
        int indented = !at_end && (line[0] == ' ' || line[0] == '\t');
        while (*p == ' ' || *p == '\t') p++;
        int blank = at_end || !*p;
        int comment = !at_end && *p == '#' && !indented;
        if (!at_end && indented && !blank) {
            if (!have) {
                lesson_fail(&c, "indented line continues nothing (start a line with 'key: value')");
                goto fail;
            }
            size_t vl = strlen(value);
            if (vl + 1 + strlen(p) >= sizeof value) {
                lesson_fail(&c, "the value of '%s' is too long", key);
                goto fail;
            }
            if (vl) value[vl++] = ' ';
            strcpy(value + vl, p);
            continue;
        }
        if (blank && !at_end) continue;
        if (comment) continue;
        /* a new key (or the end): apply the pending one */
        if (have) {
            ctx kc = {name, key_line};
            if (apply(l, cur, &kc, key, value) < 0) goto fail;
            have = 0;
        }
        if (at_end) break;
        const char *colon = strchr(p, ':');
        if (!colon) {
            lesson_fail(&c, "expected 'key: value', got '%.60s'", p);
            goto fail;
        }
        size_t kl = (size_t)(colon - p);
        while (kl && p[kl - 1] == ' ') kl--;
        if (kl == 0 || kl >= sizeof key) {
            lesson_fail(&c, "expected 'key: value', got '%.60s'", p);
            goto fail;
        }
        for (size_t k = 0; k < kl; k++) key[k] = (char)tolower((unsigned char)p[k]);
        key[kl] = '\0';
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
        memcpy(value, v, vl);
        value[vl] = '\0';
        if (!strcmp(key, "slide")) {
            if (l->n_slides == DN_LESSON_MAX_SLIDES) {
                lesson_fail(&c, "too many slides (at most %d)", DN_LESSON_MAX_SLIDES);
                goto fail;
            }
            if (cur && finish_slide(cur, name) < 0) goto fail;
            dn_slide *s = &l->slides[l->n_slides];
            if (cur) { /* inherit the viewer state; caption, notes, title and frames are per slide */
                s->set = cur->set;
                memcpy(s->class_name, cur->class_name, sizeof s->class_name);
            } else {
                dn_view_settings_default(&s->set);
            }
            s->set.caption[0] = '\0';
            s->set.picture[0] = '\0';
            s->notes[0] = '\0';
            memset(&s->cmp, 0, sizeof s->cmp); /* compare belongs to one slide */
            s->set.cmp.on = 0;
            s->from = 0, s->to = -1, s->play = 0;
            s->line = c.line;
            if (!vl) {
                lesson_fail(&c, "slide wants a title: 'slide: What this slide shows'");
                goto fail;
            }
            if (strlen(value) >= sizeof s->title) {
                lesson_fail(&c, "slide title too long (at most %zu characters)", sizeof s->title - 1);
                goto fail;
            }
            memcpy(s->title, value, strlen(value) + 1);
            l->n_slides++;
            cur = s;
            continue;
        }
        have = 1;
        key_line = c.line;
    }
    if (cur && finish_slide(cur, name) < 0) goto fail;
    if (!l->title[0]) {
        dn_fail("%s: the lesson has no 'title: ...' line before its first slide", name);
        goto fail;
    }
    if (l->n_slides == 0) {
        dn_fail("%s: the lesson has no slides (start one with 'slide: TITLE')", name);
        goto fail;
    }
    rc = 0;
fail:
    if (rc < 0) dn_lesson_free(l);
    return rc;
}

int dn_lesson_load(dn_lesson *l, const char *path) {
    unsigned char *data = NULL;
    size_t len = 0;
    memset(l, 0, sizeof *l);
    if (dn_read_file(path, &data, &len, DN_LESSON_MAX_BYTES) < 0) return -1;
    int rc = dn_lesson_parse(l, (const char *)data, len, path);
    free(data);
    return rc;
}

void dn_lesson_free(dn_lesson *l) {
    if (!l) return;
    free(l->slides);
    memset(l, 0, sizeof *l);
}

static int bundled(const char *s) { return !strchr(s, '/') && !strchr(s, '.'); }

static int resolve_one(char *field, size_t size, const char *root, const char *dir, const char *sub,
                       const char *ext, const dn_lesson *l, const dn_slide *s) {
    char buf[2048];
    if (!field[0]) return 0;
    if (bundled(field)) snprintf(buf, sizeof buf, "%s/assets/%s/%s%s", root, sub, field, ext);
    else if (field[0] != '/' && dir && dir[0]) snprintf(buf, sizeof buf, "%s/%s", dir, field);
    else return 0;
    if (strlen(buf) >= size) return dn_fail("%s:%d: path too long: %s", l->source, s->line, buf);
    memcpy(field, buf, strlen(buf) + 1);
    return 0;
}

int dn_lesson_resolve(dn_lesson *l, const char *root, const char *dir) {
    for (int i = 0; i < l->n_slides; i++) {
        dn_slide *s = &l->slides[i];
        if (resolve_one(s->set.model, sizeof s->set.model, root, dir, "models", ".dfm", l, s) < 0 ||
            resolve_one(s->set.image, sizeof s->set.image, root, dir, "images", ".png", l, s) < 0 ||
            resolve_one(s->set.picture, sizeof s->set.picture, root, dir, "images", ".png", l, s) < 0)
            return -1;
    }
    return 0;
}
