/* cmd_noise.c — `diffuse noise PHOTO -o DIR`: the forward diffusion of a photo as numbered PNG
 * frames plus one contact sheet for a slide.
 *
 * Setup: parse and check every option, load and square the photo, open the fonts.
 * Work:  one noise image eps ~ N(0, I) from --seed; for each shown t, x_t = q_sample(x_0, eps, t);
 *        encode every frame and the sheet as PNG in memory.
 * Write: create DIR, write each file atomically; if any write fails, remove what this run wrote.
 * So any error before the last step leaves no file at all, and no file is ever half written. */
#include "cli.h"
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fileio.h"
#include "font.h"
#include "diffusion/forward.h"
#include "data/image.h"
#include "base/rng.h"
#include "diffusion/schedule.h"
#include "sheet.h"

#define MAX_FRAMES 200

static const char usage[] =
    "usage: diffuse noise PHOTO -o DIR [--size 64] [--schedule linear] [--steps 1000]\n"
    "                     [--every 50] [--seed 42]\n"
    "\n"
    "Show the forward diffusion process q(x_t | x_0) on a photo: the picture drowning in noise.\n"
    "PHOTO (PNG, JPEG, BMP, GIF or TGA) is centre-cropped to a square and resized to --size,\n"
    "its pixels mapped from [0, 255] to [-1, 1]. Then for t = 0, every, 2*every, ... and the\n"
    "last step T-1:\n"
    "    x_t = sqrt(alpha-bar_t) * x_0 + sqrt(1 - alpha-bar_t) * eps     (DDPM eq. 4)\n"
    "with ONE fixed noise image eps drawn from --seed and used for every t, so the frames show\n"
    "the same noise growing while the photo fades. t counts from 0 as in diffusers: t = 0 already\n"
    "has one step of noise. Frames map [-1, 1] back to [0, 255]; values outside are clipped.\n"
    "\n"
    "writes into DIR (created if missing):\n"
    "  frame_0000.png, frame_0001.png, ...  one per shown t, --size pixels square; the PNG text\n"
    "                                       chunks record t, alpha-bar_t and the settings\n"
    "                                       (higher-numbered frames left by an earlier run are\n"
    "                                       removed, so the folder holds one sequence)\n"
    "  contact.png                          all frames in a row (rows if many), t under each,\n"
    "                                       pixels upscaled unblurred for a slide\n"
    "\n"
    "options:\n"
    "  -o, --out DIR        output folder (required)\n"
    "  --size N             side of the square frames in pixels, 8..1024 (default 64)\n"
    "  --schedule NAME      linear | scaled_linear | squaredcos_cap_v2 (default linear)\n"
    "  --steps T            number of diffusion steps T, 2..100000 (default 1000)\n"
    "  --every K            show every K-th step, 1..T (default 50); at most 200 frames\n"
    "  --seed S             seed of the noise image, 0..2147483647 (default 42)\n"
    "\n"
    "example: diffuse noise assets/images/cat.png -o frames --every 100\n";

/* The PNG text chunks hold Latin-1; keep the photo's name to printable ASCII. */
static void ascii_name(char *out, size_t size, const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t i = 0;
    for (; base[i] && i + 1 < size; i++)
        out[i] = (base[i] >= 32 && base[i] < 127) ? base[i] : '?';
    out[i] = '\0';
}

/* Frames at t = 0, every, 2 every, ... <= T-1, plus T-1 itself if that is not on the grid. */
static int count_frames(int steps, int every) {
    return (steps - 1) / every + 1 + ((steps - 1) % every != 0);
}

typedef struct {
    char path[4096];
    unsigned char *png;
    size_t len;
} out_file;

