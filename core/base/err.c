/* err.c — the thread-local failure message behind dn_fail/dn_error. */
#include "base/err.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char dn_msg[1024];

int dn_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dn_msg, sizeof dn_msg, fmt, ap);
    va_end(ap);
    return -1;
}

const char *dn_error(void) { return dn_msg; }

int dn_fail_context(const char *fmt, ...) {
    char old[sizeof dn_msg];
    memcpy(old, dn_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dn_msg, sizeof dn_msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof dn_msg)
        snprintf(dn_msg + n, sizeof dn_msg - (size_t)n, ": %.*s", (int)(sizeof dn_msg - (size_t)n), old);
    return -1;
}
