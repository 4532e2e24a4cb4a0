/* cmd_sample.c — `diffuse sample`: run the reverse process of a trained model and write a grid of
 * the results, or with -o frame_%03d.png one grid per step (the stable-diffusion.cpp convention). */
#include "cli.h"
#include "commands.h"
#include "base/err.h"
#include "diffusion/generate.h"
#include "diffusion/model.h"
#include "base/parallel.h"
#include "data/image.h"
#include "latent/latent.h"
#include "sheet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char usage[] =
    "usage: diffuse sample --model MODEL [--class NAME | --uncond] [--cfg-scale W] [--sampler S]\n"
    "                      [--steps N] [--seed S] [--n K] [-o OUT.png | -o frame_%03d.png]\n"
    "\n"
    "Starts from pure noise and removes the predicted noise step by step. Writes a grid of the K\n"
    "pictures (with --n 1 the bare picture, its own size times --scale, for other tools); with a %d\n"
    "in the name (e.g. frame_%03d.png) it writes one grid per step instead, frame 0 being the\n"
    "starting noise. Each PNG keeps the command that makes it again. A latent model (one that names\n"
    "an autoencoder, e.g. pets64.dfm) diffuses in latent space and shows the decoded pictures.\n"
    "\n"
    "  --model MODEL      a model file made by 'diffuse train'\n"
    "  --class NAME       what to draw, e.g. cat, dog, Sneaker, \"Ankle boot\" (default: every class\n"
    "                     in turn)\n"
    "  --uncond           no condition: the model draws whatever it likes\n"
    "  --cfg-scale W      guidance scale: 1 = plain conditional, higher = more typical of the class\n"
    "                     (default: the model's recommendation, else 3)\n"
    "  --sampler S        ddpm, ddim, euler or dpm++2m (default ddim)\n"
    "  --steps N          sampling steps (default 50; ddpm is usually run with 1000)\n"
    "  --eta X            DDIM only: 0 deterministic (default), 1 as noisy as DDPM\n"
    "  --seed S           seed of the starting noise (default 0)\n"
    "  --n K              pictures, 1..256 (default 16)\n"
    "  --cols C           pictures per row (default 8)\n"
    "  --scale K          screen pixels per picture pixel (default 4)\n"
    "  --threads N        threads (default: all cores; the pictures do not depend on it)\n"
    "  -o, --out OUT.png  where to write (default samples.png)\n";

/* Accept exactly one %d (optionally %0Nd) and no other conversion but %%. Returns 1 if the name is a
 * frame pattern, 0 if it has no conversion, -1 if it is malformed. */
/* The pictures of the current state: x itself, or for a latent model its decoding into pics. */
static int pictures(const dn_autoencoder *ae, const dn_unet_config *c, const float *x, float *pics, int n,
                    const float **out, int *C, int *H, int *W) {
    *out = x, *C = c->in_channels, *H = c->height, *W = c->width;
    if (!ae->param_mem) return 0;
    int f = dn_ae_factor(&ae->cfg);
    *out = pics, *C = ae->cfg.in_channels, *H = c->height * f, *W = c->width * f;
    return dn_latent_decode(ae, pics, x, n, c->height, c->width);
}

/* One picture (C, H, W) as a PNG, each pixel a scale x scale block. */
static int write_bare(const char *path, const float *x, int C, int H, int W, int scale, const dn_png_text *text, int nt) {
    unsigned char *px = malloc((size_t)C * H * W), *big = malloc((size_t)C * H * W * scale * scale);
    if (!px || !big) {
        free(px), free(big);
        return dn_fail("out of memory for a %dx%d picture", W * scale, H * scale);
    }
    dn_float_to_image(px, x, W, H, C);
    for (int y = 0; y < H * scale; y++)
        for (int xx = 0; xx < W * scale; xx++)
            for (int c = 0; c < C; c++) big[((size_t)y * W * scale + xx) * C + c] = px[((size_t)(y / scale) * W + xx / scale) * C + c];
    int rc = dn_png_write(path, big, W * scale, H * scale, C, text, nt);
    free(px), free(big);
    return rc;
}

