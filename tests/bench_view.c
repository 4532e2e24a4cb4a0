/* bench_view.c — how long a teacher waits after a key in the viewer (the "no waiting" targets of
 * docs/PERFORMANCE.md): the shipped pets model, reverse DDIM 50 steps of a cat at guidance 3 (two
 * U-Net evaluations a step), the cursor at the last step, where every change has to recompute the
 * whole run before the screen settles. For each settings key: the time until the frame at the
 * cursor is there (the screen shows the new picture) when nothing was computed ahead; pressed
 * again, the time back to the setting seen before (a kept run); and the time when the window's
 * idle time was used to compute the likely next keys ahead (dn_view_idle). Then a new seed with
 * the cursor half way, and five [ presses in a row. Prints a table; make bench runs it at 1 and 2
 * threads.
 *
 *   bench_view [--threads N] [--model assets/models/pets.dfm] */
#include "base/err.h"
#include "base/parallel.h"
#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ms until the frame at the cursor is computed, after the actions */
static double settle(dn_view *v, const dn_act *ops, int n) {
    double t0 = now();
    for (int i = 0; i < n; i++)
        if (dn_view_act(v, DN_ACT(ops[i])) < 0) {
            fprintf(stderr, "bench_view: %s\n", dn_error());
            exit(1);
        }
    if (!dn_run_frame_wait(v->run, v->k)) {
        fprintf(stderr, "bench_view: %s\n", dn_error());
        exit(1);
    }
    return 1e3 * (now() - t0);
}

/* The window's idle time until nothing is left to compute ahead; its ms. */
static double idle(dn_view *v) {
    double t0 = now();
    while (dn_view_idle(v) || v->ahead) {
        if (v->ahead) dn_run_frame_wait(v->ahead, dn_run_frames(v->ahead) - 1);
        if (v->ahead && dn_run_ready(v->ahead) == dn_run_frames(v->ahead)) dn_view_idle(v); /* clears it */
    }
    return 1e3 * (now() - t0);
}

int main(int argc, char **argv) {
    const char *model = "assets/models/pets.dfm";
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else {
            fprintf(stderr, "usage: bench_view [--threads N] [--model FILE]\n");
            return 2;
        }
    }
    dn_threads_set(threads);
    dn_view_settings s;
    dn_view_settings_default(&s);
    s.mode = DN_RUN_REVERSE, s.steps = 50, s.sampler = DN_DDIM, s.cfg_scale = 3;
    snprintf(s.model, sizeof s.model, "%s", model);
    dn_view v;
    double t0 = now();
    if (dn_view_init(&v, &s) < 0) {
        fprintf(stderr, "bench_view: %s\n", dn_error());
        return 1;
    }
    int K = dn_view_frames(&v) - 1;
    dn_run_frame_wait(v.run, K);
    double first = 1e3 * (now() - t0);
    dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, K});
    printf("# bench_view: %s, reverse DDIM %d steps, a cat at w = 3, %d thread(s), cursor at step %d\n", model, K,
           dn_threads_get(), K);
    printf("first run (load + %d guided steps)\t%.0f ms\n", K, first);
    printf("key\tnew setting (ms)\tback to the one before (ms)\tafter the idle time, computed ahead (ms)\n");
    static const struct {
        const char *name;
        dn_act there, back;
    } keys[] = {
        {"] guidance up", DN_ACT_CFG_UP, DN_ACT_CFG_DOWN},
        {"[ guidance down", DN_ACT_CFG_DOWN, DN_ACT_CFG_UP},
        {"C conditioning", DN_ACT_COND_TOGGLE, DN_ACT_COND_TOGGLE},
        {"Tab class", DN_ACT_CLASS_NEXT, DN_ACT_CLASS_NEXT}, /* pets: two classes, Tab twice is back */
        {"R seed", DN_ACT_NEW_SEED, DN_ACT_NONE},
    };
    enum { NK = sizeof keys / sizeof keys[0] };
    double cold[NK], back[NK], ahead[NK], idle_ms = 0;
    /* cold: nothing computed ahead (the window's idle time not used) */
    for (int i = 0; i < NK; i++) {
        cold[i] = settle(&v, &keys[i].there, 1);
        back[i] = keys[i].back != DN_ACT_NONE ? settle(&v, &keys[i].back, 1) : -1;
    }
    /* a fresh seed, so nothing is kept; then between keys the idle time a teacher leaves (the
     * window calls dn_view_idle between events): every likely next run is computed ahead */
    settle(&v, (dn_act[]){DN_ACT_NEW_SEED}, 1);
    for (int i = 0; i < NK; i++) {
        idle_ms += idle(&v);
        ahead[i] = settle(&v, &keys[i].there, 1);
        idle_ms += idle(&v);
        if (keys[i].back != DN_ACT_NONE) settle(&v, &keys[i].back, 1);
    }
    for (int i = 0; i < NK; i++) {
        if (back[i] >= 0) printf("%s\t%.0f\t%.3f\t%.3f\n", keys[i].name, cold[i], back[i], ahead[i]);
        else printf("%s\t%.0f\t-\t%.3f\n", keys[i].name, cold[i], ahead[i]);
    }
    printf("idle time used to compute ahead: %.0f ms for %d keys\n", idle_ms, NK);
    /* the middle of the run: only the steps up to the cursor are needed first */
    dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, K / 2});
    double mid_new = settle(&v, (dn_act[]){DN_ACT_NEW_SEED, DN_ACT_NEW_SEED}, 2);
    printf("R R (a seed not computed ahead), cursor at step %d\t%.0f\n", K / 2, mid_new);
    dn_view_act(&v, (dn_action){DN_ACT_SCRUB_TO, K});
    dn_act five[5] = {DN_ACT_CFG_DOWN, DN_ACT_CFG_DOWN, DN_ACT_CFG_DOWN, DN_ACT_CFG_DOWN, DN_ACT_CFG_DOWN};
    double burst = settle(&v, five, 5);
    printf("[ five times in a row, nothing ahead\t%.0f\n", burst);
    dn_view_free(&v);
    return 0;
}
