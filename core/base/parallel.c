/* parallel.c — the thread pool of parallel.h.
 * A parallel-for publishes a job (fn, ctx, task ranges), opens it and bumps a generation counter;
 * workers notice (spinning briefly, else sleeping on a condition variable), enter the job and
 * claim tasks; the caller claims tasks too and returns once every task is done. A worker that
 * arrives late (descheduled on a busy machine) finds nothing left and is never waited for:
 * only a task already claimed is. Before the next job is written, the caller waits until no
 * worker is inside the job (`active`), and a job is only entered while it is open. */
#include "base/parallel.h"
#include "base/err.h"
#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    pthread_t th[DN_MAX_THREADS];
    int nworkers;            /* running worker threads */
    atomic_long generation;  /* bumped for each job */
    atomic_int open;         /* the current job may be entered */
    atomic_int active;       /* workers inside the current job */
    atomic_int done;         /* tasks of the current job finished */
    atomic_int quit;         /* tells workers to exit */
    dn_task_fn fn;           /* the current job (written only while no worker is inside) */
    void *ctx;
    int ntasks, nparts;      /* tasks; threads it is dealt to (ranges) */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .work_cv = PTHREAD_COND_INITIALIZER,
          .done_cv = PTHREAD_COND_INITIALIZER};

/* Tasks are dealt out in contiguous ranges, range i to thread i (the caller is thread 0), so a
 * thread tends to get the same part of the data in consecutive layers (it is still in its cache).
 * A thread that finishes its range takes unclaimed tasks from the others' ranges. */
static struct {
    _Alignas(64) atomic_int next; /* next unclaimed task of the range; own cache line */
    int end;
} ranges[DN_MAX_THREADS];

/* One parallel-for at a time; a second caller (or a nested call) runs serially instead. */
static pthread_mutex_t dispatch_mu = PTHREAD_MUTEX_INITIALIZER;
static int nthreads = 1;
static _Thread_local int in_task;

/* Waiting: spin on an atomic for a short while (a U-Net layer takes tens of microseconds, a
 * sleep/wake-up round trip costs about as much), then sleep. */
#define SPIN 20000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

int dn_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* Thread `self` runs its own range, then helps with the others'; returns when none is left. */
static void run_tasks(int self) {
    dn_task_fn fn = pool.fn;
    void *ctx = pool.ctx;
    int nparts = pool.nparts, ntasks = pool.ntasks;
    in_task = 1;
    for (int k = 0; k < nparts; k++) {
        int r = (self + k) % nparts;
        for (;;) {
            int t = atomic_fetch_add(&ranges[r].next, 1);
            if (t >= ranges[r].end) break;
            fn(ctx, t);
            if (atomic_fetch_add(&pool.done, 1) + 1 == ntasks) { /* the last task: wake the caller */
                pthread_mutex_lock(&pool.mu);
                pthread_cond_signal(&pool.done_cv);
                pthread_mutex_unlock(&pool.mu);
            }
        }
    }
    in_task = 0;
}

/* Worker `id` (1 .. nthreads-1); generation `gen0` was current when it was created. */
typedef struct {
    int id;
    long gen0;
} worker_arg;
static worker_arg worker_args[DN_MAX_THREADS];

static void *worker(void *arg) {
    const worker_arg *wa = arg;
    long seen = wa->gen0;
    for (;;) {
        long gen = atomic_load(&pool.generation);
        for (int i = 0; gen == seen && i < SPIN && !atomic_load(&pool.quit); i++) {
            cpu_relax();
            gen = atomic_load(&pool.generation);
        }
        if (gen == seen) {
            pthread_mutex_lock(&pool.mu);
            while ((gen = atomic_load(&pool.generation)) == seen && !atomic_load(&pool.quit))
                pthread_cond_wait(&pool.work_cv, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
        }
        if (atomic_load(&pool.quit)) break;
        /* enter job `gen` only if it is still the open one; else it is over (or not yet open:
         * look again) */
        atomic_fetch_add(&pool.active, 1);
        if (atomic_load(&pool.open) && atomic_load(&pool.generation) == gen) {
            seen = gen;
            run_tasks(wa->id);
        } else if (!atomic_load(&pool.open)) {
            seen = gen; /* finished while we were away */
        }
        atomic_fetch_sub(&pool.active, 1);
    }
    dn_workspace_free();
    return NULL;
}

static void stop_workers(void) {
    pthread_mutex_lock(&pool.mu);
    atomic_store(&pool.quit, 1);
    pthread_cond_broadcast(&pool.work_cv);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.nworkers; i++) pthread_join(pool.th[i], NULL);
    pool.nworkers = 0;
    atomic_store(&pool.quit, 0);
}