int cmd_noise(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *out_dir = NULL, *sched_name = "linear";
    int size = 64, steps = 1000, every = 50, seed = 42;
    const cli_opt opts[] = {
        {"--out", "-o", OPT_STR, &out_dir, 0, 0},
        {"--size", NULL, OPT_INT, &size, 8, 1024},
        {"--schedule", NULL, OPT_STR, &sched_name, 0, 0},
        {"--steps", NULL, OPT_INT, &steps, 2, 100000},
        {"--every", NULL, OPT_INT, &every, 1, 100000},
        {"--seed", NULL, OPT_INT, &seed, 0, 2147483647.0},
    };
    const char *pos[1];
    int npos = 0;
    int rc = cli_parse(argc, argv, usage, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &npos);
    if (rc < 0) return EXIT_OK; /* --help */
    if (rc != 0) return rc;

    /* ---- Setup: everything that can be wrong with the request is found here ---- */
    if (npos != 1) return cli_error(cmd, EXIT_USAGE, "which photo? (see 'diffuse noise --help')");
    if (!out_dir || !out_dir[0])
        return cli_error(cmd, EXIT_USAGE, "missing -o DIR, the output folder (see 'diffuse noise --help')");
    const char *photo = pos[0];
    dn_beta_kind kind;
    if (dn_beta_kind_parse(sched_name, &kind) != 0)
        return cli_error(cmd, EXIT_USAGE, "%s", dn_error());
    if (every > steps)
        return cli_error(cmd, EXIT_USAGE, "--every %d is more than --steps %d", every, steps);
    int nframes = count_frames(steps, every);
    if (nframes > MAX_FRAMES) {
        int k = every;
        while (count_frames(steps, k) > MAX_FRAMES) k++;
        return cli_error(cmd, EXIT_USAGE,
                         "--steps %d --every %d gives %d frames, more than %d; use --every %d or more",
                         steps, every, nframes, MAX_FRAMES, k);
    }

    /* every frame is kept as floats until the sheet is drawn: bound that memory */
    double mb = 3.0 * size * size * sizeof(float) * nframes / (1 << 20);
    if (mb > 512)
        return cli_error(cmd, EXIT_USAGE,
                         "--size %d with %d frames needs %.0f MB (limit 512); use a larger --every "
                         "or a smaller --size", size, nframes, mb);

    int status = EXIT_FAIL;
    dn_image photo_img = {0}, square = {0};
    dn_sched sched = {0};
    dn_font cap_font = {0}, title_font = {0};
    dn_canvas sheet = {0};
    float *x0 = NULL, *eps = NULL, *frames = NULL;
    unsigned char *rgb = NULL;
    int *ts = NULL;
    char **captions = NULL;
    out_file *files = NULL;
    int nfiles = nframes + 1, nwritten = 0;

    if (dn_image_load(&photo_img, photo, 3) != 0 || dn_image_square(&square, &photo_img, size) != 0 ||
        dn_sched_init_default(&sched, kind, steps) != 0 || dn_font_open(&cap_font, NULL, 17) != 0 ||
        dn_font_open(&title_font, NULL, 22) != 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }

    /* ---- Work: all frames and the sheet, in memory ---- */
    long n = 3L * size * size;
    x0 = malloc(sizeof(float) * (size_t)n);
    eps = malloc(sizeof(float) * (size_t)n);
    frames = malloc(sizeof(float) * (size_t)n * (size_t)nframes);
    rgb = malloc((size_t)n);
    ts = malloc(sizeof(int) * (size_t)nframes);
    captions = calloc((size_t)nframes, sizeof(char *));
    files = calloc((size_t)nfiles, sizeof(out_file));
    if (!x0 || !eps || !frames || !rgb || !ts || !captions || !files) {
        cli_error(cmd, EXIT_FAIL, "out of memory for %d frames of %dx%d", nframes, size, size);
        goto done;
    }
    dn_image_to_float(x0, square.px, size, size, 3);
    dn_rng rng;
    dn_rng_seed(&rng, (uint64_t)seed, 0);
    dn_rng_normal_fill(&rng, eps, n);

    char source[256], sbuf[7][64];
    ascii_name(source, sizeof source, photo);
    snprintf(sbuf[0], sizeof sbuf[0], "diffuse %s", DN_VERSION);
    snprintf(sbuf[1], sizeof sbuf[1], "%s", dn_beta_kind_name(kind));
    snprintf(sbuf[2], sizeof sbuf[2], "%d", steps);
    snprintf(sbuf[3], sizeof sbuf[3], "%d", seed);
    snprintf(sbuf[4], sizeof sbuf[4], "%d", size);
    for (int f = 0; f < nframes; f++) {
        int t = f * every < steps ? f * every : steps - 1;
        ts[f] = t;
        float *xt = frames + (long)f * n;
        dn_q_sample(xt, x0, eps, &sched, t, n);
        dn_float_to_image(rgb, xt, size, size, 3);
        snprintf(sbuf[5], sizeof sbuf[5], "%d", t);
        snprintf(sbuf[6], sizeof sbuf[6], "%.6g", (double)sched.alphas_cumprod[t]);
        const dn_png_text text[] = {
            {"Software", sbuf[0]},
            {"Title", "forward diffusion: x_t = sqrt(alpha-bar_t) x_0 + sqrt(1 - alpha-bar_t) eps"},
            {"Source", source},
            {"t", sbuf[5]},
            {"alphas_cumprod", sbuf[6]},
            {"schedule", sbuf[1]},
            {"steps", sbuf[2]},
            {"seed", sbuf[3]},
            {"size", sbuf[4]},
            {"pixels", "[-1, 1] -> [0, 255], clipped"},
        };
        snprintf(files[f].path, sizeof files[f].path, "%s/frame_%04d.png", out_dir, f);
        if (dn_png_encode(&files[f].png, &files[f].len, rgb, size, size, 3, text,
                          (int)(sizeof text / sizeof text[0])) != 0) {
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            goto done;
        }
        /* caption: t, then how much of the photo is left (the coefficient of x_0) */
        char cap[96];
        snprintf(cap, sizeof cap, "t = %d\n\xe2\x88\x9a\xe1\xbe\xb1 = %.2f", t,
                 (double)sched.sqrt_alphas_cumprod[t]);
        captions[f] = strdup(cap);
        if (!captions[f]) {
            cli_error(cmd, EXIT_FAIL, "out of memory");
            goto done;
        }
    }

    char title[512];
    snprintf(title, sizeof title,
             "Forward diffusion of %s:  x\xe2\x82\x9c = \xe2\x88\x9a\xe1\xbe\xb1\xe2\x82\x9c x\xe2\x82\x80"
             " + \xe2\x88\x9a(1 \xe2\x88\x92 \xe1\xbe\xb1\xe2\x82\x9c) \xce\xb5    (%s schedule, T = %d, seed %d)",
             source, dn_beta_kind_name(kind), steps, seed);
    dn_sheet_style style = {.caption = &cap_font, .title_font = &title_font, .title = title};
    if (dn_sheet_render(&sheet, frames, nframes, 3, size, size, (const char *const *)captions,
                        &style) != 0) {
        cli_error(cmd, EXIT_FAIL, "cannot draw the contact sheet: %s", dn_error());
        goto done;
    }
    unsigned char *sheet_rgb = malloc((size_t)sheet.w * (size_t)sheet.h * 3);
    if (!sheet_rgb) {
        cli_error(cmd, EXIT_FAIL, "out of memory for the contact sheet");
        goto done;
    }
    dn_canvas_to_rgb(&sheet, sheet_rgb);
    const dn_png_text sheet_text[] = {
        {"Software", sbuf[0]},
        {"Title", "forward diffusion contact sheet"},
        {"Source", source},
        {"schedule", sbuf[1]},
        {"steps", sbuf[2]},
        {"seed", sbuf[3]},
        {"size", sbuf[4]},
    };
    out_file *cs = &files[nframes];
    snprintf(cs->path, sizeof cs->path, "%s/contact.png", out_dir);
    rc = dn_png_encode(&cs->png, &cs->len, sheet_rgb, sheet.w, sheet.h, 3, sheet_text,
                       (int)(sizeof sheet_text / sizeof sheet_text[0]));
    free(sheet_rgb);
    if (rc != 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }

    /* ---- Write: the folder, then every file atomically; undo this run's files on failure ---- */
    if (strlen(out_dir) + 32 > sizeof files[0].path) {
        cli_error(cmd, EXIT_FAIL, "output folder path '%.64s...' is too long", out_dir);
        goto done;
    }
    if (dn_make_dir(out_dir) != 0) {
        cli_error(cmd, EXIT_FAIL, "%s (choose a writable folder with -o)", dn_error());
        goto done;
    }
    for (; nwritten < nfiles; nwritten++) {
        if (dn_write_file_atomic(files[nwritten].path, files[nwritten].png, files[nwritten].len) != 0) {
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            for (int i = 0; i < nwritten; i++) remove(files[i].path);
            goto done;
        }
    }
    /* A folder reused from a run with more frames would keep its old tail (frame_0011.png, ...)
     * and mislead anything that reads the sequence; remove that tail, and only that. */
    for (int k = nframes;; k++) {
        char stale[4096];
        snprintf(stale, sizeof stale, "%s/frame_%04d.png", out_dir, k);
        if (access(stale, F_OK) != 0 || remove(stale) != 0) break;
    }
    printf("wrote %d frames (t = %d .. %d, every %d) and %s\n", nframes, ts[0], ts[nframes - 1],
           every, cs->path);
    status = EXIT_OK;

done:
    for (int i = 0; files && i < nfiles; i++) free(files[i].png);
    for (int i = 0; captions && i < nframes; i++) free(captions[i]);
    free(files);
    free(captions);
    free(ts);
    free(rgb);
    free(frames);
    free(eps);
    free(x0);
    dn_canvas_free(&sheet);
    dn_font_close(&title_font);
    dn_font_close(&cap_font);
    dn_sched_free(&sched);
    dn_image_free(&square);
    dn_image_free(&photo_img);
    return status;
}
