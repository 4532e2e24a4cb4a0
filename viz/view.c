/* view.c — the viewer's state and actions; see view.h.
 *
 * Setup:   load the model and its schedule, the clean image (photo or training image), start a run.
 * Actions: cursor moves only read frames; setting changes restart the run (start_run).
 * Play:    a time accumulator moves the cursor at the chosen speed, waiting for the worker. */
#include "view.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "base/err.h"
#include "data/image.h"
#include "latent/latent.h"

const int dn_view_step_choices[DN_VIEW_STEP_CHOICES] = {10, 25, 50, 100, 250, 1000};
const float dn_view_speeds[DN_VIEW_SPEEDS] = {1, 2, 4, 8, 15, 30, 60};
#define DEFAULT_SPEED 3 /* 8 steps per second: a 50-step run plays in about 6 seconds */

const dn_view_key_help dn_view_help[] = {
    {"Right / Left", "one step forward / back (back is exact)"},
    {"Shift + Right / Left", "ten steps"},
    {"Home / End", "first / last step"},
    {"Space", "play / pause"},
    {"Up / Down", "play faster / slower"},
    {"M", "mode: forward (noising) / reverse (denoising)"},
    {"I", "img2img: denoise from this t (photo noised)"},
    {"C", "conditioning on / off"},
    {"0-9 / Tab", "pick the class / next class"},
    {"[ / ]", "guidance scale down / up"},
    {"G", "guidance breakdown"},
    {"S", "next sampler"},
    {"N", "number of steps"},
    {"R", "new seed"},
    {"O", "noise as overlay on x_t"},
    {"E", "export frames, contact sheet, GIF (Esc cancels)"},
    {"D", "presenter (large) / dashboard (everything) layout"},
    {"X", "compare: a second run from the same noise (keys then change it)"},
    {"Shift + 1..4", "show / hide a panel: noise, x_0, error, drift"},
    {"Shift + 5..8", "show / hide: timeline, histogram, numbers, pull"},
    {"L", "light / dark screen (light for projectors)"},
    {"V", "crisp pixels / smooth pictures"},
    {"F", "fullscreen"},
    {"H / F1", "this help"},
    {"Escape", "leave fullscreen / close this help"},
    {"Q", "quit"},
    {"Click / drag timeline", "jump to that t"},
    {"PageDown / PageUp", "lessons: next / previous slide"},
    {NULL, NULL},
};

static const char *const act_names[DN_ACT_COUNT] = {
    "NONE", "STEP_NEXT", "STEP_PREV", "STEP_NEXT10", "STEP_PREV10", "FIRST", "LAST", "SCRUB_TO",
    "PLAY_TOGGLE", "SPEED_UP", "SPEED_DOWN", "COND_TOGGLE", "CLASS_NEXT", "CLASS_SET", "CFG_UP",
    "CFG_DOWN", "GUIDANCE_TOGGLE", "SAMPLER_NEXT", "STEPS_NEXT", "NEW_SEED", "OVERLAY_TOGGLE",
    "MODE_TOGGLE", "IMG2IMG", "EXPORT", "FULLSCREEN", "HELP_TOGGLE", "QUIT", "ESCAPE",
    "LAYOUT_TOGGLE", "THEME_TOGGLE", "SMOOTH_TOGGLE", "PANEL_TOGGLE", "COMPARE_TOGGLE",
};

const char *dn_act_name(dn_act op) {
    return op >= 0 && op < DN_ACT_COUNT ? act_names[op] : "?";
}

void dn_view_settings_default(dn_view_settings *s) {
    memset(s, 0, sizeof *s);
    s->mode = DN_RUN_FORWARD;
    s->cond = 1;
    s->cfg_scale = 3.0f;
    s->sampler = DN_DDIM;
    s->steps = 50;
    s->panels = DN_PANEL_ALL;
}

