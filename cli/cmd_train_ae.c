/* cmd_train_ae.c — `diffuse train --stage autoencoder`: teach the autoencoder of latent diffusion
 * (core/latent/ae_train.h) with the same progress line, CSV log, loss curve, checkpoints, --resume
 * and Ctrl-C as U-Net training, and reconstruction grids instead of sample grids. */
#include "cli.h"
#include "commands.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/parallel.h"
#include "latent/ae_train.h"
#include "sheet.h"
#include "trainlog.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: diffuse train --stage autoencoder -o AUTOENCODER.dfa [options]\n"
    "       diffuse train --resume CHECKPOINT [-o AUTOENCODER.dfa] [--steps N] [--threads N]\n"
    "\n"
    "Trains the autoencoder of latent diffusion: the encoder squeezes a 64x64 picture into a small\n"
    "latent (16x16x4 by default), the decoder draws the picture back from it, and both learn from\n"
    "how far the drawing is from the picture. It sees the pets64 cats and dogs and random crops of\n"
    "Debian's mate-backgrounds photos (every fourth photo is held out for measuring). Writes\n"
    "AUTOENCODER at every checkpoint and at the end (with the measured scale factor and held-out\n"
    "PSNR), and into the run folder loss.csv, loss.png, reconstruction grids and checkpoint.ckpt.\n"
    "\n"
    "  -o, --out FILE        autoencoder file to write (.dfa)\n"
    "  --steps N             optimiser updates (default 4000)\n"
    "  --batch N             pictures per update (default 32)\n"
    "  --lr X                peak learning rate (default 1e-3; warm-up, then cosine to 2e-5)\n"
    "  --warmup N            warm-up updates (default 200, at most steps/10)\n"
    "  --loss l1|mse         reconstruction loss (default l1, as Stable Diffusion)\n"
    "  --kl-weight X         weight of the KL term (default 1e-6, as Stable Diffusion)\n"
    "  --photo-share X       share of each batch that is photo crops (default 0.25)\n"
    "  --photos DIR          folder of photos (default " DN_PHOTOS_DIR ")\n"
    "  --widths A,B,C        channels per level (default 16,32,64: f = 4); --latent-channels Z (4)\n"
    "  --seed S              seed of the run (default 0)\n"
    "  --threads N           threads (default: all cores); results depend on seed and threads only\n"
    "  --dtype f32|f16       precision of the written weights (default f16)\n"
    "  --run-dir DIR         log, grids and checkpoint (default: runs/NAME for NAME.dfa)\n"
    "  --ckpt-every SEC      seconds between checkpoints (default 300)\n"
    "  --sample-every N      updates between reconstruction grids (default 500, 0 = none)\n"
    "  --log-every N         updates between progress lines when not on a terminal (default 100)\n"
    "  --resume CHECKPOINT   continue a run (its settings are kept; --steps may extend it)\n"
    "  --stop-at N           stop after update N as Ctrl-C would\n";

