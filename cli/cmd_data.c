/* cmd_data.c — `diffuse data fashion|pets|pets64 -o GRID.png`: look at a training set as a
 * labelled grid (class name under each picture, for pets64 a caption of it, pixels upscaled so a
 * projector shows them). */
#include "cli.h"
#include "commands.h"
#include "data/data.h"
#include "base/err.h"
#include "data/image.h"
#include "data/pets.h"
#include "base/rng.h"
#include "sheet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: diffuse data fashion|pets|pets64 [-o GRID.png] [--n N] [--split train|test] [--seed S]\n"
    "                                        [--class NAME] [--cols C] [--scale K] [--dir FOLDER]\n"
    "\n"
    "Writes a grid of training pictures with the class name under each.\n"
    "  fashion   Fashion-MNIST: 28x28 grey photos of clothes, 10 classes (60000 train, 10000 test),\n"
    "            read from the Debian package dataset-fashion-mnist\n"
    "  pets      cartoon cats and dogs drawn by the program, 32x32 colour, 2 classes\n"
    "  pets64    richer cats and dogs at 64x64 (light, fur texture, spots, open mouths, textured\n"
    "            backgrounds), each with a caption made from what it shows\n"
    "\n"
    "  -o, --out GRID.png   where to write the grid (default: fashion.png or pets.png)\n"
    "  --n N                how many pictures, 1..1024 (default 64)\n"
    "  --split train|test   which split (default train)\n"
    "  --seed S             pick N pictures at random with this seed (default: the first N)\n"
    "  --class NAME         only pictures of this class, e.g. Sneaker, \"Ankle boot\", cat, dog\n"
    "  --cols C             pictures per row, 1..64 (default 8)\n"
    "  --scale K            screen pixels per picture pixel, 1..32 (default 4; pets64 3)\n"
    "  --dir FOLDER         Fashion-MNIST folder (default: $DIFFUSE_FASHION_DIR, else\n"
    "                       " DN_FASHION_DIR ")\n";

/* n distinct indices out of `cand` (total of them, reordered in place): the first n, or a seeded
 * random choice (a partial Fisher-Yates shuffle), so the same seed shows the same pictures. */
static void pick(long *cand, long total, int n, int seeded, int seed) {
    if (!seeded) return;
    dn_rng r;
    dn_rng_seed(&r, (uint64_t)seed, 0);
    for (int i = 0; i < n; i++) {
        long j = i + (long)dn_rng_below(&r, (uint32_t)(total - i));
        long t = cand[i];
        cand[i] = cand[j], cand[j] = t;
    }
}

/* words into out as lines of at most `width` characters (a longer word gets a line of its own),
 * at most max_lines lines; the last line ends in "..." if words were left over. */
static void wrap_words(char *out, size_t size, const char *words, int width, int max_lines) {
    size_t len = 0;
    int lines = 1, col = 0;
    out[0] = '\0';
    for (const char *w = words; *w;) {
        while (*w == ' ') w++;
        int wl = 0;
        while (w[wl] && w[wl] != ' ') wl++;
        if (!wl) break;
        if (col && col + 1 + wl > width) {
            if (lines == max_lines) {
                snprintf(out + len, size - len, "...");
                return;
            }
            len += (size_t)snprintf(out + len, size - len, "\n"), lines++, col = 0;
        }
        if (len + (size_t)wl + 2 >= size) return;
        len += (size_t)snprintf(out + len, size - len, "%s%.*s", col ? " " : "", wl, w);
        col += (col ? 1 : 0) + wl;
        w += wl;
    }
}

/* "T-shirt/top, Trouser, ..." */
static void list_classes(char *buf, size_t size, const dn_data *d) {
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < d->num_classes && len < size; k++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", k ? ", " : "", d->class_names[k]);
}

