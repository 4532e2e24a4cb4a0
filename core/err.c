/* err.c — the thread-local failure message behind dn_fail/dn_error. */
#include "err.h"
#include <stdarg.h>
#include <stdio.h>

static _Thread_local char dn_msg[1024];

int dn_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dn_msg, sizeof dn_msg, fmt, ap);
    va_end(ap);
    return -1;
}

const char *dn_error(void) { return dn_msg; }
