/* cmd_train.c — `diffuse train`: teach a U-Net to predict the noise (core/diffusion/train.h), with a progress
 * line, a CSV log, sample grids, checkpoints every few minutes, --resume, and Ctrl-C that saves. */
#include "cli.h"
#include "commands.h"
#include "base/err.h"
#include "base/fileio.h"
#include "diffusion/generate.h"
#include "diffusion/model.h"
#include "base/parallel.h"
#include "plot.h"
#include "sheet.h"
#include "trainlog.h"
#include "diffusion/train.h"
#include "latent/ae_train.h"
#include "latent/latent.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: diffuse train --data fashion|pets -o MODEL [options]\n"
    "       diffuse train --resume CHECKPOINT [-o MODEL] [--steps N] [--threads N]\n"
    "       diffuse train --stage autoencoder -o AUTOENCODER.dfa [options]   (see --stage autoencoder --help)\n"
    "\n"
    "Trains the noise predictor: picks training images, adds noise of a random step t, and teaches\n"
    "the U-Net to say which noise was added. Writes MODEL (the averaged weights, what sampling uses)\n"
    "at every checkpoint and at the end, and into the run folder a CSV loss log (loss.csv), its\n"
    "train_curve (loss.png), sample grids (samples/step_NNNNNNN.png) and checkpoint.ckpt. Ctrl-C saves a\n"
    "checkpoint and stops; --resume continues exactly where it stopped (same seed and threads: the\n"
    "same weights).\n"
    "\n"
    "  --data fashion|pets   training set (Fashion-MNIST photos, or the drawn cats and dogs)\n"
    "  --data pets64 --autoencoder AE.dfa   latent diffusion: the U-Net learns the latents of the\n"
    "                        64x64 cats and dogs that the autoencoder AE makes (16x16x4); the model\n"
    "                        names AE, and sampling decodes with it\n"
    "  --latent-n N          latent diffusion: encode the first N training pictures (default all 60000)\n"
    "  -o, --out MODEL       model file to write\n"
    "  --steps N             optimiser updates (default 10000)\n"
    "  --batch N             images per update (default 64)\n"
    "  --lr X                peak learning rate (default 2e-4; warm-up, then cosine to 1e-5)\n"
    "  --warmup N            warm-up updates (default 500, at most steps/10 when steps is small)\n"
    "  --seed S              seed of the run (default 0)\n"
    "  --threads N           threads (default: all cores); results depend on seed and threads only\n"
    "  --width W             U-Net base width (default 32); --mults A,B,C channel multipliers (1,2,2)\n"
    "  --prediction P        epsilon (default) or v_prediction\n"
    "  --dtype f32|f16       precision of MODEL's weights (default f32; f16 halves the file)\n"
    "  --run-dir DIR         log, grids and checkpoint (default: runs/NAME for MODEL NAME.dfm)\n"
    "  --ckpt-every SEC      seconds between checkpoints (default 300)\n"
    "  --sample-every N      updates between sample grids (default 1000, 0 = none)\n"
    "  --log-every N         updates between progress lines when not on a terminal (default 100)\n"
    "  --cfg-scale W         guidance of the sample grids, stored in MODEL as recommended (default 3)\n"
    "  --resume CHECKPOINT   continue a run (its settings are kept; --steps may extend it)\n"
    "  --stop-at N           stop after update N as Ctrl-C would (split a long run into sittings)\n";

static int parse_mults(const char *s, dn_unet_config *c) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 16 || n == DN_UNET_MAX_LEVELS) return -1;
        c->mults[n++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    if (n < 1) return -1;
    c->n_levels = n;
    c->attn_levels = 1 << (n - 1);
    return 0;
}