int cmd_data(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *out = NULL, *split = "train", *dir = NULL, *class_name = NULL;
    int n = 64, cols = 8, scale = 0;
    int seed = -1; /* -1: not given, show the first N */
    const cli_opt opts[] = {
        {"--out", "-o", OPT_STR, &out, 0, 0},
        {"--n", NULL, OPT_INT, &n, 1, 1024},
        {"--split", NULL, OPT_STR, &split, 0, 0},
        {"--seed", NULL, OPT_INT, &seed, 0, 2147483647},
        {"--cols", NULL, OPT_INT, &cols, 1, 64},
        {"--scale", NULL, OPT_INT, &scale, 1, 32},
        {"--dir", NULL, OPT_STR, &dir, 0, 0},
        {"--class", NULL, OPT_STR, &class_name, 0, 0},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, usage, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &npos);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    if (npos != 1)
        return cli_error(cmd, EXIT_USAGE, "which data set? fashion, pets or pets64 (see 'diffuse data --help')");
    const char *set = pos[0];
    if (strcmp(set, "fashion") && strcmp(set, "pets") && strcmp(set, "pets64"))
        return cli_error(cmd, EXIT_USAGE, "unknown data set '%s' (known: fashion, pets, pets64)", set);
    int big = !strcmp(set, "pets64");
    if (!scale) scale = big ? 3 : 4;
    int test;
    if (!strcmp(split, "train")) test = 0;
    else if (!strcmp(split, "test")) test = 1;
    else return cli_error(cmd, EXIT_USAGE, "unknown split '%s' (use train or test)", split);
    int seeded = seed >= 0;
    if (!dir) dir = getenv("DIFFUSE_FASHION_DIR");
    char defout[32];
    if (!out) snprintf(defout, sizeof defout, "%s.png", set), out = defout;

    int status = EXIT_FAIL;
    dn_data d;
    dn_font font = {0}, title_font = {0};
    dn_canvas cv = {0};
    long *idx = NULL;
    float *x = NULL;
    int *y = NULL;
    char *capbuf = NULL;
    const char **caps = NULL;
    unsigned char *rgb = NULL;
    if (dn_data_open(&d, set, test, dir) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        return EXIT_FAIL;
    }
    int cid = -1;
    if (class_name && (cid = dn_data_class_id(&d, class_name)) < 0) {
        char known[256];
        list_classes(known, sizeof known, &d);
        cli_error(cmd, EXIT_USAGE, "%s has no class '%s' (it has: %s)", set, class_name, known);
        dn_data_close(&d);
        return EXIT_USAGE;
    }
    /* the candidates: every picture of the split, or those of one class */
    idx = malloc((size_t)d.n * sizeof(long));
    if (!idx) {
        cli_error(cmd, EXIT_FAIL, "out of memory");
        goto done;
    }
    long total = 0;
    for (long i = 0; i < d.n; i++)
        if (cid < 0 || dn_data_label(&d, i) == cid) idx[total++] = i;
    if (n > total) n = (int)total;
    pick(idx, total, n, seeded, seed);
    long plane = (long)d.channels * d.height * d.width;
    enum { CAP = 200 };
    x = malloc((size_t)n * (size_t)plane * sizeof(float));
    y = malloc((size_t)n * sizeof(int));
    capbuf = malloc((size_t)n * CAP);
    caps = malloc((size_t)n * sizeof(char *));
    if (!x || !y || !capbuf || !caps) {
        cli_error(cmd, EXIT_FAIL, "out of memory for %d pictures", n);
        goto done;
    }
    dn_data_batch(&d, x, y, idx, n);

    /* captions: the class, then what else is known (the pet's looks, or the photo's index) */
    int count[DN_FASHION_CLASSES] = {0};
    for (int i = 0; i < n; i++) {
        char *c = capbuf + (size_t)i * CAP;
        count[y[i]]++;
        if (d.kind == DN_DATA_PETS) {
            dn_pet_attr a;
            dn_data_pet(&d, idx[i], &a);
            if (a.species != y[i]) { /* the two routes to a pet's class must agree */
                cli_error(cmd, EXIT_FAIL, "internal error: pet %ld has two classes", idx[i]);
                goto done;
            }
            if (big) { /* its caption (the one training will give it first), in lines of ~30 */
                char words[160];
                dn_pets_caption(&a, (uint64_t)idx[i], words, sizeof words);
                wrap_words(c, CAP, words, 30, 4);
            } else { /* "orange tabby", "white & black" (patches or spots), "grey" */
                snprintf(c, CAP, "%s\n%s%s%s%s", d.class_names[y[i]], dn_pet_fur_names[a.fur],
                         a.pattern == DN_PET_TABBY ? " tabby" : "", a.fur2 >= 0 ? " & " : "",
                         a.fur2 >= 0 ? dn_pet_fur_names[a.fur2] : "");
            }
        } else {
            snprintf(c, CAP, "%s\n#%ld", d.class_names[y[i]], idx[i]);
        }
        caps[i] = c;
    }

    if (dn_font_open(&font, NULL, 15) < 0 || dn_font_open(&title_font, NULL, 22) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    char title[256];
    char which[64];
    if (seeded) snprintf(which, sizeof which, "%d picked with seed %d", n, seed);
    else snprintf(which, sizeof which, "the first %d", n);
    char of[96];
    if (cid >= 0) snprintf(of, sizeof of, "%ld %s pictures", total, d.class_names[cid]);
    else snprintf(of, sizeof of, "%ld", total);
    snprintf(title, sizeof title, "%s, %s split: %s of %s",
             big ? "Pets64 (drawn cats and dogs, 64x64, with captions)"
             : d.kind == DN_DATA_PETS ? "Pets (drawn cats and dogs, 32x32)" : "Fashion-MNIST (28x28 photos)",
             split, which, of);
    dn_sheet_style st = {.caption = &font, .title_font = &title_font, .title = title, .cols = cols,
                         .scale = scale};
    if (dn_sheet_render(&cv, x, n, d.channels, d.height, d.width, caps, &st) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    rgb = malloc((size_t)cv.w * (size_t)cv.h * 3);
    if (!rgb) {
        cli_error(cmd, EXIT_FAIL, "out of memory for a %dx%d picture", cv.w, cv.h);
        goto done;
    }
    dn_canvas_to_rgb(&cv, rgb);
    char settings[320], seedopt[32] = "", classopt[64] = "";
    if (seeded) snprintf(seedopt, sizeof seedopt, " --seed %d", seed);
    if (cid >= 0) snprintf(classopt, sizeof classopt, " --class '%s'", d.class_names[cid]);
    snprintf(settings, sizeof settings, "diffuse data %s --n %d --split %s%s%s --cols %d --scale %d", set, n,
             split, seedopt, classopt, cols, scale);
    dn_png_text text[] = {{"Software", "diffuse " DN_VERSION}, {"Title", title}, {"diffuse-command", settings}};
    if (dn_png_write(out, rgb, cv.w, cv.h, 3, text, 3) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    printf("wrote %s (%dx%d): %d %s picture%s", out, cv.w, cv.h, n, set, n == 1 ? "" : "s");
    for (int k = 0, first = 1; k < d.num_classes; k++)
        if (count[k]) printf("%s %d %s", first ? ":" : ",", count[k], d.class_names[k]), first = 0;
    printf("\n");
    status = EXIT_OK;
done:
    free(rgb);
    dn_canvas_free(&cv);
    dn_font_close(&title_font);
    dn_font_close(&font);
    free(caps);
    free(capbuf);
    free(y);
    free(x);
    free(idx);
    dn_data_close(&d);
    return status;
}
