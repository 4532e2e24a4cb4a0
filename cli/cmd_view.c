/* cmd_view.c — `diffuse view`: the SDL2 window a class watches. It owns nothing but the window:
 * keys and mouse become actions on a dn_view (viz/view.h), the one renderer (viz/render.h) draws
 * the state into a canvas, and the canvas goes to the screen through a streaming texture.
 *
 * Setup:    parse the options (shared with `diffuse export`), load model and image, open SDL.
 * Loop:     wait for events up to 16 ms; each key is looked up in a table and applied as an action;
 *           play mode advances by elapsed time; redraw when anything visible changed, including
 *           a frame that the worker thread just finished.
 * Teardown: free the view (joins the worker), the texture, renderer, window. */
#include "cli.h"
#include "commands.h"

#include <SDL.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "canvas.h"
#include "err.h"
#include "parallel.h"
#include "render.h"
#include "lesson.h"
#include "view.h"

static const char usage[] =
    "usage: diffuse view [--model M] [--image PHOTO | --index I] [--mode forward|reverse]\n"
    "                    [--class NAME] [--uncond] [--cfg-scale W] [--sampler S] [--steps N]\n"
    "                    [--seed S] [--start I] [--size WxH] [--fullscreen] [--trace] [-o DIR]\n"
    "\n"
    "Opens a window that animates diffusion step by step, for explaining it to a class:\n"
    "forward (a picture dissolving into noise) or reverse (noise becoming a picture), with the\n"
    "noise, the U-Net's prediction, the clean image it implies, the step's drift and random\n"
    "motion, the schedule and every number. Press H in the window for all keys.\n"
    "Without a display, use 'diffuse export' with the same options to write the slides.\n"
    "\n"
    "  --model M        model file (default assets/models/pets.dfm if present, else none:\n"
    "                   forward only); --no-model to run without one\n"
    "  --image PHOTO    your own photo (PNG, JPEG, ...), cropped to a square at the model's size\n"
    "  --index I        training image number I of the model's data set (default 0)\n"
    "  --mode M         forward (default) or reverse (denoise from pure noise)\n"
    "  --start I        reverse from the photo noised to sampler step I (img2img), 0 = pure noise\n"
    "  --class NAME     class name or number (default 0); --uncond: conditioning off\n"
    "  --cfg-scale W    guidance scale (default: the model's recommendation, else 3)\n"
    "  --sampler S      ddpm, ddim (default), euler, dpm++2m\n"
    "  --steps N        sampler steps, also the forward run's steps (default 50)\n"
    "  --seed S         seed of the noise (default 0)\n"
    "  --caption TEXT   text for the caption area (default: the current step explained)\n"
    "  --overlay        the noise drawn over x_t (key O); --guidance: the guidance breakdown (G)\n"
    "  --size WxH       window size (default 1280x720); --fullscreen starts fullscreen\n"
    "  --trace          print every action and the resulting step to stdout (for tests)\n"
    "  --fps N          redraw at most N times a second (default 60)\n"
    "  -o, --out DIR    where E exports (default slides)\n"
    "  --threads N      threads for the U-Net (default: all cores)\n";

/* ---- options shared with `diffuse export` ------------------------------------------------------ */

typedef struct {
    dn_view_settings set;
    const char *class_name; /* --class, resolved once the model's names are known */
    int uncond, cfg_given, fullscreen, trace, fps;
    int w, h;               /* --size */
    const char *out;        /* -o DIR */
    char command[2400];     /* the command that makes the same run, for the PNG text chunks */
} view_opts;