/* A grid of `per` samples of every class (and one unconditional row) from the EMA weights. */
static int sample_grid(const dn_trainer *tr, dn_unet *ema_net, const char *path, float cfg_scale) {
    dn_trainer_ema_weights(tr, ema_net);
    int K = tr->net.cfg.num_classes, per = 8, n = (K + 1) * per;
    int *ids = malloc((size_t)n * sizeof(int));
    char (*caps)[48] = malloc((size_t)n * sizeof *caps);
    const char **cp = malloc((size_t)n * sizeof *cp);
    if (!ids || !caps || !cp) {
        free(ids), free(caps), free(cp);
        return dn_fail("out of memory for a sample grid");
    }
    for (int i = 0; i < n; i++) {
        int k = i / per;
        ids[i] = k; /* k == K: the null class, unconditional */
        snprintf(caps[i], sizeof caps[i], "%s", k < K ? tr->data.class_names[k] : "(none)");
        cp[i] = caps[i];
    }
    dn_sampler_config sc;
    dn_sampler_config_recommended(&sc, DN_DDIM, 25);
    if (tr->ae.param_mem) dn_sampler_config_latent(&sc);
    dn_gen g;
    int rc = dn_gen_init(&g, ema_net, &tr->sched, &sc, n, ids, cfg_scale, 1234);
    while (rc == 0 && g.i < g.sp.n) rc = dn_gen_step(&g, NULL, NULL);
    float *pics = NULL; /* latent diffusion: the decoded pictures */
    int C = ema_net->cfg.in_channels, H = ema_net->cfg.height, W = ema_net->cfg.width;
    if (rc == 0 && tr->ae.param_mem) {
        int f = dn_ae_factor(&tr->ae.cfg);
        pics = malloc((size_t)n * tr->ae.cfg.in_channels * H * f * W * f * sizeof(float));
        rc = pics ? dn_latent_decode(&tr->ae, pics, g.x, n, H, W) : dn_fail("out of memory for a sample grid");
        C = tr->ae.cfg.in_channels, H *= f, W *= f;
    }
    if (rc == 0) {
        char title[128];
        snprintf(title, sizeof title, "%s, step %ld: DDIM 25 steps, guidance %.1f (last row unconditional)%s",
                 tr->cfg.data, tr->step, (double)cfg_scale, pics ? ", decoded" : "");
        dn_png_text text[] = {{"Software", "diffuse " DN_VERSION}, {"Title", title}};
        rc = dn_sheet_save(path, pics ? pics : g.x, n, C, H, W, cp, title, per, 3, text, 2);
    }
    free(pics);
    dn_gen_free(&g);
    free(ids), free(caps), free(cp);
    return rc;
}

static int save_model(const dn_trainer *tr, dn_unet *ema_net, const char *path, dn_dtype dtype,
                      float cfg_scale, const char *command) {
    dn_model_meta meta;
    dn_trainer_meta(tr, &meta);
    if (dn_model_set_cfg_scale(&meta, cfg_scale) < 0) return -1;
    if (command) dn_model_meta_set(&meta, "train.command", command);
    if (tr->cfg.autoencoder[0]) { /* the model names its autoencoder, relative to the model's folder */
        char name[1100], cwd[512];
        const char *a = tr->cfg.autoencoder, *as = strrchr(a, '/'), *ms = strrchr(path, '/');
        size_t ad = as ? (size_t)(as - a) : 0, md = ms ? (size_t)(ms - path) : 0;
        if (ad == md && !strncmp(a, path, ad)) snprintf(name, sizeof name, "%s", as ? as + 1 : a);
        else if (a[0] == '/' || !getcwd(cwd, sizeof cwd)) snprintf(name, sizeof name, "%s", a);
        else snprintf(name, sizeof name, "%s/%s", cwd, a); /* absolute: the model may move, the file not */
        if (dn_model_meta_set(&meta, DN_LATENT_KEY, name) < 0) return -1;
    }
    dn_trainer_ema_weights(tr, ema_net);
    return dn_model_save(path, ema_net, &meta, dtype);
}

/* The U-Net's part of the training loop (trainlog.h). */
typedef struct {
    dn_trainer *tr;
    dn_unet *ema_net;
    const char *out;
    dn_dtype dtype;
    float cfg_scale;
    const char *command, *ckpt_path;
} unet_job;

static int unet_update(void *ctx, train_update *u) {
    unet_job *j = ctx;
    dn_train_stats st;
    if (dn_trainer_step(j->tr, &st) < 0) return -1;
    u->loss = (double)st.loss, u->smooth = j->tr->loss_smooth;
    snprintf(u->csv, sizeof u->csv, "%.6g,%.6g,%.6g,%.6g", (double)st.loss, j->tr->loss_smooth, (double)st.grad_norm,
             (double)st.lr);
    snprintf(u->line, sizeof u->line, "loss %.4f  lr %.2e", j->tr->loss_smooth, (double)st.lr);
    return 0;
}