static int parse_widths(const char *s, dn_ae_config *c) {
    int n = 0;
    for (const char *p = s; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 512 || n == DN_AE_MAX_LEVELS) return -1;
        c->widths[n++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    if (n < 1) return -1;
    c->n_levels = n;
    return 0;
}

/* Held-out pets and photos, each row of originals above its reconstructions. */
static int recon_grid(const dn_ae_trainer *tr, const char *path) {
    enum { per = 8 };
    const dn_ae_config *c = &tr->net.cfg;
    long plane = 3L * c->height * c->width;
    float *all = malloc((size_t)4 * per * plane * sizeof(float)), *x = malloc((size_t)per * plane * sizeof(float)),
          *r = malloc((size_t)per * plane * sizeof(float));
    const char *caps[4 * per];
    double psnr[2] = {0, 0};
    int rc = -1;
    if (!all || !x || !r) {
        dn_fail("out of memory for a reconstruction grid");
        goto out;
    }
    for (int k = 0; k < 2; k++) {
        if (dn_ae_heldout(&tr->net, k, tr->cfg.photos_dir[0] ? tr->cfg.photos_dir : NULL, per, x, r, &psnr[k]) < 0)
            goto out;
        memcpy(all + (size_t)(2 * k) * per * plane, x, (size_t)per * plane * sizeof(float));
        memcpy(all + (size_t)(2 * k + 1) * per * plane, r, (size_t)per * plane * sizeof(float));
        for (int i = 0; i < per; i++) {
            caps[2 * k * per + i] = k ? "photo" : "picture";
            caps[(2 * k + 1) * per + i] = "decoded";
        }
    }
    char title[160];
    snprintf(title, sizeof title, "autoencoder, step %ld: held-out pets %.1f dB, photo crops %.1f dB", tr->step,
             psnr[0], psnr[1]);
    dn_png_text text[] = {{"Software", "diffuse " DN_VERSION}, {"Title", title}};
    rc = dn_sheet_save(path, all, 4 * per, 3, c->height, c->width, caps, title, per, 2, text, 2);
out:
    free(all), free(x), free(r);
    return rc;
}

/* The autoencoder file: the weights, the scale factor measured now and, at the end, the PSNRs. */
static int save_ae(dn_ae_trainer *tr, const char *path, dn_dtype dtype, int final) {
    float scale;
    if (dn_ae_trainer_measure_scale(tr, &scale) < 0) return -1;
    tr->net.scale_factor = scale;
    if (final) {
        double pp, ph;
        if (dn_ae_heldout(&tr->net, 0, NULL, 256, NULL, NULL, &pp) < 0) return -1;
        if (tr->photos.n && dn_ae_heldout(&tr->net, 1, tr->cfg.photos_dir[0] ? tr->cfg.photos_dir : NULL, 256, NULL,
                                          NULL, &ph) < 0)
            return -1;
        tr->net.psnr_pets = (float)pp;
        tr->net.psnr_photos = tr->photos.n ? (float)ph : 0.0f;
    }
    if (tr->photos.n)
        snprintf(tr->net.trained_on, sizeof tr->net.trained_on, "pets64 + %d photos of %s (share %.2f), %ld steps",
                 tr->photos.n, tr->cfg.photos_dir[0] ? "a folder" : "mate-backgrounds", (double)tr->cfg.photo_share,
                 tr->step);
    else
        snprintf(tr->net.trained_on, sizeof tr->net.trained_on, "pets64, %ld steps", tr->step);
    return dn_ae_save(path, &tr->net, dtype);
}

/* The autoencoder's part of the training loop (trainlog.h). */
typedef struct {
    dn_ae_trainer *tr;
    const char *out;
    dn_dtype dtype;
    const char *ckpt_path;
} ae_job;

static int ae_update(void *ctx, train_update *u) {
    ae_job *j = ctx;
    dn_ae_train_stats st;
    if (dn_ae_trainer_step(j->tr, &st) < 0) return -1;
    u->loss = (double)st.loss, u->smooth = j->tr->loss_smooth;
    snprintf(u->csv, sizeof u->csv, "%.6g,%.6g,%.6g,%.4f,%.6g,%.6g", (double)st.loss, (double)st.rec, (double)st.kl,
             (double)st.psnr, (double)st.grad_norm, (double)st.lr);
    snprintf(u->line, sizeof u->line, "loss %.4f  PSNR %.1f dB  lr %.2e", j->tr->loss_smooth, j->tr->psnr_smooth,
             (double)st.lr);
    return 0;
}

static int ae_grid(void *ctx, const char *path) { return recon_grid(((ae_job *)ctx)->tr, path); }

static int ae_save(void *ctx, int final) {
    ae_job *j = ctx;
    return dn_ae_trainer_save(j->tr, j->ckpt_path) < 0 || save_ae(j->tr, j->out, j->dtype, final) < 0 ? -1 : 0;
}

int train_autoencoder(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *out = NULL, *resume = NULL, *run_dir = NULL, *widths = NULL, *loss = "l1", *photos = NULL;
    const char *dtype_s = "f16", *stage = NULL;
    int steps = 0, batch = 32, seed = 0, threads = 0, warmup = -1, zc = 4;
    int ckpt_every = 300, sample_every = 500, log_every = 100, stop_at = 0;
    float lr = 1e-3f, kl_weight = 1e-6f, photo_share = 0.25f;
    const cli_opt opts[] = {
        {"--stage", NULL, OPT_STR, &stage, 0, 0},
        {"--out", "-o", OPT_STR, &out, 0, 0},
        {"--steps", NULL, OPT_INT, &steps, 1, 100000000},
        {"--batch", NULL, OPT_INT, &batch, 1, 1024},
        {"--lr", NULL, OPT_FLOAT, &lr, 1e-7, 0.1},
        {"--warmup", NULL, OPT_INT, &warmup, 0, 100000000},
        {"--loss", NULL, OPT_STR, &loss, 0, 0},
        {"--kl-weight", NULL, OPT_FLOAT, &kl_weight, 0, 1},
        {"--photo-share", NULL, OPT_FLOAT, &photo_share, 0, 1},
        {"--photos", NULL, OPT_STR, &photos, 0, 0},
        {"--widths", NULL, OPT_STR, &widths, 0, 0},
        {"--latent-channels", NULL, OPT_INT, &zc, 1, 64},
        {"--seed", NULL, OPT_INT, &seed, 0, 2147483647},
        {"--threads", NULL, OPT_INT, &threads, 0, DN_MAX_THREADS},
        {"--dtype", NULL, OPT_STR, &dtype_s, 0, 0},
        {"--run-dir", NULL, OPT_STR, &run_dir, 0, 0},
        {"--ckpt-every", NULL, OPT_INT, &ckpt_every, 1, 1000000},
        {"--sample-every", NULL, OPT_INT, &sample_every, 0, 100000000},
        {"--log-every", NULL, OPT_INT, &log_every, 1, 100000000},
        {"--resume", NULL, OPT_STR, &resume, 0, 0},
        {"--stop-at", NULL, OPT_INT, &stop_at, 1, 100000000},
    };
    int npos;
    int rc = cli_parse(argc, argv, usage, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, &npos);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    dn_dtype dtype;
    if (!strcmp(dtype_s, "f32")) dtype = DN_DTYPE_F32;
    else if (!strcmp(dtype_s, "f16")) dtype = DN_DTYPE_F16;
    else return cli_error(cmd, EXIT_USAGE, "unknown --dtype '%s' (use f32 or f16)", dtype_s);
    dn_threads_set(threads);

    dn_ae_trainer tr;
    char rd[1024], model_buf[256];
    if (resume) {
        if (widths || photos || warmup >= 0)
            return cli_error(cmd, EXIT_USAGE, "--resume keeps the run's settings; only -o, --steps, --threads and the "
                                              "logging options may be given with it");
        if (dn_ae_trainer_load(&tr, resume, steps) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        if (!out && tr.cfg.out[0]) out = tr.cfg.out;
        if (!out || strlen(out) >= sizeof model_buf) {
            dn_ae_trainer_free(&tr);
            return cli_error(cmd, EXIT_USAGE, "give -o AUTOENCODER.dfa (the checkpoint does not say, or too long)");
        }
        snprintf(model_buf, sizeof model_buf, "%s", out);
        out = model_buf;
        memcpy(tr.cfg.out, model_buf, strlen(model_buf) + 1);
        if (!run_dir) train_resume_dir(rd, sizeof rd, resume), run_dir = rd;
        if (tr.step >= tr.cfg.steps) {
            train_say_finished(resume, tr.cfg.steps);
            dn_ae_trainer_free(&tr);
            return EXIT_OK;
        }
    } else {
        if (!out) return cli_error(cmd, EXIT_USAGE, "where should the autoencoder go? give -o AUTOENCODER.dfa");
        dn_ae_train_config tc;
        dn_ae_train_config_default(&tc);
        if (steps) tc.steps = steps;
        tc.batch = batch;
        tc.lr = lr;
        if (lr < tc.min_lr) tc.min_lr = lr;
        tc.warmup = warmup >= 0 ? warmup : (tc.steps / 10 < 200 ? tc.steps / 10 : 200);
        tc.seed = (uint64_t)seed;
        tc.kl_weight = kl_weight;
        tc.photo_share = photo_share;
        if (!strcmp(loss, "l1")) tc.loss = DN_AE_LOSS_L1;
        else if (!strcmp(loss, "mse")) tc.loss = DN_AE_LOSS_MSE;
        else return cli_error(cmd, EXIT_USAGE, "unknown --loss '%s' (use l1 or mse)", loss);
        if (strlen(out) >= sizeof tc.out || (photos && strlen(photos) >= sizeof tc.photos_dir))
            return cli_error(cmd, EXIT_USAGE, "path too long");
        strcpy(tc.out, out);
        if (photos) strcpy(tc.photos_dir, photos);
        dn_ae_config nc = dn_ae_default_config();
        nc.latent_channels = zc;
        if (widths && parse_widths(widths, &nc) < 0)
            return cli_error(cmd, EXIT_USAGE, "--widths wants 1 to %d numbers 1..512 like 16,32,64, not '%s'",
                             DN_AE_MAX_LEVELS, widths);
        if (dn_ae_config_check(&nc) < 0) return cli_error(cmd, EXIT_USAGE, "%s", dn_error());
        if (dn_ae_trainer_init(&tr, &tc, &nc) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        if (!run_dir) train_default_run_dir(rd, sizeof rd, out), run_dir = rd;
    }

    int status = EXIT_FAIL;
    FILE *log = NULL;
    train_curve lc = {0};
    char ckpt_path[1100], log_path[1100], curve_path[1100], grids_dir[1100], curve_title[160];
    snprintf(grids_dir, sizeof grids_dir, "%s/grids", run_dir);
    snprintf(ckpt_path, sizeof ckpt_path, "%s/checkpoint.ckpt", run_dir);
    snprintf(log_path, sizeof log_path, "%s/loss.csv", run_dir);
    snprintf(curve_path, sizeof curve_path, "%s/loss.png", run_dir);
    snprintf(curve_title, sizeof curve_title, "Autoencoder training: batch %d, lr %g, %s + KL", tr.cfg.batch,
             (double)tr.cfg.lr, tr.cfg.loss == DN_AE_LOSS_MSE ? "MSE" : "L1");
    if (dn_make_dir(run_dir) < 0 || (sample_every && dn_make_dir(grids_dir) < 0)) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    if (!(log = train_open_log(log_path, tr.step, cmd, "step,loss,rec,kl,psnr,grad_norm,lr,images_per_s,elapsed_s\n", &lc)))
        goto done;
    train_catch_signals();
    int f = dn_ae_factor(&tr.net.cfg);
    printf("%s autoencoder: %ld parameters, %dx%dx3 -> %dx%dx%d, %.0f + %.0f MFLOP per picture, batch %d "
           "(%d photo crops), %d thread%s, step %ld of %ld\n",
           resume ? "resuming" : "training", tr.net.n_params, tr.net.cfg.width, tr.net.cfg.height,
           tr.net.cfg.width / f, tr.net.cfg.height / f, tr.net.cfg.latent_channels,
           dn_ae_encode_flops(&tr.net.cfg, tr.net.cfg.height, tr.net.cfg.width) / 1e6,
           dn_ae_decode_flops(&tr.net.cfg, tr.net.cfg.height, tr.net.cfg.width) / 1e6, tr.cfg.batch,
           (int)lroundf(tr.cfg.photo_share * (float)tr.cfg.batch), dn_threads_get(), dn_threads_get() == 1 ? "" : "s",
           tr.step, tr.cfg.steps);
    printf("run folder %s (loss.csv, grids/, checkpoint.ckpt); autoencoder %s\n", run_dir, out);
    fflush(stdout);
    ae_job aj = {&tr, out, dtype, ckpt_path};
    train_job job = {.cmd = cmd, .ctx = &aj, .step = &tr.step, .steps = tr.cfg.steps, .batch = tr.cfg.batch,
                     .update = ae_update, .grid = ae_grid, .save = ae_save, .ckpt_path = ckpt_path,
                     .grid_dir = grids_dir, .out = out, .out_noun = "autoencoder", .curve_path = curve_path,
                     .curve_title = curve_title, .curve_ylabel = "loss per value (log scale)",
                     .ckpt_every = ckpt_every, .sample_every = sample_every, .log_every = log_every,
                     .stop_at = stop_at, .log = log, .curve = &lc};
    double el;
    status = train_loop(&job, &el);
    if (status == EXIT_OK && tr.step == tr.cfg.steps) {
        char e[32];
        train_fmt_time(e, sizeof e, el);
        printf("done: %ld steps, %s; held-out PSNR: pets64 %.2f dB, photo crops %.2f dB; scale factor %.5f; wrote %s\n",
               tr.step, e, (double)tr.net.psnr_pets, (double)tr.net.psnr_photos, (double)tr.net.scale_factor, out);
    }
done:
    train_curve_free(&lc);
    if (log) fclose(log);
    dn_ae_trainer_free(&tr);
    return status;
}
