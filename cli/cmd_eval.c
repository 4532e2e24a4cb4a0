/* cmd_eval.c — `diffuse eval`: the options, and the tables of core/eval/eval.h's numbers (text and
 * Markdown). How good is a model? Samples it and asks the project's own classifier
 * (core/nets/classifier.h) what the samples look like:
 *   conditional accuracy   share of samples generated for class y that the classifier calls y
 *                          (at the model's recommended guidance and at w = 1)
 *   coverage               class histogram of unconditional samples (does every class appear?)
 *   decisiveness           share of samples put in one class with probability > 0.9
 *   FD                     Fréchet distance in the classifier's feature space to the test set
 *                          (core/eval/frechet.h), beside the same distance for real images (the floor)
 * With --train-classifier it trains and saves that classifier instead. */
#include "nets/classifier.h"
#include "cli.h"
#include "commands.h"
#include "data/data.h"
#include "base/err.h"
#include "base/fileio.h"
#include "diffusion/model.h"
#include "eval/eval.h"
#include "latent/latent.h"
#include "base/parallel.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: diffuse eval --model MODEL.dfm [--classifier C.dfc] [--n N] [--steps S] [--cfg-scale W]\n"
    "                    [--seed S] [--threads T] [--md OUT.md] [--quick] [--sweep W,W,...]\n"
    "       diffuse eval --train-classifier --data fashion|pets -o C.dfc [--epochs E] [--max-images N]\n"
    "                    [--seed S] [--threads T] [--float32]\n"
    "\n"
    "Measures a model with a small classifier trained by this project (a few conv layers, shipped\n"
    "beside the model): samples it with DDIM, then reports conditional accuracy (at the model's\n"
    "recommended guidance and at w = 1), coverage and decisiveness of unconditional samples, and\n"
    "the Fréchet distance (FD) to the test set in the classifier's feature space, next to the same\n"
    "distance for real images (the floor). Every number follows from --seed.\n"
    "\n"
    "  --model MODEL       a model made by 'diffuse train'\n"
    "  --classifier C      the classifier (default: MODEL with .dfm replaced by -classifier.dfc,\n"
    "                      else assets/models/DATASET-classifier.dfc)\n"
    "  --n N               samples per setting, 2..10000, spread evenly over the classes (default 1000)\n"
    "  --quick             a fast look: 100 samples per setting\n"
    "  --real N            compare with the first N test images only (default: all 10000)\n"
    "  --steps S           DDIM steps (default 50)\n"
    "  --cfg-scale W       guidance scale (default: the model's recommendation, else 3)\n"
    "  --seed S            seed of the starting noise (default 0)\n"
    "  --threads T         threads (default: all cores; the numbers do not depend on it)\n"
    "  --md OUT.md         also write the tables as Markdown\n"
    "  --sweep W,W,...     instead: accuracy, decisiveness and FD at each guidance scale listed (up\n"
    "                      to 12), to see guidance trade variety for typical pictures\n"
    "\n"
    "  --train-classifier  train the classifier instead; needs --data and -o\n"
    "  --data NAME         fashion, pets or pets64\n"
    "  -o, --out C.dfc     where to save it (float16 unless --float32)\n"
    "  --epochs E          passes over the training images (default 6)\n"
    "  --max-images N      use only N training images (default: all)\n"
    "  --autoencoder AE    a judge of latent samples: train on the pictures and on AE's\n"
    "                      reconstructions of them (each counts as its picture's class)\n"
    "\n"
    "Fashion-MNIST is read from $DIFFUSE_FASHION_DIR, else " DN_FASHION_DIR ".\n";

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- --train-classifier ---------------------------------------------------------------------- */

static void train_progress(void *ctx, int epoch, long step, long total, float loss, float acc) {
    double t0 = *(const double *)ctx;
    printf("  epoch %d  step %ld/%ld  loss %.4f  train accuracy %.1f%%  %.0fs\n", epoch + 1, step, total,
           (double)loss, 100.0 * (double)acc, now() - t0);
    fflush(stdout);
}

