/* trainlog.c — see trainlog.h. */
#include "trainlog.h"
#include "cli.h"
#include "base/err.h"
#include "base/fileio.h"
#include "plot.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t train_stop;
static void on_signal(int sig) { train_stop = sig; }

double train_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void train_fmt_time(char *buf, size_t n, double s) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

/* "runs/NAME" for "some/dir/NAME.dfm" */
void train_default_run_dir(char *buf, size_t n, const char *model) {
    const char *base = strrchr(model, '/');
    base = base ? base + 1 : model;
    size_t len = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) len = (size_t)(dot - base);
    snprintf(buf, n, "runs/%.*s", (int)len, base);
}

/* The loss so far, for loss.png. */
typedef struct {
    long n, cap;
    float *step, *loss, *smooth;
} curve;

void train_curve_add(train_curve *c, long step, double loss, double smooth) {
    if (c->n == c->cap) {
        long cap = c->cap ? 2 * c->cap : 4096;
        float *a = realloc(c->step, (size_t)cap * sizeof(float)), *b = a ? realloc(c->loss, (size_t)cap * sizeof(float)) : NULL;
        if (a) c->step = a;
        if (b) c->loss = b;
        float *d = b ? realloc(c->smooth, (size_t)cap * sizeof(float)) : NULL;
        if (d) c->smooth = d;
        if (!a || !b || !d) return; /* the plot misses points; training goes on */
        c->cap = cap;
    }
    c->step[c->n] = (float)step, c->loss[c->n] = (float)loss, c->smooth[c->n] = (float)smooth;
    c->n++;
}

int train_curve_save(const train_curve *c, const char *path, const char *title, const char *ylabel) {
    dn_plot_series s[2] = {{c->step, c->loss, (int)c->n, DN_RGB(170, 200, 235), 1, "loss of each step"},
                           {c->step, c->smooth, (int)c->n, DN_RGB(20, 70, 160), 2, "smoothed"}};
    dn_plot_style st = {title, "training step", ylabel, 1};
    dn_png_text text[] = {{"Software", "diffuse " DN_VERSION}, {"Title", title}};
    return dn_plot_save(path, 960, 540, s, 2, &st, text, 2);
}

/* Keep the rows of an existing loss.csv up to `step` (a resumed run rewrites what follows); their
 * losses go into the curve. */
FILE *train_open_log(const char *path, long step, const char *cmd, const char *header, train_curve *cv) {
    unsigned char *old = NULL;
    size_t len = 0;
    dn_buf keep = {0};
    if (step > 0 && access(path, F_OK) == 0 && dn_read_file(path, &old, &len, (size_t)1 << 30) == 0) {
        size_t i = 0;
        while (i < len) {
            size_t j = i;
            while (j < len && old[j] != '\n') j++;
            if (j == len) break; /* a torn last line */
            char *end;
            long s = strtol((const char *)old + i, &end, 10);
            if (i == 0 || (s >= 1 && s <= step)) dn_buf_put(&keep, old + i, j + 1 - i);
            if (i > 0 && s >= 1 && s <= step && *end == ',') {
                double l = strtod(end + 1, &end), sm = *end == ',' ? strtod(end + 1, NULL) : l;
                train_curve_add(cv, s, l, sm);
            }
            i = j + 1;
        }
        free(old);
    }
    if (keep.len == 0) dn_buf_put(&keep, header, strlen(header));
    if (keep.oom || dn_write_file_atomic(path, keep.data, keep.len) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", keep.oom ? "out of memory" : dn_error());
        dn_buf_free(&keep);
        return NULL;
    }
    dn_buf_free(&keep);
    FILE *f = fopen(path, "a");
    if (!f) cli_error(cmd, EXIT_FAIL, "cannot append to '%s': %s", path, strerror(errno));
    return f;
}


void train_resume_dir(char *buf, size_t n, const char *checkpoint) {
    const char *slash = strrchr(checkpoint, '/');
    snprintf(buf, n, "%.*s", slash ? (int)(slash - checkpoint) : 1, slash ? checkpoint : ".");
}