/* Start workers up to nthreads - 1; if the system refuses a thread, run with fewer (the results
 * are the same, only slower), so this cannot fail. */
static void start_workers(void) {
    while (pool.nworkers < nthreads - 1) {
        worker_arg *wa = &worker_args[pool.nworkers];
        wa->id = pool.nworkers + 1;
        wa->gen0 = atomic_load(&pool.generation);
        if (pthread_create(&pool.th[pool.nworkers], NULL, worker, wa) != 0) break;
        pool.nworkers++;
    }
}

void dn_threads_set(int n) {
    if (n <= 0) n = dn_cores();
    if (n > DN_MAX_THREADS) n = DN_MAX_THREADS;
    pthread_mutex_lock(&dispatch_mu);
    if (n != nthreads) {
        stop_workers();
        nthreads = n;
    }
    pthread_mutex_unlock(&dispatch_mu);
}

int dn_threads_get(void) { return nthreads; }

static void run_serial(int ntasks, dn_task_fn fn, void *ctx) {
    for (int t = 0; t < ntasks; t++) fn(ctx, t);
}

void dn_parallel_for(int ntasks, dn_task_fn fn, void *ctx) {
    if (ntasks <= 0) return;
    if (ntasks == 1 || nthreads == 1 || in_task || pthread_mutex_trylock(&dispatch_mu) != 0) {
        run_serial(ntasks, fn, ctx);
        return;
    }
    start_workers();
    if (pool.nworkers == 0) {
        pthread_mutex_unlock(&dispatch_mu);
        run_serial(ntasks, fn, ctx);
        return;
    }
    /* no worker may still be inside the previous job while this one is written */
    for (int i = 0; atomic_load(&pool.active) > 0; i++) {
        if (i < SPIN) cpu_relax();
        else sched_yield();
    }
    int nparts = pool.nworkers + 1 < ntasks ? pool.nworkers + 1 : ntasks;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.ntasks = ntasks;
    pool.nparts = nparts;
    for (int i = 0; i < nparts; i++) {
        atomic_store(&ranges[i].next, (int)((long)ntasks * i / nparts));
        ranges[i].end = (int)((long)ntasks * (i + 1) / nparts);
    }
    atomic_store(&pool.done, 0);
    pthread_mutex_lock(&pool.mu); /* bump under the lock so a worker going to sleep sees it */
    atomic_store(&pool.open, 1);
    atomic_fetch_add(&pool.generation, 1);
    pthread_cond_broadcast(&pool.work_cv);
    pthread_mutex_unlock(&pool.mu);
    run_tasks(0);
    for (int i = 0; i < SPIN && atomic_load(&pool.done) < ntasks; i++) cpu_relax();
    if (atomic_load(&pool.done) < ntasks) {
        pthread_mutex_lock(&pool.mu);
        while (atomic_load(&pool.done) < ntasks) pthread_cond_wait(&pool.done_cv, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
    }
    atomic_store(&pool.open, 0);
    pthread_mutex_unlock(&dispatch_mu);
}

/* ---- per-thread workspace --------------------------------------------------------------------- */

static _Thread_local struct {
    void *p[DN_WORKSPACE_SLOTS];
    size_t cap[DN_WORKSPACE_SLOTS];
} ws;

static _Atomic size_t ws_failed; /* bytes of the first failed request since the last check, 0 none */
static _Atomic size_t ws_limit;  /* tests: requests above this fail (0: no limit) */

void *dn_workspace(int slot, size_t bytes) {
    assert(slot >= 0 && slot < DN_WORKSPACE_SLOTS);
    if (bytes > ws.cap[slot]) {
        free(ws.p[slot]);
        ws.p[slot] = NULL;
        ws.cap[slot] = 0;
        size_t cap = (bytes + 63) / 64 * 64, limit = atomic_load(&ws_limit);
        if (cap < 4096) cap = 4096;
        void *p = limit && bytes > limit ? NULL : aligned_alloc(64, cap);
        if (!p) {
            size_t none = 0;
            atomic_compare_exchange_strong(&ws_failed, &none, bytes);
            return NULL;
        }
        ws.p[slot] = p;
        ws.cap[slot] = cap;
    }
    return ws.p[slot];
}

int dn_workspace_check(void) {
    size_t bytes = atomic_exchange(&ws_failed, 0);
    if (!bytes) return 0;
    return dn_fail("out of memory for %.1f MB of kernel scratch (close other programs, or use a smaller batch)",
                   (double)bytes / (1 << 20));
}

void dn_workspace_limit(size_t bytes) { atomic_store(&ws_limit, bytes); }

void dn_workspace_free(void) {
    for (int i = 0; i < DN_WORKSPACE_SLOTS; i++) {
        free(ws.p[i]);
        ws.p[i] = NULL;
        ws.cap[i] = 0;
    }
}