static int view_args(int argc, char **argv, const char *use, view_opts *o) {
    memset(o, 0, sizeof *o);
    dn_view_settings_default(&o->set);
    const char *model = NULL, *image = NULL, *mode = "forward", *sampler = "ddim", *caption = NULL;
    const char *size = NULL;
    int index = 0, steps = 50, seed = 0, start = 0, nomodel = 0, threads = 0;
    float cfg = -1;
    o->out = "slides";
    const cli_opt opts[] = {
        {"--model", "-m", OPT_STR, &model, 0, 0},
        {"--no-model", NULL, OPT_FLAG, &nomodel, 0, 0},
        {"--image", NULL, OPT_STR, &image, 0, 0},
        {"--index", NULL, OPT_INT, &index, 0, 1e9},
        {"--mode", NULL, OPT_STR, &mode, 0, 0},
        {"--start", NULL, OPT_INT, &start, 0, 1000000},
        {"--class", NULL, OPT_STR, &o->class_name, 0, 0},
        {"--uncond", NULL, OPT_FLAG, &o->uncond, 0, 0},
        {"--cfg-scale", NULL, OPT_FLOAT, &cfg, 0, 100},
        {"--sampler", NULL, OPT_STR, &sampler, 0, 0},
        {"--steps", NULL, OPT_INT, &steps, 1, 100000},
        {"--seed", NULL, OPT_INT, &seed, 0, 2147483647.0},
        {"--caption", NULL, OPT_STR, &caption, 0, 0},
        {"--size", NULL, OPT_STR, &size, 0, 0},
        {"--fullscreen", NULL, OPT_FLAG, &o->fullscreen, 0, 0},
        {"--trace", NULL, OPT_FLAG, &o->trace, 0, 0},
        {"--out", "-o", OPT_STR, &o->out, 0, 0},
        {"--threads", NULL, OPT_INT, &threads, 0, DN_MAX_THREADS},
        {"--fps", NULL, OPT_INT, &o->fps, 1, 60},
        {"--overlay", NULL, OPT_FLAG, &o->set.overlay, 0, 0},
        {"--guidance", NULL, OPT_FLAG, &o->set.guidance, 0, 0},
    };
    int npos = 0;
    int rc = cli_parse(argc, argv, use, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, &npos);
    if (rc) return rc;
    const char *cmd = argv[0];
    dn_view_settings *s = &o->set;
    if (!strcmp(mode, "forward")) s->mode = DN_RUN_FORWARD;
    else if (!strcmp(mode, "reverse")) s->mode = DN_RUN_REVERSE;
    else return cli_error(cmd, EXIT_USAGE, "--mode '%s': choose forward or reverse", mode);
    if (dn_sampler_kind_parse(sampler, &s->sampler) < 0) return cli_error(cmd, EXIT_USAGE, "%s", dn_error());
    if (image && index) return cli_error(cmd, EXIT_USAGE, "--image and --index exclude each other");
    if (o->class_name && o->uncond) return cli_error(cmd, EXIT_USAGE, "--class and --uncond exclude each other");
    if (start > 0 && s->mode != DN_RUN_REVERSE) return cli_error(cmd, EXIT_USAGE, "--start is for --mode reverse (img2img)");
    if (start >= steps) return cli_error(cmd, EXIT_USAGE, "--start %d: choose 0..%d (below --steps)", start, steps - 1);
    o->w = 1280, o->h = 720;
    if (size && (sscanf(size, "%dx%d", &o->w, &o->h) != 2 || o->w < 320 || o->h < 180 || o->w > 7680 || o->h > 4320))
        return cli_error(cmd, EXIT_USAGE, "--size '%s': give WIDTHxHEIGHT, e.g. 1920x1080 (320x180 .. 7680x4320)", size);
    char def[1024];
    if (!model && !nomodel) {
        cli_data_path(def, sizeof def, "assets/models/pets.dfm");
        if (access(def, R_OK) == 0) model = def;
    }
    if (model && nomodel) return cli_error(cmd, EXIT_USAGE, "--model and --no-model exclude each other");
    if (model && strlen(model) >= sizeof s->model) return cli_error(cmd, EXIT_USAGE, "--model: path too long");
    if (image && strlen(image) >= sizeof s->image) return cli_error(cmd, EXIT_USAGE, "--image: path too long");
    snprintf(s->model, sizeof s->model, "%s", model ? model : "");
    snprintf(s->image, sizeof s->image, "%s", image ? image : "");
    snprintf(s->caption, sizeof s->caption, "%s", caption ? caption : "");
    s->image_index = index;
    s->steps = steps;
    s->seed = (uint64_t)seed;
    s->start = start;
    s->cond = !o->uncond;
    o->cfg_given = cfg >= 0;
    if (cfg >= 0) s->cfg_scale = cfg;
    dn_threads_set(threads);
    return 0;
}

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