void train_say_finished(const char *checkpoint, long steps) {
    printf("the run in '%s' has already taken its %ld steps; give --steps N (more) to train on\n", checkpoint, steps);
}

void train_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void train_curve_free(train_curve *c) {
    free(c->step), free(c->loss), free(c->smooth);
    memset(c, 0, sizeof *c);
}


static int save_all(const train_job *j, int final) {
    return j->save(j->ctx, final) < 0 || train_curve_save(j->curve, j->curve_path, j->curve_title, j->curve_ylabel) < 0
               ? -1
               : 0;
}

int train_loop(const train_job *j, double *elapsed) {
    int tty = isatty(STDOUT_FILENO);
    double t0 = train_now(), last_ckpt = t0, last_line = 0, rate = 0;
    long start = *j->step;
    char path[1400];
    while (*j->step < j->steps && !train_stop) {
        train_update u;
        memset(&u, 0, sizeof u);
        if (j->update(j->ctx, &u) < 0) {
            if (tty) printf("\n");
            return cli_error(j->cmd, EXIT_FAIL, "step %ld: %s; the weights are unchanged, the last checkpoint is '%s'",
                             *j->step + 1, dn_error(), j->ckpt_path);
        }
        long step = *j->step;
        double el = train_now() - t0;
        rate = (double)(step - start) * j->batch / (el > 1e-9 ? el : 1e-9);
        fprintf(j->log, "%ld,%s,%.4g,%.2f\n", step, u.csv, rate, el);
        train_curve_add(j->curve, step, u.loss, u.smooth);
        int last = step == j->steps;
        if ((tty && (el - last_line > 0.25 || last)) || (!tty && (step % j->log_every == 0 || last))) {
            char e[32], eta[32];
            train_fmt_time(e, sizeof e, el);
            train_fmt_time(eta, sizeof eta, (double)(j->steps - step) * j->batch / (rate > 0 ? rate : 1));
            printf("%sstep %ld/%ld  %s  %.0f img/s  elapsed %s  ETA %s%s", tty ? "\r" : "", step, j->steps, u.line, rate,
                   e, eta, tty ? "   " : "\n");
            fflush(stdout);
            fflush(j->log);
            last_line = el;
        }
        if (!isfinite(u.loss)) {
            if (tty) printf("\n");
            return cli_error(j->cmd, EXIT_FAIL, "the loss became %g at step %ld: training diverged (try a lower --lr); "
                             "the last checkpoint is '%s'", u.loss, step, j->ckpt_path);
        }
        if (j->stop_at && step >= j->stop_at && !last) train_stop = SIGINT;
        if (j->sample_every && (step % j->sample_every == 0 || last)) {
            snprintf(path, sizeof path, "%s/step_%07ld.png", j->grid_dir, step);
            if (j->grid(j->ctx, path) < 0) {
                if (tty) printf("\n");
                return cli_error(j->cmd, EXIT_FAIL, "%s", dn_error());
            }
        }
        if (train_now() - last_ckpt >= j->ckpt_every || last) {
            if (save_all(j, last) < 0) {
                if (tty) printf("\n");
                return cli_error(j->cmd, EXIT_FAIL, "%s", dn_error());
            }
            last_ckpt = train_now();
        }
    }
    if (tty) printf("\n");
    fflush(j->log);
    *elapsed = train_now() - t0;
    if (!train_stop) return EXIT_OK;
    if (save_all(j, 0) < 0) return cli_error(j->cmd, EXIT_FAIL, "interrupted, and could not save: %s", dn_error());
    printf("stopped at step %ld; checkpoint %s, %s %s\nto go on: diffuse train --resume %s\n", *j->step, j->ckpt_path,
           j->out_noun, j->out, j->ckpt_path);
    return j->stop_at && *j->step >= j->stop_at ? EXIT_OK : 128 + (int)train_stop;
}
