/* diffuse.c — the `diffuse` program: finds the subcommand and hands it argv. Nothing else. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *what;
} commands[] = {
    {"noise", cmd_noise, "forward-noise a photo into PNG frames and a contact sheet"},
    {"data", cmd_data, "show a training set (fashion or pets) as a labelled grid"},
    {"train", cmd_train, "train a noise predictor (U-Net) on fashion or pets"},
    {"sample", cmd_sample, "draw pictures from a trained model: a grid, or one frame per step"},
    {"view", cmd_view, "open the window that animates diffusion step by step (SDL2)"},
    {"export", cmd_export, "write what 'diffuse view' shows as PNG slides, a contact sheet and a GIF"},
    {"model", cmd_model, "show what a model file holds; rewrite it as float16"},
    {"lesson", cmd_lesson, "play a ready-made lesson in the viewer, or export its slides"},
    {"eval", cmd_eval, "measure a model with its classifier (accuracy, coverage, FD); train that classifier"},
};

static void usage(FILE *f) {
    fprintf(f, "diffuse %s: see how image diffusion models work, step by step\n\n"
               "usage: diffuse COMMAND [options]    (diffuse COMMAND --help for its options)\n\n"
               "commands:\n", DN_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\n  --version  print the version\n  --help     this text\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("diffuse %s\n", DN_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "diffuse: unknown command '%s' (see 'diffuse --help')\n", argv[1]);
    return EXIT_USAGE;
}