/* The `diffuse export` command that makes the same run again, for the PNG text chunks. */
static void make_command(view_opts *o, const dn_view *v) {
    const dn_view_settings *s = &v->set;
    char *c = o->command;
    size_t n = sizeof o->command;
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

/* After dn_view_init: the class by name or number and the model's recommended guidance. */
static int view_finish(const char *cmd, dn_view *v, view_opts *o) {
    dn_view_settings s = v->set;
    if (v->has_net && !o->cfg_given) {
        const char *rec = dn_model_meta_get(&v->meta, "sample.cfg_scale");
        float w = rec ? strtof(rec, NULL) : 3.0f;
        if (w >= 0 && w <= 100) s.cfg_scale = w;
    }
    if (o->class_name) {
        int id = -1;
        for (int k = 0; k < v->num_classes; k++)
            if (!strcasecmp(dn_view_class_name(v, k), o->class_name)) id = k;
        char *end;
        long num = strtol(o->class_name, &end, 10);
        if (id < 0 && *end == '\0' && num >= 0 && num < v->num_classes) id = (int)num;
        if (id < 0) {
            char known[1024] = "";
            size_t len = 0;
            for (int k = 0; k < v->num_classes && len < sizeof known; k++)
                len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", k ? ", " : "", dn_view_class_name(v, k));
            return cli_error(cmd, EXIT_USAGE, "no class '%s' (the model knows: %s)", o->class_name,
                             v->num_classes ? known : "none");
        }
        s.class_id = id;
    }
    if (memcmp(&s, &v->set, sizeof s) != 0 && dn_view_apply(v, &s) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    make_command(o, v);
    return 0;
}

/* ---- keys -------------------------------------------------------------------------------------- */

/* The only place keycodes meet actions. shift: 1 = only with Shift, 0 = only without, -1 = either. */
static const struct {
    SDL_Keycode key;
    int shift;
    dn_act op;
} keymap[] = {
    {SDLK_RIGHT, 0, DN_ACT_STEP_NEXT},     {SDLK_LEFT, 0, DN_ACT_STEP_PREV},
    {SDLK_RIGHT, 1, DN_ACT_STEP_NEXT10},   {SDLK_LEFT, 1, DN_ACT_STEP_PREV10},
    {SDLK_HOME, -1, DN_ACT_FIRST},         {SDLK_END, -1, DN_ACT_LAST},
    {SDLK_SPACE, -1, DN_ACT_PLAY_TOGGLE},  {SDLK_UP, -1, DN_ACT_SPEED_UP},
    {SDLK_DOWN, -1, DN_ACT_SPEED_DOWN},    {SDLK_c, -1, DN_ACT_COND_TOGGLE},
    {SDLK_TAB, -1, DN_ACT_CLASS_NEXT},     {SDLK_RIGHTBRACKET, -1, DN_ACT_CFG_UP},
    {SDLK_LEFTBRACKET, -1, DN_ACT_CFG_DOWN}, {SDLK_g, -1, DN_ACT_GUIDANCE_TOGGLE},
    {SDLK_s, -1, DN_ACT_SAMPLER_NEXT},     {SDLK_n, -1, DN_ACT_STEPS_NEXT},
    {SDLK_r, -1, DN_ACT_NEW_SEED},         {SDLK_o, -1, DN_ACT_OVERLAY_TOGGLE},
    {SDLK_m, -1, DN_ACT_MODE_TOGGLE},      {SDLK_i, -1, DN_ACT_IMG2IMG},
    {SDLK_e, -1, DN_ACT_EXPORT},           {SDLK_f, -1, DN_ACT_FULLSCREEN},
    {SDLK_F11, -1, DN_ACT_FULLSCREEN},     {SDLK_h, -1, DN_ACT_HELP_TOGGLE},
    {SDLK_F1, -1, DN_ACT_HELP_TOGGLE},     {SDLK_q, -1, DN_ACT_QUIT},
    {SDLK_ESCAPE, -1, DN_ACT_QUIT},
};

static dn_action key_action(SDL_Keycode key, Uint16 mod) {
    int shift = (mod & KMOD_SHIFT) != 0;
    if (key >= SDLK_0 && key <= SDLK_9) return (dn_action){DN_ACT_CLASS_SET, (int)(key - SDLK_0)};
    if (key >= SDLK_KP_1 && key <= SDLK_KP_9) return (dn_action){DN_ACT_CLASS_SET, (int)(key - SDLK_KP_1) + 1};
    if (key == SDLK_KP_0) return (dn_action){DN_ACT_CLASS_SET, 0};
    for (size_t i = 0; i < sizeof keymap / sizeof keymap[0]; i++)
        if (keymap[i].key == key && (keymap[i].shift < 0 || keymap[i].shift == shift)) return DN_ACT(keymap[i].op);
    return DN_ACT(DN_ACT_NONE);
}

static void trace(const view_opts *o, const dn_view *v, dn_action a, int rc) {
    if (!o->trace) return;
    float t = dn_render_frame_t(v, v->k);
    printf("action=%s arg=%d rc=%d k=%d frames=%d t=%g mode=%s sampler=%s steps=%d seed=%llu class=%d cond=%d cfg=%g "
           "help=%d overlay=%d guidance=%d playing=%d\n",
           dn_act_name(a.op), a.arg, rc, v->k, dn_view_frames(v), (double)t,
           v->set.mode == DN_RUN_FORWARD ? "forward" : "reverse", dn_sampler_kind_name(v->set.sampler), v->set.steps,
           (unsigned long long)v->set.seed, v->set.class_id, v->set.cond, (double)v->set.cfg_scale, v->help,
           v->set.overlay, v->set.guidance, v->playing);
    fflush(stdout);
}

/* ---- the window -------------------------------------------------------------------------------- */

typedef struct {
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    dn_canvas cv;
    dn_render_fonts fonts;
} screen;

/* Make canvas, texture and fonts match the window's pixel size. 0 or -1 + dn_error. */
static int screen_fit(screen *sc) {
    int w, h;
    if (SDL_GetRendererOutputSize(sc->ren, &w, &h) != 0) return dn_fail("SDL_GetRendererOutputSize: %s", SDL_GetError());
    if (w < 1 || h < 1) return 0;
    if (sc->tex && sc->cv.w == w && sc->cv.h == h) return 0;
    if (sc->tex) SDL_DestroyTexture(sc->tex);
    sc->tex = SDL_CreateTexture(sc->ren, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_STREAMING, w, h);
    if (!sc->tex) return dn_fail("SDL_CreateTexture %dx%d: %s", w, h, SDL_GetError());
    dn_canvas_free(&sc->cv);
    if (dn_canvas_init(&sc->cv, w, h, 0) < 0) return -1;
    return dn_render_fonts_fit(&sc->fonts, w, h);
}

static int screen_show(screen *sc, const dn_view *v) {
    if (dn_render(&sc->cv, v, &sc->fonts) < 0) return -1;
    if (SDL_UpdateTexture(sc->tex, NULL, sc->cv.px, sc->cv.w * 4) != 0)
        return dn_fail("SDL_UpdateTexture: %s", SDL_GetError());
    SDL_RenderClear(sc->ren);
    SDL_RenderCopy(sc->ren, sc->tex, NULL, NULL);
    SDL_RenderPresent(sc->ren);
    return 0;
}

/* E: the export runs a file at a time between events, so the window stays live and shows its
 * progress; keys wait until it is done, except Esc, which cancels it. *ex is the export going on. */
static void export_start(dn_export **ex, dn_view *v, view_opts *o) {
    v->export_requested = 0;
    make_command(o, v); /* the settings as they are now, after the keys pressed */
    *ex = dn_export_begin(v, o->out, 1280, 720, o->command, 10); /* slides show the message before E */
    if (!*ex) {
        snprintf(v->message, sizeof v->message, "export failed: %.200s", dn_error());
        if (o->trace) printf("export=-1 dir=%s\n", o->out), fflush(stdout);
    }
}

/* Write files for up to ~40 ms; *ex becomes NULL when the export has ended. */
static void export_continue(dn_export **ex, dn_view *v, view_opts *o) {
    Uint64 t0 = SDL_GetPerformanceCounter(), f = SDL_GetPerformanceFrequency();
    int rc;
    do rc = dn_export_step(*ex, v, 0);
    while (rc == 1 && (SDL_GetPerformanceCounter() - t0) * 1000 < 40 * f);
    int done, total;
    dn_export_progress(*ex, &done, &total);
    if (rc > 0) {
        snprintf(v->message, sizeof v->message, "exporting to %.200s/: frame %d of %d (Esc cancels)", o->out, done, total);
        return;
    }
    if (rc < 0) snprintf(v->message, sizeof v->message, "export failed: %.200s", dn_error());
    else snprintf(v->message, sizeof v->message, "exported %d frames, contact.png and run.gif to %.150s/", done, o->out);
    if (o->trace) printf("export=%d dir=%s\n", rc < 0 ? -1 : done, o->out), fflush(stdout);
    dn_export_free(*ex);
    *ex = NULL;
}

static void export_cancel(dn_export **ex, dn_view *v, view_opts *o) {
    int done, total;
    dn_export_progress(*ex, &done, &total);
    dn_export_free(*ex);
    *ex = NULL;
    snprintf(v->message, sizeof v->message, "export cancelled: %d of %d frames written to %.150s/ (no contact sheet, no GIF)",
             done, total, o->out);
    if (o->trace) printf("export=cancelled dir=%s\n", o->out), fflush(stdout);
}

static int headless_export(const char *cmd, dn_view *v, const view_opts *o) {
    int n = dn_render_export(v, o->out, o->w, o->h, o->command, 10);
    if (n < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    printf("wrote %s/frame_000.png .. frame_%03d.png, contact.png, run.gif (%dx%d): %s\n", o->out, n - 1, o->w, o->h,
           o->command);
    return EXIT_OK;
}

static int have_display(void) {
    const char *disp = getenv("DISPLAY"), *way = getenv("WAYLAND_DISPLAY");
    return (disp && *disp) || (way && *way);
}

static int no_display(const char *cmd) {
    return cli_error(cmd, EXIT_FAIL, "no display (DISPLAY is not set); use 'diffuse export ... -o DIR' to write the slides instead");
}

static int window_run(const char *cmd, dn_view *vp, view_opts *op, const dn_lesson *l);

int view_command(int argc, char **argv, const char *use, int headless) {
    const char *cmd = argv[0];
    view_opts o;
    int rc = view_args(argc, argv, use ? use : usage, &o);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    if (headless) {
        dn_view hv;
        if (dn_view_init(&hv, &o.set) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        rc = view_finish(cmd, &hv, &o);
        if (rc == 0) rc = headless_export(cmd, &hv, &o);
        dn_view_free(&hv);
        return rc;
    }
    if (!have_display()) return no_display(cmd);
    dn_view v;
    if (dn_view_init(&v, &o.set) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    if ((rc = view_finish(cmd, &v, &o)) != 0) {
        dn_view_free(&v);
        return rc;
    }
    return window_run(cmd, &v, &o, NULL);
}

/* ---- lessons: the same window, with Right/Left crossing slides and PageUp/PageDown -------------- */

static void lesson_notice(dn_view *v, const dn_lesson *l, int slide, int trace_on) {
    snprintf(v->message, sizeof v->message, "slide %d of %d  (PageDown: next slide)", slide + 1, l->n_slides);
    const dn_slide *s = &l->slides[slide];
    printf("-- slide %d of %d: %s\n", slide + 1, l->n_slides, s->title);
    if (s->notes[0]) printf("   notes: %s\n", s->notes);
    if (trace_on) printf("slide=%d\n", slide + 1);
    fflush(stdout);
}

int lesson_window(const dn_lesson *l, int w, int h, int trace_on) {
    const char *cmd = "lesson";
    if (!have_display()) {
        fprintf(stderr, "diffuse lesson: no display; use 'diffuse lesson N --export DIR' to write the slides instead\n");
        return EXIT_FAIL;
    }
    view_opts o;
    memset(&o, 0, sizeof o);
    o.w = w, o.h = h, o.out = "slides", o.trace = trace_on;
    dn_view v;
    memset(&v, 0, sizeof v);
    if (dn_lesson_show(&v, l, 0) < 0) {
        dn_view_free(&v);
        return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    }
    make_command(&o, &v);
    printf("lesson: %s (%d slides). Right/Left: steps and slides, PageDown/PageUp: slides, H: keys, Q: quit\n",
           l->title, l->n_slides);
    lesson_notice(&v, l, 0, trace_on);
    return window_run(cmd, &v, &o, l);
}

/* The window loop of `diffuse view` and `diffuse lesson` (l != NULL). Frees v. */
static int window_run(const char *cmd, dn_view *vp, view_opts *op, const dn_lesson *l) {
    dn_view *v = vp;
    view_opts o = *op;
    int slide = 0;
    const char *disp = getenv("DISPLAY"), *way = getenv("WAYLAND_DISPLAY");
    int status = EXIT_FAIL;
    dn_export *ex = NULL; /* an export going on (E) */
    screen sc;
    memset(&sc, 0, sizeof sc);
    /* SDL falls back to its invisible "offscreen" and "dummy" drivers when the display named in
     * DISPLAY cannot be reached: a window nobody sees. Ask for the display that is named, and
     * refuse the invisible drivers unless SDL_VIDEODRIVER asks for them. */
    const char *asked = getenv("SDL_VIDEODRIVER");
    if (!asked || !*asked) {
        if (disp && *disp && (!way || !*way)) SDL_setenv("SDL_VIDEODRIVER", "x11", 1);
        else if (way && *way && (!disp || !*disp)) SDL_setenv("SDL_VIDEODRIVER", "wayland", 1);
    }
    const char *drv = NULL;
    if (SDL_Init(SDL_INIT_VIDEO) != 0 || !(drv = SDL_GetCurrentVideoDriver()) ||
        ((!asked || !*asked) && (!strcmp(drv, "offscreen") || !strcmp(drv, "dummy")))) {
        cli_error(cmd, EXIT_FAIL, "no display (%s%s%s); use 'diffuse export ... -o DIR' to write the slides instead",
                  drv ? "only SDL's invisible driver " : SDL_GetError(), drv ? drv : "", drv ? " works" : "");
        SDL_Quit();
        dn_view_free(v);
        return EXIT_FAIL;
    }
    Uint32 flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI | (o.fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
    sc.win = SDL_CreateWindow("diffuse view", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, o.w, o.h, flags);
    if (!sc.win) {
        cli_error(cmd, EXIT_FAIL, "cannot open a window (%s); use 'diffuse export' to write the slides instead", SDL_GetError());
        goto done;
    }
    v->fullscreen = o.fullscreen;
    sc.ren = SDL_CreateRenderer(sc.win, -1, SDL_RENDERER_PRESENTVSYNC);
    if (!sc.ren) sc.ren = SDL_CreateRenderer(sc.win, -1, SDL_RENDERER_SOFTWARE);
    if (!sc.ren) {
        cli_error(cmd, EXIT_FAIL, "SDL_CreateRenderer: %s", SDL_GetError());
        goto done;
    }
    if (screen_fit(&sc) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    if (o.trace) {
        trace(&o, v, DN_ACT(DN_ACT_NONE), 0);
    }
    Uint64 last = SDL_GetPerformanceCounter();
    long sig = -1;
    int dragging = 0, dirty = 1, fullscreen = o.fullscreen;
    Uint32 frame_ms = 1000 / (Uint32)(o.fps ? o.fps : 60);
    while (!v->quit) {
        SDL_Event e;
        int got = SDL_WaitEventTimeout(&e, ex ? 1 : (int)frame_ms); /* an export works between events */
        while (got) {
            dn_action a = DN_ACT(DN_ACT_NONE);
            if (ex && (e.type == SDL_KEYDOWN || e.type == SDL_QUIT || e.type == SDL_MOUSEBUTTONDOWN)) {
                /* exporting: Esc cancels, Q or closing the window cancels and quits, the rest waits */
                int quit = e.type == SDL_QUIT || (e.type == SDL_KEYDOWN && e.key.keysym.sym == SDLK_q);
                if (quit || (e.type == SDL_KEYDOWN && e.key.keysym.sym == SDLK_ESCAPE)) export_cancel(&ex, v, &o);
                if (quit) v->quit = 1;
                dirty = 1;
                got = SDL_PollEvent(&e);
                continue;
            }
            switch (e.type) {
            case SDL_QUIT: a = DN_ACT(DN_ACT_QUIT); break;
            case SDL_KEYDOWN: a = key_action(e.key.keysym.sym, e.key.keysym.mod); break;
            case SDL_MOUSEBUTTONDOWN:
            case SDL_MOUSEMOTION: {
                if (e.type == SDL_MOUSEMOTION && !dragging) break;
                int wx = e.type == SDL_MOUSEMOTION ? e.motion.x : e.button.x;
                int wy = e.type == SDL_MOUSEMOTION ? e.motion.y : e.button.y;
                int ww, wh;
                SDL_GetWindowSize(sc.win, &ww, &wh);
                int px = ww ? wx * sc.cv.w / ww : wx, py = wh ? wy * sc.cv.h / wh : wy;
                int k = dn_render_timeline_pick(v, sc.cv.w, sc.cv.h, px, py);
                if (e.type == SDL_MOUSEBUTTONDOWN && e.button.button == SDL_BUTTON_LEFT) dragging = k >= 0;
                if (k >= 0 && dragging) a = (dn_action){DN_ACT_SCRUB_TO, k};
                break;
            }
            case SDL_MOUSEBUTTONUP: dragging = 0; break;
            case SDL_WINDOWEVENT: dirty = 1; break;
            default: break;
            }
            if (l && e.type == SDL_KEYDOWN) { /* in a lesson these keys walk the slides */
                SDL_Keycode key = e.key.keysym.sym;
                int dir = key == SDLK_PAGEDOWN ? 2 : key == SDLK_PAGEUP ? -2 : 0;
                if (!(e.key.keysym.mod & KMOD_SHIFT)) dir = key == SDLK_RIGHT ? 1 : key == SDLK_LEFT ? -1 : dir;
                if (dir) {
                    int before = slide, r;
                    if (dir == 1 || dir == -1) r = dn_lesson_step(v, l, &slide, dir);
                    else {
                        int next = slide + dir / 2;
                        r = next >= 0 && next < l->n_slides ? dn_lesson_show(v, l, next) : 0;
                        if (r == 0 && next >= 0 && next < l->n_slides) slide = next, r = 1;
                    }
                    if (r < 0) snprintf(v->message, sizeof v->message, "%.250s", dn_error());
                    if (slide != before) lesson_notice(v, l, slide, o.trace);
                    trace(&o, v, DN_ACT(dir > 0 ? DN_ACT_STEP_NEXT : DN_ACT_STEP_PREV), r);
                    dirty = 1;
                    a = DN_ACT(DN_ACT_NONE);
                }
            }
            if (a.op != DN_ACT_NONE) {
                int r = dn_view_act(v, a);
                trace(&o, v, a, r);
                dirty = 1;
            }
            got = SDL_PollEvent(&e);
        }
        if (v->fullscreen != fullscreen) {
            fullscreen = v->fullscreen;
            SDL_SetWindowFullscreen(sc.win, fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
            dirty = 1;
        }
        Uint64 now = SDL_GetPerformanceCounter();
        double dt = (double)(now - last) / (double)SDL_GetPerformanceFrequency();
        last = now;
        if (dn_view_tick(v, dt)) {
            dirty = 1;
            if (l) { /* a playing slide stops at its last frame */
                int from, to;
                dn_lesson_range(v, &l->slides[slide], &from, &to);
                if (v->k >= to) {
                    if (v->k > to) dn_view_act(v, (dn_action){DN_ACT_SCRUB_TO, to});
                    v->playing = 0;
                }
            }
            if (o.trace) trace(&o, v, DN_ACT(DN_ACT_NONE), 1);
        }
        if (v->export_requested && !ex) export_start(&ex, v, &o), dirty = 1;
        if (ex) {
            export_continue(&ex, v, &o);
            dirty = 1;
        }
        /* redraw when the frame on screen would differ: a new computed frame, a new run */
        int shown = -1;
        dn_view_frame(v, &shown);
        long s2 = ((long)v->generation * 100003L + v->k) * 100003L + shown * 7L + (dn_run_ready(v->run) > v->k);
        if (s2 != sig) dirty = 1, sig = s2;
        if (dirty) {
            if (screen_fit(&sc) < 0 || screen_show(&sc, v) < 0) {
                cli_error(cmd, EXIT_FAIL, "%s", dn_error());
                goto done;
            }
            dirty = 0;
        }
    }
    status = EXIT_OK;
done:
    dn_export_free(ex);
    dn_view_free(v);
    dn_render_fonts_close(&sc.fonts);
    dn_canvas_free(&sc.cv);
    if (sc.tex) SDL_DestroyTexture(sc.tex);
    if (sc.ren) SDL_DestroyRenderer(sc.ren);
    if (sc.win) SDL_DestroyWindow(sc.win);
    SDL_Quit();
    return status;
}

int cmd_view(int argc, char **argv) {
    return view_command(argc, argv, NULL, 0);
}