static int frame_pattern(const char *s) {
    int conv = 0;
    for (const char *p = s; *p; p++) {
        if (*p != '%') continue;
        if (p[1] == '%') {
            p++;
            continue;
        }
        const char *q = p + 1;
        if (*q == '0') q++;
        while (*q >= '0' && *q <= '9') q++;
        if (*q != 'd' || q - p > 4) return -1;
        conv++;
        p = q;
    }
    return conv == 0 ? 0 : conv == 1 ? 1 : -1;
}

int cmd_sample(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *model = NULL, *class_name = NULL, *sampler = "ddim", *out = "samples.png";
    int uncond = 0, steps = 50, seed = 0, n = 16, cols = 8, scale = 4, threads = 0;
    float cfg_scale = -1, eta = 0;
    const cli_opt opts[] = {
        {"--model", "-m", OPT_STR, &model, 0, 0},
        {"--class", NULL, OPT_STR, &class_name, 0, 0},
        {"--uncond", NULL, OPT_FLAG, &uncond, 0, 0},
        {"--cfg-scale", NULL, OPT_FLOAT, &cfg_scale, 0, 100},
        {"--sampler", NULL, OPT_STR, &sampler, 0, 0},
        {"--steps", NULL, OPT_INT, &steps, 1, 1000},
        {"--eta", NULL, OPT_FLOAT, &eta, 0, 1},
        {"--seed", NULL, OPT_INT, &seed, 0, 2147483647},
        {"--n", NULL, OPT_INT, &n, 1, 256},
        {"--cols", NULL, OPT_INT, &cols, 1, 64},
        {"--scale", NULL, OPT_INT, &scale, 1, 32},
        {"--threads", NULL, OPT_INT, &threads, 0, DN_MAX_THREADS},
        {"--out", "-o", OPT_STR, &out, 0, 0},
    };
    int npos;
    int rc = cli_parse(argc, argv, usage, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, &npos);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    if (!model) return cli_error(cmd, EXIT_USAGE, "which model? give --model MODEL.dfm");
    if (class_name && uncond) return cli_error(cmd, EXIT_USAGE, "--class and --uncond exclude each other");
    dn_sampler_kind kind;
    if (dn_sampler_kind_parse(sampler, &kind) < 0) return cli_error(cmd, EXIT_USAGE, "%s", dn_error());
    int frames = frame_pattern(out);
    if (frames < 0)
        return cli_error(cmd, EXIT_USAGE, "'%s': a frame pattern has exactly one %%d (like frame_%%03d.png)", out);
    dn_threads_set(threads);

    dn_unet net;
    dn_model_meta meta;
    if (dn_model_load(model, &net, &meta) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    int status = EXIT_FAIL;
    int K = net.cfg.num_classes, cid = -1;
    int *ids = NULL;
    char (*caps)[40] = NULL;
    const char **cp = NULL;
    dn_gen g = {0};
    dn_sched sched = {0};
    dn_autoencoder ae;
    float *pics = NULL;
    const float *shown;
    int PC, PH, PW;
    if (dn_latent_autoencoder(model, dn_model_meta_get(&meta, DN_LATENT_KEY), &net.cfg, &ae) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    if (ae.param_mem) {
        int f = dn_ae_factor(&ae.cfg);
        pics = malloc((size_t)n * ae.cfg.in_channels * net.cfg.height * f * net.cfg.width * f * sizeof(float));
        if (!pics) {
            cli_error(cmd, EXIT_FAIL, "out of memory");
            goto done;
        }
    }
    if (class_name) {
        cid = dn_model_class_id(&meta, K, class_name);
        if (cid < 0) {
            cli_error(cmd, EXIT_USAGE, "the model '%s' %s", model, dn_error());
            status = EXIT_USAGE;
            goto done;
        }
    }
    if (cfg_scale < 0) cfg_scale = dn_model_cfg_scale(&meta);
    ids = malloc((size_t)n * sizeof(int));
    caps = malloc((size_t)n * sizeof *caps);
    cp = malloc((size_t)n * sizeof *cp);
    if (!ids || !caps || !cp) {
        cli_error(cmd, EXIT_FAIL, "out of memory");
        goto done;
    }
    for (int b = 0; b < n; b++) {
        ids[b] = uncond || K == 0 ? K : cid >= 0 ? cid : b % K;
        const char *name = ids[b] < K && ids[b] < meta.n_class_names ? meta.class_names[ids[b]] : "(no class)";
        snprintf(caps[b], sizeof caps[b], "%s", name);
        cp[b] = caps[b];
    }
    if (dn_sched_init(&sched, meta.schedule, meta.num_train_timesteps, meta.beta_start, meta.beta_end) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s: %s", model, dn_error());
        goto done;
    }
    dn_sampler_config sc;
    dn_sampler_config_recommended(&sc, kind, steps);
    if (ae.param_mem) dn_sampler_config_latent(&sc);
    sc.eta = eta;
    if (dn_gen_init(&g, &net, &sched, &sc, n, ids, cfg_scale, (uint64_t)seed) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    char what[96], command[1400];
    if (uncond || K == 0) snprintf(what, sizeof what, "unconditional");
    else if (cid >= 0) snprintf(what, sizeof what, "class %s, guidance %g", meta.class_names[cid], (double)cfg_scale);
    else snprintf(what, sizeof what, "every class, guidance %g", (double)cfg_scale);
    char classopt[64] = "";
    if (uncond) snprintf(classopt, sizeof classopt, " --uncond");
    else if (cid >= 0) snprintf(classopt, sizeof classopt, " --class '%s'", meta.class_names[cid]);
    char etaopt[32] = "";
    if (kind == DN_DDIM && eta > 0) snprintf(etaopt, sizeof etaopt, " --eta %g", (double)eta);
    snprintf(command, sizeof command, "diffuse sample --model '%s'%s --cfg-scale %g --sampler %s --steps %d%s --seed %d --n %d",
             model, classopt, (double)cfg_scale, dn_sampler_kind_name(kind), steps, etaopt, seed, n);
    const dn_unet_config *c = &net.cfg;
    char title[256], path[1200];
    int written = 0;
    for (;;) {
        if (frames) {
            snprintf(title, sizeof title, "%s, %s %d steps, seed %d: %s", meta.dataset[0] ? meta.dataset : model,
                     dn_sampler_kind_name(kind), steps, seed, what);
            char stepline[64];
            if (g.i < g.sp.n) snprintf(stepline, sizeof stepline, "  [step %d/%d, t = %g]", g.i, g.sp.n, (double)g.sp.timesteps[g.i]);
            else snprintf(stepline, sizeof stepline, "  [done, t = 0]");
            strncat(title, stepline, sizeof title - strlen(title) - 1);
            snprintf(path, sizeof path, out, g.i);
            dn_png_text text[] = {{"Software", "diffuse " DN_VERSION}, {"Title", title}, {"diffuse-command", command}};
            if (pictures(&ae, c, g.x, pics, n, &shown, &PC, &PH, &PW) < 0 ||
                dn_sheet_save(path, shown, n, PC, PH, PW, cp, title, cols, scale, text, 3) < 0) {
                cli_error(cmd, EXIT_FAIL, "%s", dn_error());
                goto done;
            }
            written++;
        }
        if (g.i == g.sp.n) break;
        if (dn_gen_step(&g, NULL, NULL) < 0) {
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            goto done;
        }
    }
    if (!frames) {
        snprintf(title, sizeof title, "%s, %s %d steps, seed %d: %s", meta.dataset[0] ? meta.dataset : model,
                 dn_sampler_kind_name(kind), steps, seed, what);
        dn_png_text text[] = {{"Software", "diffuse " DN_VERSION}, {"Title", title}, {"diffuse-command", command}};
        if (pictures(&ae, c, g.x, pics, n, &shown, &PC, &PH, &PW) < 0 ||
            (n == 1 ? write_bare(out, shown, PC, PH, PW, scale, text, 3)
                    : dn_sheet_save(out, shown, n, PC, PH, PW, cp, title, cols, scale, text, 3)) < 0) {
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            goto done;
        }
        if (n == 1) printf("wrote %s: one %dx%d picture, %s\n", out, PW * scale, PH * scale, title);
        else printf("wrote %s: %d pictures, %s\n", out, n, title);
    } else {
        printf("wrote %d frames ", written);
        printf(out, 0);
        printf(" .. ");
        printf(out, g.sp.n);
        printf(": %s\n", title);
    }
    status = EXIT_OK;
done:
    dn_gen_free(&g);
    dn_sched_free(&sched);
    free(ids), free(caps), free(cp), free(pics);
    dn_ae_free(&ae);
    dn_unet_free(&net);
    return status;
}