static const char *base_name(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* ---- the clean image ------------------------------------------------------------------------- */

/* Resample a (sc, sh, sw) float image to (c, size, size): channels averaged or repeated, then the
 * centred square resized through dn_image_square (bytes; the image is shown as bytes anyway). */
static int fit_image(float *dst, int c, int size, const float *src, int sc, int sh, int sw) {
    dn_image in = {sw, sh, c, malloc((size_t)sw * sh * c)}, out = {0};
    if (!in.px) return dn_fail("out of memory");
    long plane = (long)sh * sw;
    for (long p = 0; p < plane; p++)
        for (int ch = 0; ch < c; ch++) {
            float v;
            if (c == sc) v = src[ch * plane + p];
            else if (c == 1) v = (src[p] + src[plane + p] + src[2 * plane + p]) / 3.0f;
            else v = src[p];
            in.px[p * c + ch] = dn_unit_to_byte(v);
        }
    int rc = dn_image_square(&out, &in, size);
    if (rc == 0) dn_image_to_float(dst, out.px, size, size, c);
    dn_image_free(&in);
    dn_image_free(&out);
    return rc < 0 ? dn_fail("out of memory") : 0;
}

/* Load set.picture (or drop the old one). 0, or -1 + dn_error with the view unchanged. */
static int load_picture(dn_view *v, const char *path) {
    dn_image img = {0};
    if (path[0] && dn_image_load(&img, path, 3) < 0) return -1;
    free(v->pic);
    v->pic = img.px, v->pic_w = img.w, v->pic_h = img.h;
    return 0;
}

static int load_image(dn_view *v) {
    const dn_view_settings *s = &v->set;
    long n = (long)v->channels * v->height * v->width;
    v->image_label = -1;
    v->x0 = malloc(sizeof(float) * (size_t)n);
    if (!v->x0) return dn_fail("out of memory");
    if (s->image[0]) {
        dn_image img = {0}, sq = {0};
        if (dn_image_load(&img, s->image, v->channels) < 0) return -1;
        int rc = dn_image_square(&sq, &img, v->height);
        dn_image_free(&img);
        if (rc < 0) return dn_fail("out of memory squaring '%s'", s->image);
        dn_image_to_float(v->x0, sq.px, sq.w, sq.h, v->channels);
        dn_image_free(&sq);
        snprintf(v->image_name, sizeof v->image_name, "%.120s", base_name(s->image));
        return 0;
    }
    /* a training image: the model's data set, else pets (colour) or fashion (grey) */
    const char *set = v->has_net && v->meta.dataset[0] ? v->meta.dataset : v->channels == 1 ? "fashion" : "pets";
    dn_data d;
    if (dn_data_open(&d, set, 0, NULL) < 0) {
        if (strcmp(set, "pets") != 0 && dn_data_open(&d, "pets", 0, NULL) == 0) set = "pets";
        else return -1;
    }
    if (s->image_index < 0 || s->image_index >= d.n) {
        long n_images = d.n;
        dn_data_close(&d);
        return dn_fail("training image %d: the %s training set has images 0..%ld", s->image_index, set, n_images - 1);
    }
    long idx = s->image_index;
    float *tmp = malloc(sizeof(float) * (size_t)d.channels * d.height * d.width);
    int rc = -1;
    if (!tmp) {
        dn_fail("out of memory");
    } else {
        int label = -1;
        dn_data_batch(&d, tmp, &label, &idx, 1);
        /* its class means something to the model only if the model learned this data set */
        if (v->has_net && v->meta.dataset[0] && !strcmp(dn_data_short_name(v->meta.dataset), d.name) && label >= 0 &&
            label < v->num_classes)
            v->image_label = label;
        if (d.channels == v->channels && d.height == v->height && d.width == v->width) {
            memcpy(v->x0, tmp, sizeof(float) * (size_t)n);
            rc = 0;
        } else {
            rc = fit_image(v->x0, v->channels, v->height, tmp, d.channels, d.height, d.width);
        }
        snprintf(v->image_name, sizeof v->image_name, "%s training image #%ld", d.name, idx);
    }
    free(tmp);
    dn_data_close(&d);
    return rc;
}

/* ---- runs -------------------------------------------------------------------------------------- */

int dn_view_run_class(const dn_view *v) {
    if (v->num_classes == 0) return 0;
    return v->set.cond ? v->set.class_id : v->num_classes;
}

const char *dn_view_class_name(const dn_view *v, int id) {
    static char buf[32]; /* only for the rare nameless class; the UI thread is the only caller */
    if (id < 0 || id >= v->num_classes) return "none";
    if (v->has_net && id < v->meta.n_class_names) return v->meta.class_names[id];
    snprintf(buf, sizeof buf, "class %d", id);
    return buf;
}

int dn_view_frames(const dn_view *v) {
    return v->run ? dn_run_frames(v->run) : 0;
}

/* Do two run configs compute the same frames (same view: same network, schedule, image)? */
static int same_run(const dn_run_config *a, const dn_run_config *b) {
    return a->mode == b->mode && a->sampler.kind == b->sampler.kind &&
           a->sampler.num_inference_steps == b->sampler.num_inference_steps && a->start == b->start &&
           a->class_id == b->class_id && a->seed == b->seed &&
           (a->cfg_scale == b->cfg_scale || a->net == NULL || a->class_id >= a->net->cfg.num_classes);
}

/* Frames the kept runs may hold together (each run computes all its frames ahead). */
static long cache_frames(const dn_view *v) {
    long n = 0;
    for (int i = 0; i < DN_VIEW_CACHE && v->cache[i]; i++) n += dn_run_frames(v->cache[i]);
    return n;
}

/* Keep run r (paused) among the recent ones, dropping the oldest while there are DN_VIEW_CACHE
 * runs or more than DN_VIEW_CACHE_FRAMES frames (a few 1000-step runs are 90 MB each). */
static void cache_put(dn_view *v, dn_run *r) {
    dn_run_pause(r);
    while (v->cache[0] && (v->cache[DN_VIEW_CACHE - 1] || cache_frames(v) + dn_run_frames(r) > DN_VIEW_CACHE_FRAMES)) {
        if (v->cache[0] == v->ahead) v->ahead = NULL;
        dn_run_free(v->cache[0]);
        memmove(v->cache, v->cache + 1, sizeof v->cache[0] * (DN_VIEW_CACHE - 1));
        v->cache[DN_VIEW_CACHE - 1] = NULL;
    }
    int i = 0;
    while (v->cache[i]) i++;
    v->cache[i] = r;
}

/* The kept run that computes what c asks for, taken out of the cache; NULL if none. */
static dn_run *cache_take(dn_view *v, const dn_run_config *c) {
    for (int i = 0; i < DN_VIEW_CACHE && v->cache[i]; i++)
        if (same_run(dn_run_config_of(v->cache[i]), c)) {
            dn_run *r = v->cache[i];
            memmove(v->cache + i, v->cache + i + 1, sizeof v->cache[0] * (size_t)(DN_VIEW_CACHE - 1 - i));
            v->cache[DN_VIEW_CACHE - 1] = NULL;
            return r;
        }
    return NULL;
}

void dn_view_compare_settings(const dn_view_settings *a, dn_view_settings *b) {
    *b = *a;
    b->sampler = a->cmp.sampler, b->steps = a->cmp.steps, b->cfg_scale = a->cmp.cfg_scale;
    b->cond = a->cmp.cond, b->class_id = a->cmp.class_id;
    if (b->start >= b->steps) b->start = 0;
    b->cmp.on = 0;
}

static void run_config(const dn_view *v, const dn_view_settings *s, dn_run_config *cfg);

/* The run that computes c in place of `cur` (the run on screen, or B's): cur itself if it does,
 * else a kept one, else a new one; cur, if replaced, is kept. NULL + dn_error if none can start
 * (cur is then left as it is). */
static dn_run *run_for(dn_view *v, dn_run *cur, const dn_run_config *c) {
    if (cur && same_run(dn_run_config_of(cur), c)) return cur; /* the same frames: keep them */
    dn_run *r = cache_take(v, c);
    if (!r && !(r = dn_run_start(c))) return NULL;
    if (cur) cache_put(v, cur);
    return r;
}

/* B's run for A's settings s (compare mode on), or none (off). 0, or -1 + dn_error (the kept
 * runs and A unchanged; compare is then off). */
static int start_compare(dn_view *v, const dn_view_settings *s) {
    if (!s->cmp.on) {
        if (v->cmp_run) cache_put(v, v->cmp_run);
        v->cmp_run = NULL;
        return 0;
    }
    dn_view_settings b;
    dn_view_compare_settings(s, &b);
    dn_run_config c;
    run_config(v, &b, &c);
    dn_run *r = run_for(v, v->cmp_run, &c);
    if (!r) {
        v->set.cmp.on = 0;
        if (v->cmp_run) cache_put(v, v->cmp_run);
        v->cmp_run = NULL;
        return -1;
    }
    v->cmp_run = r;
    dn_run_want(r, dn_run_frames(r) - 1);
    return 0;
}

int dn_view_compare_k(const dn_view *v, int k) {
    if (!v->cmp_run) return 0;
    int ka = dn_view_frames(v) - 1, kb = dn_run_frames(v->cmp_run) - 1;
    return ka > 0 ? (int)lround((double)k * kb / ka) : 0;
}

const dn_run_frame *dn_view_compare_frame(const dn_view *v, int k, int *shown) {
    if (!v->cmp_run) return NULL;
    for (int j = dn_view_compare_k(v, k); j >= 0; j--) {
        const dn_run_frame *f = dn_run_frame_get(v->cmp_run, j);
        if (f) {
            if (shown) *shown = j;
            return f;
        }
    }
    return NULL;
}

/* The run config of settings s in view v. */
static void run_config(const dn_view *v, const dn_view_settings *s, dn_run_config *cfg) {
    dn_run_config c;
    memset(&c, 0, sizeof c);
    c.mode = s->mode;
    c.net = v->has_net ? &v->net : NULL;
    c.sched = &v->sched;
    dn_sampler_config_recommended(&c.sampler, s->sampler, s->steps);
    if (v->latent) dn_sampler_config_latent(&c.sampler);
    if (v->has_net) c.sampler.prediction_type = (dn_pred_type)v->net.cfg.prediction;
    c.channels = v->channels;
    c.height = v->height;
    c.width = v->width;
    c.x0 = s->mode == DN_RUN_FORWARD || s->start > 0 ? v->x0 : NULL;
    if (v->latent) { /* the latent of the picture is what the run noises */
        c.channels = v->lat_channels, c.height = v->lat_height, c.width = v->lat_width;
        c.x0 = c.x0 ? v->x0_lat : NULL;
        c.ae = &v->ae;
        c.x0_pic = s->mode == DN_RUN_FORWARD ? v->x0 : NULL;
    }
    c.start = s->mode == DN_RUN_REVERSE ? s->start : 0;
    c.class_id = v->num_classes == 0 ? 0 : s->cond ? s->class_id : v->num_classes;
    c.cfg_scale = s->cfg_scale;
    c.seed = s->seed;
    *cfg = c;
}

/* Start the run that v->set describes (or take it from the kept ones), replacing the current one,
 * which is kept. On failure the current run and settings stay. Then put the cursor at frame `k`
 * (clamped). */
static int start_run(dn_view *v, const dn_view_settings *s, int k) {
    dn_run_config c;
    run_config(v, s, &c);
    if (v->ahead) { /* a run computed ahead gives way to the one on screen (and waits in the cache) */
        dn_run_pause(v->ahead);
        v->ahead = NULL;
    }
    dn_run *r = run_for(v, v->run, &c);
    if (!r) return -1;
    v->run = r;
    v->set = *s;
    if (start_compare(v, s) < 0) /* B could not start: A goes on, without compare */
        snprintf(v->message, sizeof v->message, "compare: %.200s", dn_error());
    v->generation++;
    int n = dn_run_frames(r);
    v->k = k < 0 ? 0 : k >= n ? n - 1 : k;
    v->play_acc = 0;
    dn_run_want(r, n - 1); /* compute the whole run ahead: every later step is then instant */
    return 0;
}

/* The frame of a run with `frames` frames in `mode` that sits at the same point of the process as
 * frame k of the current run: same fraction of the way from clean to noise. */
static int same_point(const dn_view *v, int k, dn_run_mode mode, int frames) {
    int n = dn_view_frames(v);
    double noise = n > 1 ? (double)k / (n - 1) : 0; /* 0 clean .. 1 pure noise, forward sense */
    if (v->set.mode == DN_RUN_REVERSE) noise = 1 - noise;
    double f = mode == DN_RUN_FORWARD ? noise : 1 - noise;
    return (int)lround(f * (frames - 1));
}

int dn_view_init(dn_view *v, const dn_view_settings *s) {
    memset(v, 0, sizeof *v);
    v->set = *s;
    v->speed = DEFAULT_SPEED;
    if (s->model[0]) {
        if (dn_model_load(s->model, &v->net, &v->meta) < 0) goto fail;
        v->has_net = 1;
        const dn_unet_config *nc = &v->net.cfg;
        if (nc->in_channels != nc->out_channels || nc->height != nc->width) {
            dn_fail("model '%s' predicts %d channels of %dx%d images from %d: the viewer needs a "
                    "square image and as many output as input channels (use a model from 'diffuse train')",
                    s->model, nc->out_channels, nc->height, nc->width, nc->in_channels);
            goto fail;
        }
        if (dn_sched_init(&v->sched, v->meta.schedule, v->meta.num_train_timesteps, v->meta.beta_start,
                          v->meta.beta_end) < 0) {
            dn_fail_context("model '%s'", s->model);
            goto fail;
        }
        v->num_classes = nc->num_classes;
        v->channels = nc->in_channels;
        v->height = nc->height;
        v->width = nc->width;
        int lat = dn_latent_autoencoder(s->model, dn_model_meta_get(&v->meta, DN_LATENT_KEY), nc, &v->ae);
        if (lat < 0) goto fail;
        if (lat) { /* the run diffuses latents; the screen shows pictures */
            int f = dn_ae_factor(&v->ae.cfg);
            v->latent = 1;
            v->lat_channels = nc->in_channels, v->lat_height = nc->height, v->lat_width = nc->width;
            v->channels = v->ae.cfg.in_channels, v->height = nc->height * f, v->width = nc->width * f;
        }
        snprintf(v->model_name, sizeof v->model_name, "%.120s", base_name(s->model));
    } else {
        if (dn_sched_init_default(&v->sched, DN_BETA_LINEAR, 1000) < 0) goto fail;
        v->channels = 3;
        v->height = v->width = s->image[0] ? 64 : 32;
        if (s->mode == DN_RUN_REVERSE) {
            dn_fail("reverse mode needs a model (give --model MODEL.dfm, made by 'diffuse train')");
            goto fail;
        }
    }
    if (v->num_classes == 0) v->set.class_id = 0, v->set.cond = 0;
    if (v->set.class_id < 0 || (v->num_classes && v->set.class_id >= v->num_classes)) {
        dn_fail("class %d: the model knows classes 0..%d", v->set.class_id, v->num_classes - 1);
        goto fail;
    }
    if (v->set.steps < 1 || v->set.steps > v->sched.T) {
        dn_fail("%d steps: choose 1..%d", v->set.steps, v->sched.T);
        goto fail;
    }
    if (load_image(v) < 0 || load_picture(v, v->set.picture) < 0) goto fail;
    if (v->latent) {
        v->x0_lat = malloc(sizeof(float) * (size_t)v->lat_channels * v->lat_height * v->lat_width);
        if (!v->x0_lat) {
            dn_fail("out of memory");
            goto fail;
        }
        if (dn_latent_encode(&v->ae, v->x0_lat, v->x0, 1, v->height, v->width) < 0) goto fail;
    }
    /* a forward run of a training image is conditioned on that image's own class (an ankle boot
     * is noised, and its noise predicted, as an ankle boot); a class chosen afterwards wins */
    if (v->set.mode == DN_RUN_FORWARD && v->image_label >= 0) v->set.class_id = v->image_label;
    dn_view_settings s2 = v->set;
    if (start_run(v, &s2, 0) < 0) goto fail;
    if (!v->has_net) snprintf(v->message, sizeof v->message, "no model: forward only (give --model to denoise)");
    return 0;
fail:
    dn_view_free(v);
    return -1;
}

void dn_view_free(dn_view *v) {
    if (!v) return;
    dn_run_free(v->run);
    dn_run_free(v->cmp_run);
    for (int i = 0; i < DN_VIEW_CACHE; i++) dn_run_free(v->cache[i]);
    if (v->has_net) dn_unet_free(&v->net);
    dn_ae_free(&v->ae);
    free(v->x0_lat);
    dn_sched_free(&v->sched);
    free(v->x0);
    free(v->pic);
    memset(v, 0, sizeof *v);
}

int dn_view_apply(dn_view *v, const dn_view_settings *s) {
    if (strcmp(s->model, v->set.model) != 0 || strcmp(s->image, v->set.image) != 0 ||
        (!s->image[0] && s->image_index != v->set.image_index)) {
        /* a new model or image: a new view, looked at the same way, at the same place of a lesson */
        dn_view_look look = v->look;
        char deck[sizeof v->deck];
        int slide = v->slide, slides = v->slides, fullscreen = v->fullscreen, speed = v->speed;
        memcpy(deck, v->deck, sizeof deck);
        dn_view_free(v);
        if (dn_view_init(v, s) < 0) return -1;
        v->look = look, v->slide = slide, v->slides = slides, v->fullscreen = fullscreen, v->speed = speed;
        memcpy(v->deck, deck, sizeof deck);
        return 0;
    }
    if (strcmp(s->picture, v->set.picture) != 0 && load_picture(v, s->picture) < 0) return -1;
    dn_view_settings s2 = *s;
    if (v->num_classes == 0) s2.class_id = 0, s2.cond = 0;
    if (s2.class_id < 0 || (v->num_classes && s2.class_id >= v->num_classes))
        return dn_fail("class %d: the model knows classes 0..%d", s2.class_id, v->num_classes - 1);
    if (s2.steps < 1 || s2.steps > v->sched.T) return dn_fail("%d steps: choose 1..%d", s2.steps, v->sched.T);
    if (s2.mode == DN_RUN_REVERSE && !v->has_net)
        return dn_fail("reverse mode needs a model (give --model MODEL.dfm, made by 'diffuse train')");
    int k = s2.mode == v->set.mode && s2.steps == v->set.steps && s2.sampler == v->set.sampler && s2.start == v->set.start
                ? v->k : same_point(v, v->k, s2.mode, s2.steps + 1 - (s2.mode == DN_RUN_REVERSE ? s2.start : 0));
    return start_run(v, &s2, k);
}

/* ---- actions ----------------------------------------------------------------------------------- */

static int move_to(dn_view *v, int k) {
    int n = dn_view_frames(v);
    if (k < 0) k = 0;
    if (k > n - 1) k = n - 1;
    if (k == v->k) return 0;
    v->k = k;
    dn_run_want(v->run, k);
    return 1;
}

/* Restart with changed settings, keeping the cursor at frame k. */
static int restart(dn_view *v, const dn_view_settings *s, int k) {
    if (start_run(v, s, k) < 0) {
        snprintf(v->message, sizeof v->message, "%s", dn_error());
        return -1;
    }
    return 1;
}

/* Sampler step index whose timestep is nearest to t (for img2img from the cursor). */
static int step_near(const dn_view *v, dn_sampler_kind kind, int steps, float t) {
    dn_sampler sp;
    dn_sampler_config c;
    dn_sampler_config_recommended(&c, kind, steps);
    if (dn_sampler_init(&sp, &v->sched, &c) < 0) return 0;
    int best = 0;
    for (int i = 1; i < sp.n; i++)
        if (fabsf(sp.timesteps[i] - t) < fabsf(sp.timesteps[best] - t)) best = i;
    dn_sampler_free(&sp);
    return best;
}

/* The settings an action that changes the run leads to, and the cursor there, without changing
 * v: 1 and *s, *k set; 0 if it changes nothing (*why, if not NULL, says why, for the screen);
 * -1 if the action does not change the run (stepping, play, panels, ...). dn_view_act applies
 * it; dn_view_idle computes the runs of the likely next keys ahead with it. */
static int settings_for(const dn_view *v, dn_action a, dn_view_settings *s, int *k, const char **why) {
    static char msg[96];
    *s = v->set;
    *k = v->k;
    if (why) *why = NULL;
    int n = dn_view_frames(v);
    switch (a.op) {
    case DN_ACT_COND_TOGGLE:
        if (v->num_classes == 0) {
            if (why) *why = "this model has no classes: nothing to condition on";
            return 0;
        }
        s->cond = !s->cond;
        return 1;
    case DN_ACT_CLASS_NEXT:
    case DN_ACT_CLASS_SET: {
        if (v->num_classes == 0) {
            if (why) *why = "this model has no classes";
            return 0;
        }
        int id = a.op == DN_ACT_CLASS_NEXT ? (s->class_id + 1) % v->num_classes : a.arg;
        if (id < 0 || id >= v->num_classes) {
            snprintf(msg, sizeof msg, "no class %d: this model has %d (0..%d)", id, v->num_classes, v->num_classes - 1);
            if (why) *why = msg;
            return 0;
        }
        if (id == s->class_id && s->cond) return 0;
        s->class_id = id;
        s->cond = 1;
        return 1;
    }
    case DN_ACT_CFG_UP:
    case DN_ACT_CFG_DOWN: {
        /* steps of 0.5, kept in [0, 20]: 0 unconditional, 1 plain conditional */
        float w = s->cfg_scale + (a.op == DN_ACT_CFG_UP ? 0.5f : -0.5f);
        w = roundf(w * 2) / 2;
        if (w < 0) w = 0;
        if (w > 20) w = 20;
        if (w == s->cfg_scale) return 0;
        s->cfg_scale = w;
        return 1;
    }
    case DN_ACT_SAMPLER_NEXT:
        s->sampler = (dn_sampler_kind)((s->sampler + 1) % 4);
        s->start = 0;
        *k = same_point(v, v->k, s->mode, s->steps + 1);
        return 1;
    case DN_ACT_STEPS_NEXT: {
        int i = 0;
        while (i < DN_VIEW_STEP_CHOICES && dn_view_step_choices[i] <= s->steps) i++;
        if (i == DN_VIEW_STEP_CHOICES || dn_view_step_choices[i] > v->sched.T) i = 0;
        s->steps = dn_view_step_choices[i];
        s->start = 0;
        *k = same_point(v, v->k, s->mode, s->steps + 1);
        return 1;
    }
    case DN_ACT_NEW_SEED:
        /* the next seed from a fixed sequence (not the clock): a lesson can replay it */
        s->seed = s->seed * 6364136223846793005ULL + 1442695040888963407ULL;
        s->seed >>= 33;
        return 1;
    case DN_ACT_MODE_TOGGLE:
        if (!v->has_net) {
            if (why) *why = "no model: reverse needs --model MODEL.dfm";
            return 0;
        }
        s->mode = s->mode == DN_RUN_FORWARD ? DN_RUN_REVERSE : DN_RUN_FORWARD;
        s->start = 0;
        /* the same noise level, except from the clean picture of a forward run: the reverse run at
         * t = 0 is another, finished picture, so start its denoising instead (pure noise) */
        *k = v->set.mode == DN_RUN_FORWARD && v->k == 0 ? 0 : same_point(v, v->k, s->mode, s->steps + 1);
        return 1;
    case DN_ACT_IMG2IMG: {
        if (!v->has_net) {
            if (why) *why = "no model: img2img needs --model MODEL.dfm";
            return 0;
        }
        const dn_run_frame *f = dn_run_frame_get(v->run, v->k);
        float t = f ? f->t : 0;
        if (!f && s->mode == DN_RUN_FORWARD) t = (float)(v->sched.T - 1) * v->k / (n > 1 ? n - 1 : 1);
        s->start = step_near(v, s->sampler, s->steps, t);
        s->mode = DN_RUN_REVERSE;
        *k = 0;
        return 1;
    }
    default: return -1;
    }
}

int dn_view_act(dn_view *v, dn_action a) {
    int n = dn_view_frames(v);
    v->message[0] = v->has_net ? '\0' : v->message[0];
    dn_view_settings s;
    int k;
    const char *why;
    if (v->set.cmp.on && (a.op == DN_ACT_MODE_TOGGLE || a.op == DN_ACT_IMG2IMG)) {
        snprintf(v->message, sizeof v->message, "compare mode: press X to leave it first");
        return 0;
    }
    if (v->set.cmp.on && a.op != DN_ACT_NEW_SEED && settings_for(v, a, &s, &k, NULL) >= 0) {
        /* compare mode: the key changes B (the run on the right); A stays as it is */
        dn_view_settings a_set = v->set, b;
        dn_view_compare_settings(&a_set, &b);
        v->set = b;
        int rc = settings_for(v, a, &s, &k, &why);
        v->set = a_set;
        if (rc == 0 && why) snprintf(v->message, sizeof v->message, "%s", why);
        if (rc <= 0) return rc;
        dn_view_settings next = v->set;
        next.cmp.sampler = s.sampler, next.cmp.steps = s.steps, next.cmp.cfg_scale = s.cfg_scale;
        next.cmp.cond = s.cond, next.cmp.class_id = s.class_id;
        return restart(v, &next, v->k);
    }
    int rc = settings_for(v, a, &s, &k, &why);
    if (rc == 0 && why) snprintf(v->message, sizeof v->message, "%s", why);
    if (rc >= 0) return rc ? restart(v, &s, k) : 0;
    switch (a.op) {
    case DN_ACT_NONE: return 0;
    case DN_ACT_STEP_NEXT: return move_to(v, v->k + 1);
    case DN_ACT_STEP_PREV: return move_to(v, v->k - 1);
    case DN_ACT_STEP_NEXT10: return move_to(v, v->k + 10);
    case DN_ACT_STEP_PREV10: return move_to(v, v->k - 10);
    case DN_ACT_FIRST: return move_to(v, 0);
    case DN_ACT_LAST: return move_to(v, n - 1);
    case DN_ACT_SCRUB_TO: return move_to(v, a.arg);
    case DN_ACT_PLAY_TOGGLE:
        v->playing = !v->playing;
        v->play_acc = 0;
        if (v->playing && v->k == n - 1) v->k = 0; /* play from the start again */
        if (v->playing) dn_run_want(v->run, n - 1);
        return 1;
    case DN_ACT_SPEED_UP:
        if (v->speed + 1 >= DN_VIEW_SPEEDS) return 0;
        v->speed++;
        return 1;
    case DN_ACT_SPEED_DOWN:
        if (v->speed == 0) return 0;
        v->speed--;
        return 1;
    case DN_ACT_GUIDANCE_TOGGLE:
        v->set.guidance = !v->set.guidance;
        return 1;
    case DN_ACT_OVERLAY_TOGGLE:
        v->set.overlay = !v->set.overlay;
        return 1;
    case DN_ACT_EXPORT: v->export_requested = 1; return 1;
    case DN_ACT_FULLSCREEN: v->fullscreen = !v->fullscreen; return 1;
    case DN_ACT_HELP_TOGGLE: v->help = !v->help; return 1;
    case DN_ACT_QUIT: v->quit = 1; return 1;
    case DN_ACT_ESCAPE: /* what a teacher means by Esc: out of fullscreen (or out of the help) */
        if (v->fullscreen) v->fullscreen = 0;
        else if (v->help) v->help = 0;
        else snprintf(v->message, sizeof v->message, "Q quits (Esc leaves fullscreen and closes the help)");
        return 1;
    case DN_ACT_COMPARE_TOGGLE: {
        dn_view_settings s2 = v->set;
        if (s2.cmp.on) s2.cmp.on = 0;
        else if (s2.mode != DN_RUN_REVERSE || !v->has_net) {
            snprintf(v->message, sizeof v->message, "compare is for denoising: press M first (it needs a model)");
            return 0;
        } else {
            /* B: the same noise without the class (a conditional model), else with 10 steps */
            s2.cmp.on = 1;
            s2.cmp.sampler = s2.sampler, s2.cmp.steps = s2.steps, s2.cmp.cfg_scale = s2.cfg_scale;
            s2.cmp.cond = s2.cond, s2.cmp.class_id = s2.class_id;
            if (v->num_classes && s2.cond) s2.cmp.cond = 0;
            else s2.cmp.steps = s2.steps == 10 ? 50 : 10;
        }
        return restart(v, &s2, v->k);
    }
    case DN_ACT_LAYOUT_TOGGLE: v->look.layout = !v->look.layout; return 1;
    case DN_ACT_THEME_TOGGLE: v->look.theme = !v->look.theme; return 1;
    case DN_ACT_SMOOTH_TOGGLE: v->look.smooth = !v->look.smooth; return 1;
    case DN_ACT_PANEL_TOGGLE:
        if (a.arg < 0 || a.arg >= DN_PANEL_KINDS) return 0;
        v->set.panels = dn_view_panels(v) ^ (1u << a.arg); /* from what is on screen */
        if (v->set.panels == DN_PANEL_ALL && v->look.layout == DN_LAYOUT_PRESENTER)
            v->set.panels &= ~(unsigned)DN_PANEL_HIST; /* "all" would read as "none chosen" */
        return 1;
    case DN_ACT_COND_TOGGLE: case DN_ACT_CLASS_NEXT: case DN_ACT_CLASS_SET: case DN_ACT_CFG_UP:
    case DN_ACT_CFG_DOWN: case DN_ACT_SAMPLER_NEXT: case DN_ACT_STEPS_NEXT: case DN_ACT_NEW_SEED:
    case DN_ACT_MODE_TOGGLE: case DN_ACT_IMG2IMG: /* the run's settings: settings_for, above */
    case DN_ACT_COUNT: break;
    }
    return 0;
}

/* The keys a teacher is likely to press next, whose runs dn_view_idle computes ahead. */
static const dn_act likely_next[] = {DN_ACT_CFG_UP, DN_ACT_CFG_DOWN, DN_ACT_COND_TOGGLE, DN_ACT_CLASS_NEXT, DN_ACT_NEW_SEED};

int dn_view_idle(dn_view *v) {
    if (!v->run || dn_run_failed(v->run) || dn_run_ready(v->run) < dn_view_frames(v)) return 0; /* the screen's first */
    if (v->set.steps > DN_VIEW_AHEAD_STEPS) return 0; /* long runs: seconds of work each, and memory */
    if (v->set.cmp.on) return 0;                      /* the keys change B there: nothing likely to guess */
    if (v->ahead) {
        if (dn_run_ready(v->ahead) < dn_run_frames(v->ahead) && !dn_run_failed(v->ahead)) return 0; /* under way */
        v->ahead = NULL;
    }
    for (size_t i = 0; i < sizeof likely_next / sizeof likely_next[0]; i++) {
        dn_view_settings s;
        int k;
        if (settings_for(v, DN_ACT(likely_next[i]), &s, &k, NULL) != 1) continue;
        dn_run_config c;
        run_config(v, &s, &c);
        int kept = 0;
        for (int j = 0; j < DN_VIEW_CACHE && v->cache[j]; j++) kept |= same_run(dn_run_config_of(v->cache[j]), &c);
        if (kept) continue;
        dn_run *r = dn_run_start(&c);
        if (!r) return 0; /* out of memory: never mind, it was only ahead */
        dn_run_want(r, dn_run_frames(r) - 1);
        cache_put(v, r);
        dn_run_want(r, dn_run_frames(r) - 1); /* cache_put paused it: this one computes */
        v->ahead = r;
        return 1;
    }
    return 0;
}

unsigned dn_view_panels(const dn_view *v) {
    unsigned p = v->set.panels;
    if (v->look.layout != DN_LAYOUT_PRESENTER || p != DN_PANEL_ALL) return p;
    p = DN_PANEL_NOISE | DN_PANEL_TIMELINE | DN_PANEL_NUMBERS;
    if (v->set.mode == DN_RUN_REVERSE) p |= DN_PANEL_X0;
    return p;
}

int dn_view_tick(dn_view *v, double dt) {
    if (!v->playing) return 0;
    int n = dn_view_frames(v);
    if (v->k >= n - 1) {
        v->playing = 0;
        return 0;
    }
    v->play_acc += dt;
    double step = 1.0 / (double)dn_view_speeds[v->speed];
    int moved = 0;
    while (v->play_acc >= step && v->k < n - 1) {
        if (!dn_run_frame_get(v->run, v->k + 1)) { /* wait for the worker; do not pile up time */
            v->play_acc = step;
            break;
        }
        v->play_acc -= step;
        v->k++;
        moved = 1;
    }
    if (v->k >= n - 1) v->playing = 0;
    return moved;
}

const dn_run_frame *dn_view_frame(const dn_view *v, int *shown) { return dn_view_frame_at(v, v->k, shown); }

const dn_run_frame *dn_view_frame_at(const dn_view *v, int at, int *shown) {
    if (!v->run) return NULL;
    for (int k = at; k >= 0; k--) {
        const dn_run_frame *f = dn_run_frame_get(v->run, k);
        if (f) {
            if (shown) *shown = k;
            return f;
        }
        if (k == at && dn_run_ready(v->run) <= k) k = dn_run_ready(v->run); /* skip to the last ready */
    }
    return NULL;
}

void dn_view_describe(const dn_view *v, char *buf, int size) {
    const dn_view_settings *s = &v->set;
    char start[48] = "";
    if (s->mode == DN_RUN_REVERSE && s->start > 0) snprintf(start, sizeof start, " start=%d", s->start);
    snprintf(buf, (size_t)size, "mode=%s model=%s image=%s%s sampler=%s steps=%d seed=%llu class=%s cond=%s cfg=%g",
             s->mode == DN_RUN_FORWARD ? "forward" : "reverse", v->model_name[0] ? v->model_name : "none",
             v->image_name, start, dn_sampler_kind_name(s->sampler), s->steps, (unsigned long long)s->seed,
             v->num_classes ? dn_view_class_name(v, s->class_id) : "none", s->cond ? "on" : "off",
             (double)s->cfg_scale);
}

/* ---- the command that makes the same run ------------------------------------------------------ */

/* Append s to buf in single quotes for a POSIX shell (' becomes '\'').*/
static void put_quoted(char *buf, size_t size, const char *s) {
    size_t len = strlen(buf);
    if (len + 2 >= size) return;
    buf[len++] = '\'';
    for (; *s && len + 5 < size; s++) {
        if (*s == '\'') {
            memcpy(buf + len, "'\\''", 4);
            len += 4;
        } else buf[len++] = *s;
    }
    buf[len++] = '\'';
    buf[len] = '\0';
}

static void put(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char *buf, size_t size, const char *fmt, ...) {
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

void dn_view_command(const dn_view *v, char *c, size_t n) {
    const dn_view_settings *s = &v->set;
    if (n == 0) return;
    c[0] = '\0';
    put(c, n, "diffuse export");
    if (s->model[0]) put(c, n, " --model "), put_quoted(c, n, s->model);
    else put(c, n, " --no-model");
    if (s->image[0]) put(c, n, " --image "), put_quoted(c, n, s->image);
    else if (s->image_index) put(c, n, " --index %d", s->image_index);
    put(c, n, " --mode %s", s->mode == DN_RUN_FORWARD ? "forward" : "reverse");
    if (s->mode == DN_RUN_REVERSE && s->start) put(c, n, " --start %d", s->start);
    put(c, n, " --sampler %s --steps %d --seed %llu", dn_sampler_kind_name(s->sampler), s->steps,
        (unsigned long long)s->seed);
    if (v->num_classes && s->cond) {
        put(c, n, " --class "), put_quoted(c, n, dn_view_class_name(v, s->class_id));
        put(c, n, " --cfg-scale %g", (double)s->cfg_scale);
    } else if (v->num_classes) put(c, n, " --uncond");
    if (s->overlay) put(c, n, " --overlay");
    if (s->guidance) put(c, n, " --guidance");
    if (s->caption[0]) put(c, n, " --caption "), put_quoted(c, n, s->caption);
}
