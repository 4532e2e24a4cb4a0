/* bench_unet.c — how fast the U-Net is: forward latency at batch 1 and 2, a 50-step DDIM sample
 * with classifier-free guidance, training throughput (forward + backward + MSE, no optimizer) at
 * batch 64, achieved GFLOP/s and peak memory, for the default U-Net at 32x32x3 and 28x28x1.
 * Run by scripts/bench.sh (`make bench`), which adds the PyTorch twin and the ratio.
 *
 * usage: bench_unet [--threads N] [--quick]
 * Prints one line per row: name <TAB> value <TAB> unit <TAB> GFLOP/s; first a 1024^3 SGEMM (the
 * reference for the achieved GFLOP/s), then the rows above, then "viewer_step_pets": one guided
 * reverse step as the viewer computes it (core/diffusion/run.c, the shipped pets model, DDIM 50, w = 3,
 * the mean over the 50 steps), last the peak resident memory ("peak_rss", MB). */
#include "base/err.h"
#include "nn/gemm.h"
#include "nn/nn.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include "nets/unet.h"
#include "diffusion/model.h"
#include "diffusion/run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    const dn_unet *m;
    dn_unet_acts *a;
    dn_unet_params *g;
    float *gmem, *x, *t, *out, *target, *dout;
    int *ids;
    int N;
} job;

static void run_forward(job *j) { dn_unet_forward(j->m, j->a, j->out, j->x, j->t, j->ids, j->N); }

static void run_train(job *j) {
    const dn_unet_config *c = &j->m->cfg;
    long n = (long)j->N * c->out_channels * c->height * c->width;
    memset(j->gmem, 0, (size_t)j->m->n_params * sizeof(float));
    dn_unet_forward(j->m, j->a, j->out, j->x, j->t, j->ids, j->N);
    (void)dn_mse_forward(j->out, j->target, n);
    memset(j->dout, 0, (size_t)n * sizeof(float));
    dn_mse_backward(j->dout, j->out, j->target, n, 1.0f);
    dn_unet_backward(j->m, j->a, j->g, NULL, j->dout);
}

/* Seconds per call: one warm-up, then repeat until min_time has passed (at least min_reps) and
 * keep the best run; the machine is shared, and the best is the least disturbed. */
static double timeit(void (*fn)(job *), job *j, double min_time, int min_reps) {
    fn(j);
    int reps = 0;
    double t0 = now(), best = 1e30;
    do {
        double t1 = now();
        fn(j);
        double el = now() - t1;
        if (el < best) best = el;
        reps++;
    } while (reps < min_reps || now() - t0 < min_time);
    return best;
}

/* The reference for "achieved GFLOP/s": a large SGEMM (1024^3) with the same threads. */
static double sgemm_gflops(double min_time) {
    int n = 1024;
    float *a = malloc((size_t)n * n * 4), *b = malloc((size_t)n * n * 4), *c = malloc((size_t)n * n * 4);
    dn_rng r;
    dn_rng_seed(&r, 5, 0);
    dn_rng_normal_fill(&r, a, (long)n * n);
    dn_rng_normal_fill(&r, b, (long)n * n);
    dn_sgemm(0, 0, n, n, n, a, n, b, n, 0.0f, c, n);
    double best = 1e30, t0 = now();
    int reps = 0;
    do {
        double t1 = now();
        dn_sgemm(0, 0, n, n, n, a, n, b, n, 0.0f, c, n);
        double el = now() - t1;
        if (el < best) best = el;
        reps++;
    } while (reps < 3 || now() - t0 < min_time);
    free(a), free(b), free(c);
    return 2.0 * n * n * n / best / 1e9;
}

/* 50 DDIM steps (eta 0, diffusers defaults) from noise, guidance scale 3: each step runs the
 * conditional and the null-class prediction as one batch of 2. */
static double ddim_sample(const dn_unet *m, dn_unet_acts *a, int cls) {
    const dn_unet_config *c = &m->cfg;
    long n = (long)c->in_channels * c->height * c->width;
    dn_sched s;
    dn_sampler sp;
    dn_sampler_config sc;
    if (dn_sched_init_default(&s, DN_BETA_LINEAR, 1000)) return -1;
    dn_sampler_config_default(&sc, DN_DDIM, 50);
    if (dn_sampler_init(&sp, &s, &sc)) return -1;
    float *x = malloc((size_t)n * 4), *xin = malloc((size_t)2 * n * 4), *out = malloc((size_t)2 * n * 4);
    float *eps = malloc((size_t)n * 4);
    dn_rng r;
    dn_rng_seed(&r, 1, 0);
    dn_sampler_init_noise(x, &sp, &r, 1, n);
    int ids[2] = {cls, c->num_classes};
    double t0 = now();
    for (int i = 0; i < sp.n; i++) {
        dn_sampler_scale_model_input(xin, &sp, i, x, n);
        memcpy(xin + n, xin, (size_t)n * 4);
        float t[2] = {sp.timesteps[i], sp.timesteps[i]};
        dn_unet_forward(m, a, out, xin, t, ids, 2);
        dn_cfg_combine(eps, out + n, out, 3.0f, n);
        dn_step_out o = {.prev_sample = x};
        dn_sampler_step(&o, NULL, NULL, NULL, &sp, i, eps, x, 1, n);
    }
    double el = now() - t0;
    free(x), free(xin), free(out), free(eps);
    dn_sampler_free(&sp);
    dn_sched_free(&s);
    return el;
}

