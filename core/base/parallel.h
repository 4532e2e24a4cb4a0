/* parallel.h — a small pthread pool and a parallel-for, used by the fast kernels of nn.c/gemm.c.
 * Determinism: dn_parallel_for runs tasks 0..ntasks-1, each exactly once, on some thread. A kernel
 * that gives each task its own outputs (and computes them in a fixed order) gives the same bits
 * for any thread count; that is how every kernel here is written.
 * Scheduling: thread i starts with the i-th contiguous range of tasks (so consecutive layers tend
 * to find their part of the data in the same core's cache), then helps with unfinished ranges.
 * Waiting threads spin for a moment before sleeping (layers are tens of microseconds long).
 * Default thread count: 1. Results never depend on it, so the library does not guess: programs
 * (the CLI, the viewer, the bench) choose with dn_threads_set, e.g. dn_threads_set(0) for all cores. */
#ifndef DN_PARALLEL_H
#define DN_PARALLEL_H
#include <stddef.h>

#define DN_MAX_THREADS 64

/* Use n threads (the calling thread plus n-1 workers) for later parallel-fors. n <= 0 means the
 * number of online cores; n is clamped to [1, DN_MAX_THREADS]. Cheap when n does not change.
 * Call it from one thread while no parallel-for is running. */
void dn_threads_set(int n);
int dn_threads_get(void);
/* Number of online cores (at least 1). */
int dn_cores(void);

/* fn(ctx, task) for task in [0, ntasks), in any order and on any thread; returns when all are done.
 * A parallel-for started from inside a task (or while another thread's parallel-for runs) simply
 * runs its tasks in order on the calling thread. */
typedef void (*dn_task_fn)(void *ctx, int task);
void dn_parallel_for(int ntasks, dn_task_fn fn, void *ctx);

/* A per-thread scratch buffer of at least `bytes` bytes, 64-byte aligned, for kernels. Each
 * thread has DN_WORKSPACE_SLOTS independent slots; a slot's buffer stays valid (contents kept)
 * until the same thread asks that slot for more than it holds. Buffers live as long as their
 * thread; dn_workspace_free releases the calling thread's.
 * Kernels cannot fail (they return void), so out of memory here is recorded instead: dn_workspace
 * returns NULL, the kernel skips its work (its outputs are then meaningless), and the next
 * dn_workspace_check, which the functions that can fail call after their kernels (a sampling
 * step, a training step, a classifier pass, a viewer frame), turns it into -1 + dn_error. */
#define DN_WORKSPACE_SLOTS 4
void *dn_workspace(int slot, size_t bytes);
void dn_workspace_free(void);
/* 0, or -1 + dn_error ("out of memory for N MB of kernel scratch") if a dn_workspace call failed
 * on any thread since the last check; clears the record. */
int dn_workspace_check(void);
/* For tests: refuse every workspace request above `bytes` as if out of memory (0: no limit). */
void dn_workspace_limit(size_t bytes);

#endif
