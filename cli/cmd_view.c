/* cmd_view.c — `diffuse view` (and the options `diffuse export` shares): parse the options, make
 * the view (viz/view.h: model, image, run), and open the window (viz/window.h), or, for export,
 * write the slides (viz/render.h). Also the window of `diffuse lesson`. */
#include "cli.h"
#include "commands.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/err.h"
#include "base/parallel.h"
#include "render.h"
#include "window.h"
#include "lesson.h"
#include "view.h"

static const char usage[] =
    "usage: diffuse view [--model M] [--image PHOTO | --index I] [--mode forward|reverse]\n"
    "                    [--class NAME] [--uncond] [--cfg-scale W] [--sampler S] [--steps N]\n"
    "                    [--seed S] [--start I] [--size WxH] [--fullscreen] [--present] [--light]\n"
    "                    [--trace] [-o DIR]\n"
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
    "  --present        the presenter layout: the picture and a few panels large, big type (key D)\n"
    "  --light          dark text on white, for projectors (key L); --smooth: smooth pictures (V)\n"
    "  --size WxH       window size (default 1280x720); --fullscreen starts fullscreen\n"
    "  --trace          print every action and the resulting step to stdout (for tests)\n"
    "  --fps N          redraw at most N times a second (default 60)\n"
    "  -o, --out DIR    where E exports (default slides)\n"
    "  --threads N      threads for the U-Net (default: all cores)\n";

/* ---- options shared with `diffuse export` ------------------------------------------------------ */

typedef struct {
    dn_view_settings set;
    const char *class_name; /* --class, resolved once the model's names are known */
    int uncond, cfg_given;
    dn_window_opts win;     /* --size, --fullscreen, --fps, --trace, -o */
    int present, light, smooth;
} view_opts;

static int view_args(int argc, char **argv, const char *use, view_opts *o) {
    memset(o, 0, sizeof *o);
    dn_view_settings_default(&o->set);
    const char *model = NULL, *image = NULL, *mode = "forward", *sampler = "ddim", *caption = NULL;
    const char *size = NULL;
    int index = 0, steps = 50, seed = 0, start = 0, nomodel = 0, threads = 0;
    float cfg = -1;
    o->win.out = "slides";
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
        {"--fullscreen", NULL, OPT_FLAG, &o->win.fullscreen, 0, 0},
        {"--trace", NULL, OPT_FLAG, &o->win.trace, 0, 0},
        {"--out", "-o", OPT_STR, &o->win.out, 0, 0},
        {"--threads", NULL, OPT_INT, &threads, 0, DN_MAX_THREADS},
        {"--fps", NULL, OPT_INT, &o->win.fps, 1, 60},
        {"--overlay", NULL, OPT_FLAG, &o->set.overlay, 0, 0},
        {"--guidance", NULL, OPT_FLAG, &o->set.guidance, 0, 0},
        {"--present", NULL, OPT_FLAG, &o->present, 0, 0},
        {"--light", NULL, OPT_FLAG, &o->light, 0, 0},
        {"--smooth", NULL, OPT_FLAG, &o->smooth, 0, 0},
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
    o->win.w = 1280, o->win.h = 720;
    int *w = &o->win.w, *h = &o->win.h;
    if (size && (sscanf(size, "%dx%d", w, h) != 2 || *w < 320 || *h < 180 || *w > 7680 || *h > 4320))
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

/* After dn_view_init: the look, the class by name or number and the model's recommended guidance. */
static int view_finish(const char *cmd, dn_view *v, view_opts *o) {
    v->look.layout = o->present ? DN_LAYOUT_PRESENTER : DN_LAYOUT_DASHBOARD;
    v->look.theme = o->light ? DN_THEME_LIGHT : DN_THEME_DARK;
    v->look.smooth = o->smooth;
    dn_view_settings s = v->set;
    if (v->has_net && !o->cfg_given) {
        s.cfg_scale = dn_model_cfg_scale(&v->meta);
    }
    if (o->class_name) {
        int id = dn_model_class_id(&v->meta, v->num_classes, o->class_name);
        if (id < 0) return cli_error(cmd, EXIT_USAGE, "the model %s", dn_error());
        s.class_id = id;
    }
    if (memcmp(&s, &v->set, sizeof s) != 0 && dn_view_apply(v, &s) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    return 0;
}

static int headless_export(const char *cmd, dn_view *v, const view_opts *o) {
    char command[2400];
    dn_view_command(v, command, sizeof command);
    const dn_window_opts *w = &o->win;
    int n = dn_render_export(v, w->out, w->w, w->h, command, 10);
    if (n < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    printf("wrote %s/frame_000.png .. frame_%03d.png, contact.png, run.gif (%dx%d): %s\n", w->out, n - 1, w->w, w->h,
           command);
    return EXIT_OK;
}

static int no_display(const char *cmd) {
    return cli_error(cmd, EXIT_FAIL, "no display (DISPLAY is not set); use 'diffuse export ... -o DIR' to write the slides instead");
}

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
    if (!dn_window_have_display()) return no_display(cmd);
    dn_view v;
    if (dn_view_init(&v, &o.set) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    if ((rc = view_finish(cmd, &v, &o)) != 0) {
        dn_view_free(&v);
        return rc;
    }
    if (dn_window_run(&v, &o.win, NULL) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    return EXIT_OK;
}

/* ---- lessons: the same window, with Right/Left crossing slides and PageUp/PageDown -------------- */

int lesson_window(const dn_lesson *l, int w, int h, int trace_on, const dn_view_look *look) {
    const char *cmd = "lesson";
    if (!dn_window_have_display()) {
        fprintf(stderr, "diffuse lesson: no display; use 'diffuse lesson N --export DIR' to write the slides instead\n");
        return EXIT_FAIL;
    }
    dn_window_opts o = {.w = w, .h = h, .out = "slides", .trace = trace_on};
    dn_view v;
    memset(&v, 0, sizeof v);
    if (dn_lesson_show(&v, l, 0) < 0) {
        dn_view_free(&v);
        return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    }
    if (look) v.look = *look;
    printf("lesson: %s (%d slides). Right/Left: steps and slides, PageDown/PageUp: slides, H: keys, Q: quit\n",
           l->title, l->n_slides);
    fflush(stdout);
    if (dn_window_run(&v, &o, l) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    return EXIT_OK;
}

int cmd_view(int argc, char **argv) {
    return view_command(argc, argv, NULL, 0);
}