int main(int argc, char **argv) {
    int threads = 1, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else {
            fprintf(stderr, "usage: bench_unet [--threads N] [--quick]\n");
            return 2;
        }
    }
    dn_threads_set(threads);
    double mt = quick ? 0.3 : 2.0;
    double sg = sgemm_gflops(mt);
    printf("sgemm_1024\t%.2f\tGFLOP/s\t%.2f\n", sg, sg);
    const int shapes[2][2] = {{3, 32}, {1, 28}};
    for (int s = 0; s < 2; s++) {
        int C = shapes[s][0], HW = shapes[s][1];
        dn_unet_config cfg = dn_unet_default_config(C, HW, HW, 10);
        dn_unet m;
        dn_rng r;
        dn_rng_seed(&r, 0, 0);
        if (dn_unet_init(&m, &cfg)) {
            fprintf(stderr, "bench_unet: %s\n", dn_error());
            return 1;
        }
        dn_unet_init_random(&m, &r);
        double fl = dn_unet_flops(&cfg);
        char tag[32];
        snprintf(tag, sizeof tag, "%dx%dx%d", HW, HW, C);
        int B = 64;
        long ni = (long)B * C * HW * HW;
        job j = {.m = &m};
        dn_unet_acts acts;
        dn_unet_params g;
        if (dn_unet_acts_alloc(&acts, &m, B) || dn_unet_grads_alloc(&m, &g, &j.gmem)) {
            fprintf(stderr, "bench_unet: %s\n", dn_error());
            return 1;
        }
        j.a = &acts;
        j.g = &g;
        j.x = malloc((size_t)ni * 4), j.out = malloc((size_t)ni * 4), j.target = malloc((size_t)ni * 4);
        j.dout = malloc((size_t)ni * 4), j.t = malloc((size_t)B * 4), j.ids = malloc((size_t)B * sizeof(int));
        dn_rng_normal_fill(&r, j.x, ni);
        dn_rng_normal_fill(&r, j.target, ni);
        for (int i = 0; i < B; i++) {
            j.t[i] = (float)dn_rng_below(&r, 1000);
            j.ids[i] = (int)dn_rng_below(&r, 11);
        }
        for (int nb = 1; nb <= 2; nb++) {
            j.N = nb;
            j.t[0] = j.t[1] = 500.0f;
            double sec = timeit(run_forward, &j, mt, 3);
            printf("forward_b%d_%s\t%.3f\tms\t%.2f\n", nb, tag, sec * 1e3, fl * nb / sec / 1e9);
            fflush(stdout);
        }
        if (HW == 32) {
            double sec = ddim_sample(&m, &acts, 3), sec2 = ddim_sample(&m, &acts, 3); /* best of 2 */
            if (sec2 < sec) sec = sec2;
            printf("ddim50_cfg_%s\t%.1f\tms\t%.2f\n", tag, sec * 1e3, fl * 2 * 50 / sec / 1e9);
            fflush(stdout);
        }
        j.N = B;
        double sec = timeit(run_train, &j, quick ? 0.0 : mt, quick ? 1 : 3);
        /* backward costs about twice the forward: 3x forward FLOPs per image */
        printf("train_b64_%s\t%.1f\timg/s\t%.2f\n", tag, B / sec, 3 * fl * B / sec / 1e9);
        fflush(stdout);
        free(j.x), free(j.out), free(j.target), free(j.dout), free(j.t), free(j.ids), free(j.gmem);
        dn_unet_acts_free(&acts);
        dn_unet_free(&m);
    }
    /* the viewer's guided reverse step on the shipped pets model (skipped if it is not there) */
    dn_unet net;
    dn_model_meta meta;
    dn_sched sched;
    if (dn_model_load("assets/models/pets.dfm", &net, &meta) == 0 &&
        dn_sched_init(&sched, meta.schedule, meta.num_train_timesteps, meta.beta_start, meta.beta_end) == 0) {
        double best = 1e30;
        for (int rep = 0; rep < (quick ? 1 : 3); rep++) {
            dn_run_config rc = {.mode = DN_RUN_REVERSE, .net = &net, .sched = &sched, .channels = 3, .height = 32,
                                .width = 32, .class_id = 0, .cfg_scale = 3.0f, .seed = 7};
            dn_sampler_config_recommended(&rc.sampler, DN_DDIM, 50);
            double t0 = now();
            dn_run *run = dn_run_start(&rc);
            if (!run) break;
            int K = dn_run_frames(run) - 1;
            const dn_run_frame *f = dn_run_frame_wait(run, K);
            double el = (now() - t0) / K;
            dn_run_free(run);
            if (f && el < best) best = el;
        }
        if (best < 1e30) printf("viewer_step_pets\t%.2f\tms\t%.2f\n", best * 1e3, dn_unet_flops(&net.cfg) * 2 / best / 1e9);
        dn_sched_free(&sched);
        dn_unet_free(&net);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss\t%.0f\tMB\t-\n", (double)ru.ru_maxrss / 1024.0);
    return 0;
}