static int unet_grid(void *ctx, const char *path) {
    unet_job *j = ctx;
    return sample_grid(j->tr, j->ema_net, path, j->cfg_scale);
}

static int unet_save(void *ctx, int final) {
    unet_job *j = ctx;
    (void)final;
    return dn_trainer_save(j->tr, j->ckpt_path) < 0 ||
                   save_model(j->tr, j->ema_net, j->out, j->dtype, j->cfg_scale, j->command) < 0
               ? -1
               : 0;
}

/* `--stage autoencoder`, or --resume of an autoencoder checkpoint (its kind is in the first bytes)? */
static int wants_autoencoder(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--stage")) return !strcmp(argv[i + 1], "autoencoder");
        if (!strcmp(argv[i], "--resume")) {
            FILE *f = fopen(argv[i + 1], "rb");
            unsigned char head[64] = {0};
            size_t n = f ? fread(head, 1, sizeof head, f) : 0;
            if (f) fclose(f);
            for (size_t k = 0; k + 13 <= n; k++)
                if (!memcmp(head + k, DN_AE_CKPT_KIND, 13)) return 1;
        }
    }
    return 0;
}

int cmd_train(int argc, char **argv) {
    if (wants_autoencoder(argc, argv)) return train_autoencoder(argc, argv);
    const char *cmd = argv[0];
    const char *stage = "unet";
    const char *data = NULL, *out = NULL, *resume = NULL, *run_dir = NULL, *mults = NULL, *pred = NULL;
    const char *dtype_s = "f32", *ae_path = NULL;
    int latent_n = 0;
    int steps = 0, batch = 64, seed = 0, threads = 0, width = 32, warmup = -1;
    int ckpt_every = 300, sample_every = 1000, log_every = 100, stop_at = 0;
    float lr = 2e-4f, cfg_scale = 3.0f;
    const cli_opt opts[] = {
        {"--stage", NULL, OPT_STR, &stage, 0, 0},
        {"--data", NULL, OPT_STR, &data, 0, 0},
        {"--autoencoder", NULL, OPT_STR, &ae_path, 0, 0},
        {"--latent-n", NULL, OPT_INT, &latent_n, 1, 100000000},
        {"--out", "-o", OPT_STR, &out, 0, 0},
        {"--steps", NULL, OPT_INT, &steps, 1, 100000000},
        {"--batch", NULL, OPT_INT, &batch, 1, 4096},
        {"--lr", NULL, OPT_FLOAT, &lr, 1e-7, 0.1},
        {"--warmup", NULL, OPT_INT, &warmup, 0, 100000000},
        {"--seed", NULL, OPT_INT, &seed, 0, 2147483647},
        {"--threads", NULL, OPT_INT, &threads, 0, DN_MAX_THREADS},
        {"--width", NULL, OPT_INT, &width, 8, 256},
        {"--mults", NULL, OPT_STR, &mults, 0, 0},
        {"--prediction", NULL, OPT_STR, &pred, 0, 0},
        {"--dtype", NULL, OPT_STR, &dtype_s, 0, 0},
        {"--run-dir", NULL, OPT_STR, &run_dir, 0, 0},
        {"--ckpt-every", NULL, OPT_INT, &ckpt_every, 1, 1000000},
        {"--sample-every", NULL, OPT_INT, &sample_every, 0, 100000000},
        {"--log-every", NULL, OPT_INT, &log_every, 1, 100000000},
        {"--cfg-scale", NULL, OPT_FLOAT, &cfg_scale, 0, 100},
        {"--resume", NULL, OPT_STR, &resume, 0, 0},
        {"--stop-at", NULL, OPT_INT, &stop_at, 1, 100000000},
    };
    int npos;
    int rc = cli_parse(argc, argv, usage, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, &npos);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    if (strcmp(stage, "unet"))
        return cli_error(cmd, EXIT_USAGE, "unknown --stage '%s' (unet, the default, or autoencoder)", stage);
    dn_dtype dtype;
    if (!strcmp(dtype_s, "f32")) dtype = DN_DTYPE_F32;
    else if (!strcmp(dtype_s, "f16")) dtype = DN_DTYPE_F16;
    else return cli_error(cmd, EXIT_USAGE, "unknown --dtype '%s' (use f32 or f16)", dtype_s);
    const char *fashion_dir = getenv("DIFFUSE_FASHION_DIR");
    dn_threads_set(threads);

    dn_trainer tr;
    char ckpt_path[1024], log_path[1024], rd[1024], model_buf[1024];
    if (resume) {
        if (data || mults || pred || warmup >= 0 || ae_path)
            return cli_error(cmd, EXIT_USAGE, "--resume keeps the run's settings; only -o, --steps, --threads "
                                              "and the logging options may be given with it");
        if (dn_trainer_load(&tr, resume, steps, fashion_dir) < 0)
            return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        if (!out && tr.cfg.out[0]) out = tr.cfg.out;
        if (!out) {
            dn_trainer_free(&tr);
            return cli_error(cmd, EXIT_USAGE, "the checkpoint does not say where the model goes; give -o MODEL");
        }
        if (strlen(out) >= sizeof tr.cfg.out) {
            dn_trainer_free(&tr);
            return cli_error(cmd, EXIT_USAGE, "model path too long");
        }
        snprintf(model_buf, sizeof model_buf, "%s", out);
        out = model_buf;
        memcpy(tr.cfg.out, model_buf, strlen(model_buf) + 1);
        if (!run_dir) train_resume_dir(rd, sizeof rd, resume), run_dir = rd;
        if (tr.step >= tr.cfg.steps) {
            train_say_finished(resume, tr.cfg.steps);
            dn_trainer_free(&tr);
            return EXIT_OK;
        }
    } else {
        if (!data) return cli_error(cmd, EXIT_USAGE, "which data set? --data fashion, pets, or pets64 --autoencoder AE");
        if (!out) return cli_error(cmd, EXIT_USAGE, "where should the model go? give -o MODEL.dfm");
        dn_train_config tc;
        dn_train_config_default(&tc, data);
        if (strcmp(data, "fashion") && strcmp(data, "pets") && strcmp(data, "pets64"))
            return cli_error(cmd, EXIT_USAGE, "unknown data set '%s' (known: fashion, pets, pets64)", data);
        if (!strcmp(data, "pets64") != !!ae_path)
            return cli_error(cmd, EXIT_USAGE, "%s", ae_path ? "--autoencoder goes with --data pets64 (latent diffusion)"
                                                         : "pets64 is trained in latent space: give --autoencoder AE.dfa");
        dn_ae_config aec = {0};
        if (ae_path) {
            dn_autoencoder ae;
            if (strlen(ae_path) >= sizeof tc.autoencoder) return cli_error(cmd, EXIT_USAGE, "autoencoder path too long");
            if (dn_ae_load(ae_path, &ae) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            aec = ae.cfg;
            dn_ae_free(&ae);
            strcpy(tc.autoencoder, ae_path);
            tc.latent_n = latent_n;
        }
        if (steps) tc.steps = steps;
        tc.batch = batch;
        tc.lr = lr;
        tc.min_lr = lr < tc.min_lr ? lr : tc.min_lr;
        tc.warmup = warmup >= 0 ? warmup : (tc.steps / 10 < 500 ? tc.steps / 10 : 500);
        tc.seed = (uint64_t)seed;
        if (strlen(out) >= sizeof tc.out) return cli_error(cmd, EXIT_USAGE, "model path too long");
        strcpy(tc.out, out);
        int pets = !strcmp(data, "pets");
        dn_unet_config nc = dn_unet_default_config(pets ? 3 : 1, pets ? 32 : 28, pets ? 32 : 28, pets ? 2 : 10);
        if (ae_path) { /* the latents of 64x64 pets: Z channels at 64/f a side */
            int f = dn_ae_factor(&aec);
            nc = dn_unet_default_config(aec.latent_channels, 64 / f, 64 / f, 2);
        }
        nc.base_width = width;
        if (mults && parse_mults(mults, &nc) < 0)
            return cli_error(cmd, EXIT_USAGE, "--mults wants 1 to %d numbers 1..16 like 1,2,2, not '%s'",
                             DN_UNET_MAX_LEVELS, mults);
        if (pred) {
            dn_pred_type p;
            if (dn_pred_type_parse(pred, &p) < 0) return cli_error(cmd, EXIT_USAGE, "%s", dn_error());
            nc.prediction = p;
        }
        if (dn_unet_config_check(&nc) < 0) return cli_error(cmd, EXIT_USAGE, "%s", dn_error());
        if (dn_trainer_init(&tr, &tc, &nc, fashion_dir) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        if (!run_dir) train_default_run_dir(rd, sizeof rd, out), run_dir = rd;
    }

    int status = EXIT_FAIL;
    FILE *log = NULL;
    dn_unet ema_net = {0};
    train_curve lc = {0};
    char curve_path[1100], curve_title[160];
    char samples_dir[1100];
    snprintf(samples_dir, sizeof samples_dir, "%s/samples", run_dir);
    snprintf(ckpt_path, sizeof ckpt_path, "%s/checkpoint.ckpt", run_dir);
    snprintf(log_path, sizeof log_path, "%s/loss.csv", run_dir);
    snprintf(curve_path, sizeof curve_path, "%s/loss.png", run_dir);
    snprintf(curve_title, sizeof curve_title, "Training loss: %s, batch %d, lr %g", tr.cfg.data, tr.cfg.batch,
             (double)tr.cfg.lr);
    if (dn_make_dir(run_dir) < 0 || (sample_every && dn_make_dir(samples_dir) < 0)) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    if (!(log = train_open_log(log_path, tr.step, cmd, "step,loss,loss_smooth,grad_norm,lr,images_per_s,elapsed_s\n", &lc))) goto done;
    if (dn_unet_init(&ema_net, &tr.net.cfg) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    char command[512];
    snprintf(command, sizeof command, "diffuse train --data %s --steps %ld --batch %d --lr %g --warmup %ld --seed %llu "
             "--width %d --threads %d", tr.cfg.data, tr.cfg.steps, tr.cfg.batch, (double)tr.cfg.lr, tr.cfg.warmup,
             (unsigned long long)tr.cfg.seed, tr.net.cfg.base_width, dn_threads_get());

    train_catch_signals();

    printf("%s %s: %ld parameters, %.1f MFLOP per image, batch %d, %d thread%s, step %ld of %ld\n",
           resume ? "resuming" : "training", tr.cfg.data, tr.net.n_params, dn_unet_flops(&tr.net.cfg) / 1e6,
           tr.cfg.batch, dn_threads_get(), dn_threads_get() == 1 ? "" : "s", tr.step, tr.cfg.steps);
    printf("run folder %s (loss.csv, samples/, checkpoint.ckpt); model %s\n", run_dir, out);
    fflush(stdout);
    unet_job uj = {&tr, &ema_net, out, dtype, cfg_scale, command, ckpt_path};
    train_job job = {.cmd = cmd, .ctx = &uj, .step = &tr.step, .steps = tr.cfg.steps, .batch = tr.cfg.batch,
                     .update = unet_update, .grid = unet_grid, .save = unet_save, .ckpt_path = ckpt_path,
                     .grid_dir = samples_dir, .out = out, .out_noun = "model", .curve_path = curve_path,
                     .curve_title = curve_title, .curve_ylabel = "mean squared error of the predicted noise (log scale)",
                     .ckpt_every = ckpt_every, .sample_every = sample_every, .log_every = log_every,
                     .stop_at = stop_at, .log = log, .curve = &lc};
    double el;
    status = train_loop(&job, &el);
    if (status == EXIT_OK && tr.step == tr.cfg.steps) {
        char e[32];
        train_fmt_time(e, sizeof e, el);
        printf("done: %ld steps, loss %.4f, %s; wrote %s\n", tr.step, tr.loss_smooth, e, out);
    }
done:
    train_curve_free(&lc);
    if (log) fclose(log);
    dn_unet_free(&ema_net);
    dn_trainer_free(&tr);
    return status;
}
