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

#endif
