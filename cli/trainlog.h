/* trainlog.h — what the training commands share (cmd_train.c: the U-Net and the autoencoder):
 * Ctrl-C that asks the loop to save and stop, the clock and its "1h02m" format, the run folder's
 * default name, the loss curve (loss.png) and the CSV log that a resumed run continues. */
#ifndef DN_TRAINLOG_H
#define DN_TRAINLOG_H
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

extern volatile sig_atomic_t train_stop; /* the signal that asked to stop, or 0 */
void train_catch_signals(void);          /* SIGINT and SIGTERM set train_stop */
double train_now(void);                  /* seconds, monotonic */
void train_fmt_time(char *buf, size_t n, double s); /* "42s", "3m05s", "1h02m" */
/* "runs/NAME" for "some/dir/NAME.dfm" */
void train_default_run_dir(char *buf, size_t n, const char *model);
/* A resumed run's folder: the checkpoint's ("." for a bare file name). */
void train_resume_dir(char *buf, size_t n, const char *checkpoint);
/* A resumed run that has taken all its steps: says so (then the command exits 0). */
void train_say_finished(const char *checkpoint, long steps);

/* The loss so far, for loss.png. */
typedef struct {
    long n, cap;
    float *step, *loss, *smooth;
} train_curve;
void train_curve_add(train_curve *c, long step, double loss, double smooth); /* out of memory: the plot misses points */
int train_curve_save(const train_curve *c, const char *path, const char *title, const char *ylabel);
void train_curve_free(train_curve *c);

/* Open the CSV log for appending: a fresh one gets `header`; a resumed run (step > 0) keeps the
 * rows up to `step` (their losses go into cv) and drops the rest. NULL after printing the error. */
FILE *train_open_log(const char *path, long step, const char *cmd, const char *header, train_curve *cv);

/* ---- the loop every training command runs ----------------------------------------------------
 * Updates until the planned steps or a stop: after each one a CSV row (the step, the job's
 * columns, images per second, elapsed seconds), the curve, the progress line (on a terminal four
 * times a second, else every log_every steps), a grid every sample_every steps and at the end, a
 * checkpoint every ckpt_every seconds and at the end; a loss that is not finite stops it; Ctrl-C
 * (or --stop-at) saves and says how to go on. */
typedef struct {
    double loss, smooth; /* this update's loss and the smoothed one (curve) */
    char csv[256];       /* the row's columns between the step and the speed, e.g. "0.1,0.09,1.2,2e-4" */
    char line[160];      /* the progress line's part between the step and the speed */
} train_update;

typedef struct {
    const char *cmd;             /* the subcommand, for messages */
    void *ctx;
    long *step;                  /* updates done (the job's counter) */
    long steps;                  /* planned */
    int batch;
    int (*update)(void *ctx, train_update *u);  /* one update; 0 or -1 + dn_error (weights unchanged) */
    int (*grid)(void *ctx, const char *path);   /* a picture of the state, 0 or -1 + dn_error */
    int (*save)(void *ctx, int final);          /* checkpoint and output file; final: the end */
    const char *ckpt_path, *grid_dir, *out, *out_noun; /* out_noun: "model", "autoencoder" */
    const char *curve_path, *curve_title, *curve_ylabel;
    int ckpt_every, sample_every, log_every, stop_at;
    FILE *log;
    train_curve *curve;
} train_job;

/* EXIT_OK when the planned steps are done (or --stop-at was reached), 128 + the signal after a
 * Ctrl-C, EXIT_FAIL after printing the error. *elapsed: the loop's seconds. */
int train_loop(const train_job *j, double *elapsed);

#endif
