/* diffuse.c — the `diffuse` program: finds the subcommand and hands it argv. Nothing else. */
#include "cli.h"
#include "base/err.h"
#include "nn/kernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *what;
} commands[] = {
    {"noise", cmd_noise, "forward-noise a photo into PNG frames and a contact sheet"},
    {"data", cmd_data, "show a training set (fashion, pets or pets64) as a labelled grid"},
    {"train", cmd_train, "train a noise predictor (U-Net), or the autoencoder of latent diffusion"},
    {"autoencode", cmd_autoencode, "a picture through the encoder into latent space and back"},
    {"sample", cmd_sample, "draw pictures from a trained model: a grid, or one frame per step"},
    {"view", cmd_view, "open the window that animates diffusion step by step"},
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
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\n  --version  print the version and the kernels chosen for this CPU\n  --help     this text\n"
               "\nenvironment: DN_KERNELS=avx2 (say) runs that copy of the kernels instead of the fastest\n"
               "one this CPU runs; every copy gives the same pixels (see 'diffuse --version')\n");
}

/* --version: the kernels this binary holds and the one in use. */
static void version(void) {
    const dn_kernels *k = dn_kernels_get();
    int n;
    const dn_kernels *const *all = dn_kernels_all(&n);
    printf("diffuse %s\nkernels: %s (%s, %d x %d SGEMM tile)\n", DN_VERSION, k->name, k->description, k->mr, k->nr);
    printf("this binary holds:");
    for (int i = 0; i < n; i++) printf(" %s%s", all[i]->name, dn_kernels_supported(all[i]) ? "" : " (not on this CPU)");
    printf("; %s\n", getenv("DN_KERNELS") ? "chosen by DN_KERNELS" : "the fastest this CPU runs is used");
}

int main(int argc, char **argv) {
#if defined(__GLIBC__)
    /* Blocks of 1 MB and more (a U-Net's activations, tens of MB per run) straight from the
     * system and back to it when freed. glibc otherwise raises this threshold to the size of the
     * first such block freed and serves the next ones from its heap, which it cannot give back:
     * the viewer, which makes and drops runs with every key, grew to 500 MB resident for 50 MB in
     * use over 2,000 keys (make soak); with this, 50 MB. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    const char *want = getenv("DN_KERNELS");
    if (want && dn_kernels_use(want) < 0) {
        fprintf(stderr, "diffuse: DN_KERNELS: %s\n", dn_error());
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version")) {
        version();
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "diffuse: unknown command '%s' (see 'diffuse --help')\n", argv[1]);
    return EXIT_USAGE;
}