static int train_classifier(const char *cmd, const char *data, const char *out, int epochs, int max_images,
                            int seed, int f32, const char *ae_path) {
    if (!data) return cli_error(cmd, EXIT_USAGE, "which data set? give --data fashion or --data pets");
    if (!out) return cli_error(cmd, EXIT_USAGE, "where to? give -o CLASSIFIER.dfc");
    const char *dir = getenv("DIFFUSE_FASHION_DIR");
    dn_data train = {0}, test = {0};
    dn_classifier m = {0};
    dn_autoencoder ae = {0};
    int status = EXIT_FAIL;
    if (dn_data_open(&train, data, 0, dir) || dn_data_open(&test, data, 1, dir)) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    if (ae_path) { /* a judge of latent samples: sharp pictures and their reconstructions */
        dn_data both;
        long n = max_images > 0 && max_images < train.n ? max_images : train.n;
        printf("reconstructing %ld training pictures with %s\n", n, ae_path);
        fflush(stdout);
        if (dn_ae_load(ae_path, &ae) < 0 || dn_latent_with_reconstructions(&both, &ae, &train, n) < 0) {
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            goto done;
        }
        dn_data_close(&train);
        train = both;
        max_images = 0;
    }
    dn_cls_config c = dn_cls_default_config(train.channels, train.height, train.width, train.num_classes);
    if (dn_cls_init(&m, &c)) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    double t0 = now();
    dn_cls_train_config tc = dn_cls_train_defaults();
    tc.epochs = epochs;
    tc.max_images = max_images;
    tc.seed = (uint64_t)seed;
    tc.progress = train_progress;
    tc.ctx = &t0;
    tc.report_every = 200;
    long n = max_images > 0 && max_images < train.n ? max_images : train.n;
    printf("training the %s classifier: %ld parameters, %ld images x %d epochs, seed %d\n", data, m.n_params, n,
           epochs, seed);
    if (dn_cls_train(&m, &train, &tc)) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    double acc;
    if (dn_cls_accuracy(&m, &test, 0, &acc)) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    m.test_accuracy = (float)acc;
    printf("test accuracy %.2f%% on %ld test images (%.0fs)\n", 100 * acc, test.n, now() - t0);
    if (ae_path) {
        double a0, a1, ps;
        if (dn_eval_reconstruction(&ae, &m, &test, 1000, &a0, &a1, &ps) < 0) {
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            goto done;
        }
        printf("on 1000 test pictures: %.2f%% of the originals, %.2f%% of their reconstructions\n", 100 * a0, 100 * a1);
    }
    if (dn_cls_save(out, &m, f32 ? 0 : 1)) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    printf("wrote %s\n", out);
    status = EXIT_OK;
done:
    dn_cls_free(&m);
    dn_ae_free(&ae);
    dn_data_close(&train);
    dn_data_close(&test);
    return status;
}

/* Sampling progress on stderr: a live counter on a terminal, one line per set in a log. */
static void sample_progress(void *ctx, const char *what, int i, int n, double seconds) {
    int tty = *(const int *)ctx;
    if ((tty && i % 5 == 0) || i == n) {
        fprintf(stderr, "%s  sampling %-22s step %2d/%d  %4.0fs", tty ? "\r" : "", what, i, n, seconds);
        if (i == n) fputc('\n', stderr);
        fflush(stderr);
    }
}

/* ---- the table: one set of rows, printed as text and as Markdown ----------------------------- */

#define MAX_ROWS 96
#define NCOL 5
typedef struct {
    int n;
    char cell[MAX_ROWS][NCOL][48];
} table;

static void row(table *t, const char *a, const char *b, const char *c, const char *d, const char *e) {
    if (t->n == MAX_ROWS) return;
    const char *v[NCOL] = {a, b, c, d, e};
    for (int i = 0; i < NCOL; i++) snprintf(t->cell[t->n][i], sizeof t->cell[0][0], "%s", v[i] ? v[i] : "");
    t->n++;
}

