/* test_parallel.c — the thread pool runs every task exactly once for any thread count, nests
 * safely, and the per-thread workspace is aligned and keeps its contents. */
#include "testutil.h"
#include "base/parallel.h"
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define NTASK 1000

typedef struct {
    atomic_int hits[NTASK];
    atomic_int total;
} count_ctx;

static void count_task(void *vctx, int t) {
    count_ctx *c = vctx;
    atomic_fetch_add(&c->hits[t], 1);
    atomic_fetch_add(&c->total, t);
}

static void every_task_runs_once(void **state) {
    (void)state;
    static count_ctx c;
    int counts[] = {1, 2, 3, 4, 7};
    for (int ci = 0; ci < 5; ci++) {
        dn_threads_set(counts[ci]);
        assert_int_equal(dn_threads_get(), counts[ci]);
        for (int rep = 0; rep < 20; rep++) { /* many rounds: catches lost wake-ups */
            int n = rep % 2 ? NTASK : 1 + rep;
            memset(&c, 0, sizeof c);
            dn_parallel_for(n, count_task, &c);
            for (int t = 0; t < n; t++) assert_int_equal(atomic_load(&c.hits[t]), 1);
            for (int t = n; t < NTASK; t++) assert_int_equal(atomic_load(&c.hits[t]), 0);
            assert_int_equal(atomic_load(&c.total), n * (n - 1) / 2);
        }
    }
    dn_parallel_for(0, count_task, &c); /* no tasks: returns at once */
    dn_threads_set(1);
}

static void threads_clamp(void **state) {
    (void)state;
    dn_threads_set(0);
    assert_int_equal(dn_threads_get(), dn_cores());
    dn_threads_set(10000);
    assert_int_equal(dn_threads_get(), DN_MAX_THREADS);
    dn_threads_set(1);
    assert_int_equal(dn_threads_get(), 1);
}

/* A parallel-for inside a task runs serially on that thread and still covers every task. */
typedef struct {
    atomic_int inner[8][16];
} nest_ctx;
static nest_ctx nest;
static _Thread_local int my_outer;

static void inner_task(void *vctx, int t) {
    nest_ctx *c = vctx;
    atomic_fetch_add(&c->inner[my_outer][t], 1);
}

static void outer_task(void *vctx, int t) {
    my_outer = t;
    dn_parallel_for(16, inner_task, vctx);
}

static void nested_parallel_for(void **state) {
    (void)state;
    dn_threads_set(3);
    memset(&nest, 0, sizeof nest);
    dn_parallel_for(8, outer_task, &nest);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 16; j++) assert_int_equal(atomic_load(&nest.inner[i][j]), 1);
    dn_threads_set(1);
}

/* Workspace: aligned, contents kept when the same or a smaller size is asked, slots independent. */
typedef struct {
    atomic_int bad;
} ws_ctx;

static void ws_task(void *vctx, int t) {
    ws_ctx *c = vctx;
    float *a = dn_workspace(0, 1000 * sizeof(float));
    float *b = dn_workspace(1, 1000 * sizeof(float));
    if ((uintptr_t)a % 64 || (uintptr_t)b % 64 || a == b) atomic_fetch_add(&c->bad, 1);
    for (int i = 0; i < 1000; i++) a[i] = (float)(t + i), b[i] = (float)(-t - i);
    float *a2 = dn_workspace(0, 500 * sizeof(float));
    if (a2 != a) atomic_fetch_add(&c->bad, 1);
    for (int i = 0; i < 1000; i++)
        if (a[i] != (float)(t + i) || b[i] != (float)(-t - i)) atomic_fetch_add(&c->bad, 1);
}

static void workspace_per_thread(void **state) {
    (void)state;
    ws_ctx c = {0};
    dn_threads_set(4);
    dn_parallel_for(64, ws_task, &c);
    assert_int_equal(atomic_load(&c.bad), 0);
    float *big = dn_workspace(2, (size_t)1 << 24);
    assert_true((uintptr_t)big % 64 == 0);
    memset(big, 1, (size_t)1 << 24); /* the whole size is usable (ASan checks the bounds) */
    dn_workspace_free();
    dn_threads_set(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_task_runs_once),
        cmocka_unit_test(threads_clamp),
        cmocka_unit_test(nested_parallel_for),
        cmocka_unit_test(workspace_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
