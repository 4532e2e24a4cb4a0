/* err.h — how core/ reports failure: a status plus a message that names the thing and what to do.
 * core/ never prints and never exits. A function that can fail returns 0 on success and -1 on
 * failure after calling dn_fail(); the caller reads dn_error(). Bugs are assert()s instead. */
#ifndef DN_ERR_H
#define DN_ERR_H

/* Record a failure message (printf-style, one line, no trailing newline) and return -1.
 * The message lives in thread-local storage until the next dn_fail on the same thread. */
int dn_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Put context in front of the message already recorded on this thread: after
 * dn_fail_context("cannot load model '%s'", path) the message reads
 * "cannot load model 'x.dfm': <what was there before>". Returns -1. */
int dn_fail_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last message recorded on this thread, or "" if none. */
const char *dn_error(void);

#endif