static void print_table(FILE *f, const table *t, int md) {
    int wd[NCOL] = {0};
    for (int r = 0; r < t->n; r++)
        for (int i = 0; i < NCOL; i++) {
            int l = (int)strlen(t->cell[r][i]);
            wd[i] = l > wd[i] ? l : wd[i];
        }
    for (int r = 0; r < t->n; r++) {
        if (md) fprintf(f, "|");
        for (int i = 0; i < NCOL; i++) {
            if (md) fprintf(f, " %-*s |", wd[i], t->cell[r][i]);
            else fprintf(f, i ? "  %*s" : "  %-*s", wd[i], t->cell[r][i]);
        }
        fprintf(f, "\n");
        if (md && r == 0) {
            fprintf(f, "|"); /* first column left-aligned, numbers right-aligned */
            for (int i = 0; i < NCOL; i++) {
                fputc(' ', f);
                for (int k = 0; k < wd[i] - (i > 0); k++) fputc('-', f);
                fprintf(f, "%s |", i ? ":" : "");
            }
            fprintf(f, "\n");
        }
    }
}

static void pct(char *buf, double v) {
    if (v < 0) snprintf(buf, 48, "-");
    else snprintf(buf, 48, "%.1f%%", 100 * v);
}

/* ---- eval ------------------------------------------------------------------------------------- */

/* A Markdown report, built in memory and then written in one go by dn_write_file_atomic, so a
 * failed or interrupted run never leaves half a report. */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} report;

static int report_begin(report *r) {
    r->buf = NULL, r->len = 0;
    r->f = open_memstream(&r->buf, &r->len);
    return r->f ? 0 : dn_fail("out of memory for the report");
}

/* Write the report to path; frees it either way. EXIT_OK, or EXIT_FAIL with one line. */
static int report_save(const char *cmd, report *r, const char *path) {
    int bad = ferror(r->f);
    bad |= fclose(r->f);
    r->f = NULL;
    int rc = bad ? dn_fail("out of memory for the report") : dn_write_file_atomic(path, r->buf, r->len);
    free(r->buf);
    r->buf = NULL;
    if (rc < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    printf("wrote %s\n", path);
    return EXIT_OK;
}

#define SWEEP_MAX 12

/* "1,1.5,3" -> up to SWEEP_MAX scales in 0..100; -1 if malformed. */
static int parse_sweep(const char *arg, float *w) {
    int n = 0;
    const char *p = arg;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v >= 0 && v <= 100) || n == SWEEP_MAX) return -1;
        w[n++] = (float)v;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return n ? n : -1;
}

