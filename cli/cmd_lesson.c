/* cmd_lesson.c — `diffuse lesson`: list the ready-made lessons, play one in the viewer, or export
 * its slides headless (viz/lesson.h). */
#include "cli.h"
#include "commands.h"
#include "base/err.h"
#include "lesson.h"
#include "base/parallel.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: diffuse lesson                      list the lessons\n"
    "       diffuse lesson N|FILE               play lesson N (or a lesson file) in the viewer\n"
    "       diffuse lesson N|FILE --export DIR  write its slides without a window\n"
    "\n"
    "Ready-to-teach lessons on how diffusion models work, one idea each. In the viewer Right/Left\n"
    "walk through the steps of a slide and on to the next slide, PageDown/PageUp jump between\n"
    "slides, H lists every key. The lesson format is in lessons/README.md.\n"
    "\n"
    "  --export DIR      slide_NN.png per slide (with its caption; an animated slide as a\n"
    "                    filmstrip of its steps), slide_NN.gif per animated slide, contact.png\n"
    "  --dashboard       every panel at once instead of the presenter layout (key D)\n"
    "  --light           dark text on white, for projectors (key L); --smooth: smooth pictures\n"
    "  --size WxH        size of the exported slides (default 1280x720)\n"
    "  --gif-frames N    at most N frames per GIF (default 40)\n"
    "  --threads N       threads for the network (default: all cores)\n"
    "  --trace           print every step and slide change (for tests)\n";

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The lesson files in the lessons folder, sorted by name. Returns the count (names malloc'd). */
static int lesson_files(const char *dir, char **names, int max) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".txt")) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    return n;
}

/* "3" -> the lesson file whose name starts with "3-"; anything else is a path. */
static int find_lesson(char *path, size_t size, const char *arg, const char *dir) {
    char *end;
    long num = strtol(arg, &end, 10);
    if (*arg && !*end) {
        char *names[100];
        int n = lesson_files(dir, names, 100), found = 0;
        for (int i = 0; i < n; i++) {
            if (!found && strtol(names[i], &end, 10) == num && *end == '-') {
                snprintf(path, size, "%s/%s", dir, names[i]);
                found = 1;
            }
            free(names[i]);
        }
        if (!found) return dn_fail("no lesson %ld in %s (see 'diffuse lesson' for the list)", num, dir);
        return 0;
    }
    snprintf(path, size, "%s", arg);
    return 0;
}

/* One line per slide on stderr while exporting (rewritten in place on a terminal). */
static void export_progress(void *ctx, int slide, int n, const char *title) {
    (void)ctx;
    int tty = isatty(2);
    fprintf(stderr, "%sexporting slide %d of %d: %.50s%s", tty ? "\r" : "", slide + 1, n, title, tty ? "\033[K" : "\n");
    fflush(stderr);
}

int cmd_lesson(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *export_dir = NULL, *size = "1280x720";
    int gif_frames = 40, threads = 0, trace_on = 0, dashboard = 0, light = 0, smooth = 0;
    const cli_opt opts[] = {
        {"--dashboard", NULL, OPT_FLAG, &dashboard, 0, 0},
        {"--light", NULL, OPT_FLAG, &light, 0, 0},
        {"--smooth", NULL, OPT_FLAG, &smooth, 0, 0},
        {"--export", NULL, OPT_STR, &export_dir, 0, 0},
        {"--size", NULL, OPT_STR, &size, 0, 0},
        {"--gif-frames", NULL, OPT_INT, &gif_frames, 2, 1000},
        {"--threads", NULL, OPT_INT, &threads, 0, DN_MAX_THREADS},
        {"--trace", NULL, OPT_FLAG, &trace_on, 0, 0},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, usage, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &npos);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    char dir[1024], root[1024], path[2048];
    cli_data_path(dir, sizeof dir, "lessons");
    cli_data_path(root, sizeof root, ".");
    if (npos == 0) {
        if (export_dir) return cli_error(cmd, EXIT_USAGE, "which lesson should be exported? e.g. 'diffuse lesson 1 --export DIR'");
        char *names[100];
        int n = lesson_files(dir, names, 100);
        if (n < 0) return cli_error(cmd, EXIT_FAIL, "cannot open the lessons folder '%s'", dir);
        printf("lessons in %s:\n", dir);
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            dn_lesson l;
            if (dn_lesson_load(&l, path) == 0) {
                printf("  %-24s %s (%d slides)\n", names[i], l.title, l.n_slides);
                dn_lesson_free(&l);
            } else {
                printf("  %-24s (broken: %s)\n", names[i], dn_error());
            }
            free(names[i]);
        }
        printf("play one with 'diffuse lesson 1', export its slides with 'diffuse lesson 1 --export DIR'\n");
        return EXIT_OK;
    }
    int w, h;
    char tail;
    if (sscanf(size, "%dx%d%c", &w, &h, &tail) != 2 || w < 320 || h < 180 || w > 7680 || h > 4320)
        return cli_error(cmd, EXIT_USAGE, "--size wants WxH between 320x180 and 7680x4320, like 1920x1080, not '%s'", size);
    if (find_lesson(path, sizeof path, pos[0], dir) < 0) return cli_error(cmd, EXIT_USAGE, "%s", dn_error());
    dn_lesson l;
    if (dn_lesson_load(&l, path) < 0) return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    char ldir[2048];
    snprintf(ldir, sizeof ldir, "%s", path);
    char *slash = strrchr(ldir, '/');
    if (slash) *slash = '\0';
    else snprintf(ldir, sizeof ldir, ".");
    if (dn_lesson_resolve(&l, root, ldir) < 0) {
        dn_lesson_free(&l);
        return cli_error(cmd, EXIT_FAIL, "%s", dn_error());
    }
    dn_threads_set(threads);
    int status = EXIT_OK;
    dn_view_look look = {dashboard ? DN_LAYOUT_DASHBOARD : DN_LAYOUT_PRESENTER, light ? DN_THEME_LIGHT : DN_THEME_DARK,
                         smooth};
    if (export_dir) {
        int n = dn_lesson_export(&l, export_dir, w, h, gif_frames, &look, export_progress, NULL);
        if (isatty(2)) fprintf(stderr, "\r%79s\r", "");
        if (n < 0) status = cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        else printf("wrote %d slides of '%s' to %s/ (slide_NN.png, slide_NN.gif, contact.png)\n", n, l.title, export_dir);
    } else {
        status = lesson_window(&l, w, h, trace_on, &look);
    }
    dn_lesson_free(&l);
    return status;
}
