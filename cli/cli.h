/* cli.h — what every `diffuse` subcommand shares: a small declarative option parser, the exit
 * codes, and the one-line error convention ("diffuse noise: cannot open 'x.png': ... ").
 * Each subcommand lives in cli/cmd_NAME.c as `int cmd_NAME(int argc, char **argv)` and is listed
 * in the table in cli/diffuse.c. argv[0] is the subcommand's name. */
#ifndef DN_CLI_H
#define DN_CLI_H

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef enum { OPT_INT, OPT_FLOAT, OPT_STR, OPT_FLAG } cli_opt_type;

typedef struct {
    const char *name;      /* long name with dashes, e.g. "--size"; "-o" works too */
    const char *alias;     /* optional second spelling, e.g. "-o" for "--out"; NULL if none */
    cli_opt_type type;
    void *dst;             /* int*, float*, const char**, or int* (flag set to 1) */
    double lo, hi;         /* accepted range for OPT_INT / OPT_FLOAT */
} cli_opt;

/* Parse argv[1..argc-1] into the options and up to max_pos positional arguments (stored in pos[],
 * count in *npos). "--help"/"-h" prints `usage` to stdout and returns -1 (the caller exits 0).
 * Bad usage prints one line to stderr ("diffuse CMD: ... (see 'diffuse CMD --help')") and returns
 * EXIT_USAGE. Returns 0 when all is well. */
int cli_parse(int argc, char **argv, const char *usage, const cli_opt *opts, int nopts,
              const char **pos, int max_pos, int *npos);

/* Print "diffuse CMD: MESSAGE" to stderr and return `code` (for `return cli_error(...)`). */
int cli_error(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Where bundled data lives: $DIFFUSE_DATA, else the source tree (when run from it), else the
 * installed share/diffuse. Writes "<root>/<rel>" into buf. Returns buf. */
const char *cli_data_path(char *buf, int size, const char *rel);

#endif