/* --sweep: one guided set per scale; a row each: accuracy, decisiveness, FD and FD / floor. */
static int run_sweep(const char *cmd, dn_eval *ev, const int *ids, const float *w, int nw, const char *md,
                     const char *model, const char *cls_path, long real_opt) {
    int n = ev->c.n, steps = ev->c.steps;
    uint64_t seed = ev->c.seed;
    double floor_n = ev->floor_n;
    table t = {0};
    char a[48], b[48], c[48], d[48], e[48], what[64];
    row(&t, "guidance w", "accuracy", "decisive (p > 0.9)", "FD to test set", "FD / floor");
    for (int i = 0; i < nw; i++) {
        dn_eval_set s = {0};
        snprintf(what, sizeof what, "per class, w = %g", (double)w[i]);
        if (dn_eval_samples(ev, ids, w[i], what, &s)) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        snprintf(a, sizeof a, "%g", (double)w[i]);
        pct(b, s.accuracy), pct(c, s.decisive);
        snprintf(d, sizeof d, "%.3f", s.fd);
        snprintf(e, sizeof e, "%.2fx", s.fd / floor_n);
        row(&t, a, b, c, d, e);
    }
    printf("\n");
    print_table(stdout, &t, 0);
    printf("\nfloor: FD of %d real training images to the test set = %.3f\n", n, floor_n);
    if (!md) return EXIT_OK;
    char ws[SWEEP_MAX * 12] = "", realo[32] = "";
    for (int i = 0; i < nw; i++) snprintf(ws + strlen(ws), sizeof ws - strlen(ws), "%s%g", i ? "," : "", (double)w[i]);
    if (real_opt) snprintf(realo, sizeof realo, " --real %ld", real_opt);
    report r;
    if (report_begin(&r) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    FILE *mf = r.f;
    fprintf(mf, "# diffuse eval --sweep: %s\n\nDDIM %d steps, seed %llu, %d samples per scale, classifier `%s`. "
                "Floor: FD of %d real training images to the test set = %.3f.\n\n",
            model, steps, (unsigned long long)seed, n, cls_path, n, floor_n);
    print_table(mf, &t, 1);
    fprintf(mf, "\nCommand: `diffuse eval --model %s --classifier %s --n %d --steps %d --seed %llu%s --sweep %s`\n", model,
            cls_path, n, steps, (unsigned long long)seed, realo, ws);
    return report_save(cmd, &r, md);
}

int cmd_eval(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *model = NULL, *cls_path = NULL, *md = NULL, *data = NULL, *out = NULL, *sweep_arg = NULL, *cls_ae = NULL;
    int n = 1000, steps = 50, seed = 0, threads = 0, quick = 0, train = 0, epochs = 6, max_images = 0, f32 = 0, real_n = 0;
    float cfg_scale = -1;
    const cli_opt opts[] = {
        {"--model", "-m", OPT_STR, &model, 0, 0},
        {"--classifier", NULL, OPT_STR, &cls_path, 0, 0},
        {"--n", NULL, OPT_INT, &n, 2, 10000},
        {"--real", NULL, OPT_INT, &real_n, 2, 10000},
        {"--quick", NULL, OPT_FLAG, &quick, 0, 0},
        {"--steps", NULL, OPT_INT, &steps, 1, 1000},
        {"--cfg-scale", NULL, OPT_FLOAT, &cfg_scale, 0, 100},
        {"--seed", NULL, OPT_INT, &seed, 0, 2147483647},
        {"--threads", NULL, OPT_INT, &threads, 0, DN_MAX_THREADS},
        {"--md", NULL, OPT_STR, &md, 0, 0},
        {"--sweep", NULL, OPT_STR, &sweep_arg, 0, 0},
        {"--train-classifier", NULL, OPT_FLAG, &train, 0, 0},
        {"--autoencoder", NULL, OPT_STR, &cls_ae, 0, 0},
        {"--data", NULL, OPT_STR, &data, 0, 0},
        {"--out", "-o", OPT_STR, &out, 0, 0},
        {"--epochs", NULL, OPT_INT, &epochs, 1, 1000},
        {"--max-images", NULL, OPT_INT, &max_images, 0, 100000000},
        {"--float32", NULL, OPT_FLAG, &f32, 0, 0},
    };
    int npos;
    int rc = cli_parse(argc, argv, usage, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, &npos);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    dn_threads_set(threads);
    if (train) return train_classifier(cmd, data, out, epochs, max_images, seed, f32, cls_ae);
    if (!model) return cli_error(cmd, EXIT_USAGE, "which model? give --model MODEL.dfm (or --train-classifier)");
    if (quick) n = 100;
    float sweep[SWEEP_MAX];
    int n_sweep = 0;
    if (sweep_arg) {
        n_sweep = parse_sweep(sweep_arg, sweep);
        if (n_sweep < 0)
            return cli_error(cmd, EXIT_USAGE, "--sweep '%s': give up to %d guidance scales 0..100 separated by commas, "
                             "e.g. 1,2,3", sweep_arg, SWEEP_MAX);
    }

    int status = EXIT_FAIL;
    dn_unet net = {0};
    dn_model_meta meta;
    dn_classifier cls = {0};
    dn_data test = {0}, trainset = {0};
    dn_sched sched = {0};
    dn_eval ev = {0};
    int *ids = NULL;
    double t_start = now();
    if (dn_model_load(model, &net, &meta)) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    dn_autoencoder ae = {0}; /* a latent model's: samples are decoded before the classifier sees them */
    int K = net.cfg.num_classes;
    if (dn_latent_autoencoder(model, dn_model_meta_get(&meta, DN_LATENT_KEY), &net.cfg, &ae) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    const char *dname = dn_data_short_name(meta.dataset);
    if (!meta.dataset[0]) {
        cli_error(cmd, EXIT_FAIL, "the model '%s' does not say which data set it learned (no 'dataset' entry)", model);
        goto done;
    }
    /* the classifier: beside the model, else the shipped one */
    char cpath[1200];
    if (!cls_path) {
        size_t l = strlen(model);
        if (l > 4 && !strcmp(model + l - 4, ".dfm")) snprintf(cpath, sizeof cpath, "%.*s-classifier.dfc", (int)(l - 4), model);
        else snprintf(cpath, sizeof cpath, "%s-classifier.dfc", model);
        if (access(cpath, R_OK)) {
            char rel[128];
            snprintf(rel, sizeof rel, "assets/models/%s-classifier.dfc", dname);
            cli_data_path(cpath, sizeof cpath, rel);
        }
        cls_path = cpath;
    }
    if (dn_cls_load(cls_path, &cls)) {
        if (access(cls_path, F_OK))
            cli_error(cmd, EXIT_FAIL, "%s (make one with 'diffuse eval --train-classifier --data %s -o %s')",
                      dn_error(), dname, cls_path);
        else cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    if (dn_eval_check(&net, ae.param_mem ? &ae : NULL, &cls, model, cls_path) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    if (cls.dataset[0] && strcmp(cls.dataset, dname)) {
        cli_error(cmd, EXIT_FAIL, "the classifier '%s' was trained on '%s', the model '%s' on '%s'", cls_path,
                  cls.dataset, model, dname);
        goto done;
    }
    const char *dir = getenv("DIFFUSE_FASHION_DIR");
    if (dn_data_open(&test, dname, 1, dir) || dn_data_open(&trainset, dname, 0, dir)) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    if (cfg_scale < 0) cfg_scale = dn_model_cfg_scale(&meta);
    if (dn_sched_init(&sched, meta.schedule, meta.num_train_timesteps, meta.beta_start, meta.beta_end)) {
        cli_error(cmd, EXIT_FAIL, "%s: %s", model, dn_error());
        goto done;
    }
    ids = malloc((size_t)n * sizeof(int));
    if (!ids) {
        cli_error(cmd, EXIT_FAIL, "out of memory for %d samples", n);
        goto done;
    }
    printf("diffuse eval: %s (%s, %d classes, %ld training steps), classifier %s (test accuracy %.2f%%)\n", model,
           dname, K, meta.train_steps, cls_path, 100 * (double)cls.test_accuracy);
    if (n_sweep) printf("DDIM %d steps, seed %d, %d samples per setting, guidance sweep %s\n", steps, seed, n, sweep_arg);
    else printf("DDIM %d steps, seed %d, %d samples per setting, guidance w = %g and 1\n", steps, seed, n, (double)cfg_scale);
    fflush(stdout);

    /* real data: the test split through the classifier, and the floors */
    int tty = isatty(STDERR_FILENO);
    dn_eval_config ec = {.net = &net, .ae = ae.param_mem ? &ae : NULL, .sched = &sched, .cls = &cls, .test = &test,
                         .train = &trainset,
                         .steps = steps, .n = n, .n_real = real_n, .seed = (uint64_t)seed,
                         .progress = sample_progress, .ctx = &tty};
    fprintf(stderr, "  classifying the %ld test images\n", real_n > 0 && real_n < test.n ? (long)real_n : test.n);
    if (dn_eval_open(&ev, &ec)) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    long nt = ev.nt;
    int F = ev.F, Kc = ev.K; /* Kc = K unless the model is unconditional */
    double rec_acc = -1, rec_acc_rec = -1, rec_psnr = 0;
    if (ae.param_mem) { /* the autoencoder's round trip, before anything is sampled */
        fprintf(stderr, "  the autoencoder's round trip on %ld test pictures\n", nt < 1000 ? nt : 1000L);
        if (dn_eval_reconstruction(&ae, &cls, &test, nt < 1000 ? nt : 1000, &rec_acc, &rec_acc_rec, &rec_psnr) < 0) {
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            goto done;
        }
        printf("latent diffusion: %dx%dx%d latents of %dx%dx%d pictures; the autoencoder's round trip on %ld test "
               "pictures: PSNR %.2f dB, classifier accuracy %.2f%% on the originals, %.2f%% on the reconstructions\n",
               net.cfg.width, net.cfg.height, net.cfg.in_channels, cls.cfg.width, cls.cfg.height, cls.cfg.in_channels,
               nt < 1000 ? nt : 1000L, rec_psnr, 100 * rec_acc, 100 * rec_acc_rec);
        fflush(stdout);
    }
    const dn_eval_set real = ev.real;
    double floor_n = ev.floor_n, floor_half = ev.floor_half;

    for (int i = 0; i < n; i++) ids[i] = K ? i % K : 0;
    if (n_sweep) {
        if (!K) {
            cli_error(cmd, EXIT_FAIL, "--sweep: the model '%s' has no classes to guide toward", model);
            goto done;
        }
        status = run_sweep(cmd, &ev, ids, sweep, n_sweep, md, model, cls_path, real_n ? nt : 0);
        goto done;
    }

    /* the three sample sets: guided at w, conditional at w = 1, unconditional */
    dn_eval_set guided = {0}, plain = {0}, uncond = {0};
    char what[64];
    for (int set = 0; set < 3; set++) {
        dn_eval_set *s = set == 0 ? &guided : set == 1 ? &plain : &uncond;
        if (set < 2 && K == 0) continue;
        if (set == 1 && cfg_scale == 1.0f) continue; /* the same as the guided set */
        float w = set == 0 ? cfg_scale : 1.0f;
        if (set == 2) snprintf(what, sizeof what, "unconditional");
        else snprintf(what, sizeof what, "per class, w = %g", (double)w);
        if (dn_eval_samples(&ev, set < 2 ? ids : NULL, w, what, s)) {
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            goto done;
        }
    }
    if (K && cfg_scale == 1.0f) plain = guided;

    /* the tables */
    table t = {0}, pc = {0};
    char a[48], b[48], c[48], d[48], head[48];
    snprintf(head, sizeof head, "guided w=%g", (double)cfg_scale);
    row(&t, "measure", head, "w=1", "unconditional", "real test images");
    pct(a, guided.accuracy), pct(b, plain.accuracy), pct(d, real.accuracy);
    row(&t, "conditional accuracy", K ? a : "-", K ? b : "-", "-", d);
    int cov = 0, real_cov = 0;
    for (int k = 0; k < Kc; k++) cov += uncond.hist[k] > 0, real_cov += real.hist[k] > 0;
    snprintf(c, sizeof c, "%d/%d", cov, Kc);
    snprintf(d, sizeof d, "%d/%d", real_cov, Kc);
    row(&t, "classes covered", "-", "-", c, d);
    pct(a, guided.decisive), pct(b, plain.decisive), pct(c, uncond.decisive), pct(d, real.decisive);
    row(&t, "decisive (p > 0.9)", K ? a : "-", K ? b : "-", c, d);
    snprintf(a, sizeof a, "%.3f", guided.fd), snprintf(b, sizeof b, "%.3f", plain.fd);
    snprintf(c, sizeof c, "%.3f", uncond.fd), snprintf(d, sizeof d, "%.3f (floor)", floor_n);
    row(&t, "FD to test set", K ? a : "-", K ? b : "-", c, d);
    snprintf(a, sizeof a, "%.2fx", guided.fd / floor_n), snprintf(b, sizeof b, "%.2fx", plain.fd / floor_n);
    snprintf(c, sizeof c, "%.2fx", uncond.fd / floor_n);
    row(&t, "FD / floor", K ? a : "-", K ? b : "-", c, "1x");
    snprintf(d, sizeof d, "%.3f", floor_half);
    row(&t, "FD test half vs half", "", "", "", d);

    snprintf(a, sizeof a, "acc. w=%g", (double)cfg_scale);
    row(&pc, "class", a, "acc. w=1", "share of uncond.", "share of test");
    for (int k = 0; k < Kc; k++) {
        const char *name = k < meta.n_class_names ? meta.class_names[k] : cls.class_names[k];
        pct(a, guided.per_class_n[k] ? (double)guided.per_class_right[k] / guided.per_class_n[k] : -1);
        pct(b, plain.per_class_n[k] ? (double)plain.per_class_right[k] / plain.per_class_n[k] : -1);
        pct(c, (double)uncond.hist[k] / uncond.n);
        pct(d, (double)real.hist[k] / real.n);
        row(&pc, name, a, b, c, d);
    }
    printf("\n");
    print_table(stdout, &t, 0);
    printf("\n");
    print_table(stdout, &pc, 0);
    printf("\nFD: Fréchet distance between Gaussians fitted to the classifier's %d features of %d samples and of "
           "the %ld test images; floor: %d training images instead of samples. (%.0fs)\n", F, n, nt, n, now() - t_start);
    if (md) {
        report r;
        if (report_begin(&r) < 0) {
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            goto done;
        }
        FILE *mf = r.f;
        char real_opt[32] = "";
        if (nt < test.n) snprintf(real_opt, sizeof real_opt, " --real %ld", nt);
        fprintf(mf, "# diffuse eval: %s\n\n", model);
        fprintf(mf, "Data set `%s` (%d classes), %ld training steps. Classifier `%s` (test accuracy %.2f%%).\n"
                    "DDIM %d steps, seed %d, %d samples per setting; recommended guidance w = %g.\n\n",
                dname, K, meta.train_steps, cls_path, 100 * (double)cls.test_accuracy, steps, seed, n, (double)cfg_scale);
        if (ae.param_mem)
            fprintf(mf, "Latent diffusion: %dx%dx%d latents of %dx%dx%d pictures. The autoencoder's round trip on %ld "
                        "test pictures: PSNR %.2f dB; classifier accuracy %.2f%% on the originals, %.2f%% on the "
                        "reconstructions.\n\n", net.cfg.width, net.cfg.height, net.cfg.in_channels, cls.cfg.width,
                    cls.cfg.height, cls.cfg.in_channels, nt < 1000 ? nt : 1000L, rec_psnr, 100 * rec_acc,
                    100 * rec_acc_rec);
        print_table(mf, &t, 1);
        fprintf(mf, "\n");
        print_table(mf, &pc, 1);
        fprintf(mf, "\n");
        fprintf(mf, "FD: Fréchet distance between Gaussians fitted to the classifier's %d pooled features of the %d "
                    "samples and of the %ld test images. Floor: the same distance for %d real training images.\n\n"
                    "Command: `diffuse eval --model %s --classifier %s --n %d --steps %d --cfg-scale %g --seed %d%s`\n",
                F, n, nt, n, model, cls_path, n, steps, (double)cfg_scale, seed, real_opt);
        if (report_save(cmd, &r, md) != EXIT_OK) goto done;
    }
    status = EXIT_OK;
done:
    free(ids);
    dn_eval_close(&ev);
    dn_sched_free(&sched);
    dn_data_close(&test);
    dn_data_close(&trainset);
    dn_cls_free(&cls);
    dn_ae_free(&ae);
    dn_unet_free(&net);
    return status;
}
