/* cli.c — option parsing and error printing shared by the subcommands; see cli.h. */
#include "cli.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_error(const char *cmd, int code, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "diffuse %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static const cli_opt *find_opt(const cli_opt *opts, int nopts, const char *name, size_t len) {
    for (int i = 0; i < nopts; i++) {
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len)) return &opts[i];
        if (opts[i].alias && strlen(opts[i].alias) == len && !strncmp(opts[i].alias, name, len))
            return &opts[i];
    }
    return NULL;
}

int cli_parse(int argc, char **argv, const char *usage, const cli_opt *opts, int nopts,
              const char **pos, int max_pos, int *npos) {
    const char *cmd = argv[0];
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return -1;
        }
        if (a[0] != '-' || a[1] == '\0' || (a[1] >= '0' && a[1] <= '9')) {
            if (*npos >= max_pos)
                return cli_error(cmd, EXIT_USAGE, "unexpected argument '%s' (see 'diffuse %s --help')", a, cmd);
            pos[(*npos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const cli_opt *o = find_opt(opts, nopts, a, len);
        if (!o) return cli_error(cmd, EXIT_USAGE, "unknown option '%.*s' (see 'diffuse %s --help')", (int)len, a, cmd);
        if (o->type == OPT_FLAG) {
            if (eq) return cli_error(cmd, EXIT_USAGE, "option %s takes no value", o->name);
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) return cli_error(cmd, EXIT_USAGE, "option %s needs a value (see 'diffuse %s --help')", o->name, cmd);
        if (o->type == OPT_STR) {
            *(const char **)o->dst = v;
            continue;
        }
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (end == v || *end != '\0' || errno || !isfinite(d))
            return cli_error(cmd, EXIT_USAGE, "option %s wants a number, not '%s'", o->name, v);
        if (o->type == OPT_INT && d != floor(d))
            return cli_error(cmd, EXIT_USAGE, "option %s wants a whole number, not '%s'", o->name, v);
        if (d < o->lo || d > o->hi)
            return cli_error(cmd, EXIT_USAGE, "option %s = %s is out of range (%g .. %g)", o->name, v, o->lo, o->hi);
        if (o->type == OPT_INT) *(int *)o->dst = (int)d;
        else *(float *)o->dst = (float)d;
    }
    return 0;
}

const char *cli_data_path(char *buf, int size, const char *rel) {
    const char *env = getenv("DIFFUSE_DATA");
    if (env && *env) {
        snprintf(buf, (size_t)size, "%s/%s", env, rel);
        return buf;
    }
    if (access("assets", R_OK) == 0 && access("core", R_OK) == 0) {
        snprintf(buf, (size_t)size, "%s", rel);
        return buf;
    }
#ifdef DN_PREFIX
    snprintf(buf, (size_t)size, "%s/share/diffuse/%s", DN_PREFIX, rel);
#else
    snprintf(buf, (size_t)size, "/usr/local/share/diffuse/%s", rel);
#endif
    return buf;
}
