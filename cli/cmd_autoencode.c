/* cmd_autoencode.c — `diffuse autoencode PHOTO -o DIR`: a picture through the encoder of latent
 * diffusion and back through the decoder, with every stage written as a picture and the numbers
 * that say why diffusion in latent space is cheaper.
 *
 * Setup: options, the autoencoder, the photo (centre-cropped, resized). Work: encode (the mean),
 * decode, PSNR; every file encoded as PNG in memory. Write: create DIR, write each file
 * atomically; if a write fails, remove what this run wrote. */
#include "cli.h"
#include "commands.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/parallel.h"
#include "data/image.h"
#include "nets/autoencoder.h"
#include "sheet.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_AE "assets/models/pets64-ae.dfa"
#define LATENT_RANGE 3.0f /* scaled latents (about unit variance) shown from -3 (black) to +3 (white) */

static const char usage[] =
    "usage: diffuse autoencode PHOTO -o DIR [--autoencoder FILE] [--size N]\n"
    "\n"
    "Latent diffusion's first step, on one picture: the encoder squeezes it into a latent, a few\n"
    "small grey images of numbers, and the decoder draws the picture back from those numbers\n"
    "alone. Diffusion then works on the latent: far fewer numbers than pixels.\n"
    "PHOTO (PNG, JPEG, BMP, GIF or TGA) is centre-cropped to a square and resized to --size.\n"
    "\n"
    "writes into DIR (created if missing):\n"
    "  picture.png        what goes in, --size pixels square\n"
    "  latent_N.png       latent channel N (scaled by the file's scale factor, -3 black .. +3 white)\n"
    "  decoded.png        what the decoder draws from the latent\n"
    "  overview.png       all of them in a row with the numbers, pixels enlarged for a slide\n"
    "and prints how many numbers each holds, the compression and the PSNR of the decoded picture.\n"
    "\n"
    "options:\n"
    "  -o, --out DIR        output folder (required)\n"
    "  --autoencoder FILE   the autoencoder (default " DEFAULT_AE ")\n"
    "  --size N             side in pixels, a multiple of the autoencoder's factor up to 512\n"
    "                       (default: the size it was trained at, 64)\n"
    "  --threads N          threads (default: all cores)\n";

typedef struct {
    char path[4200];
    unsigned char *png;
    size_t len;
} out_file;

/* Channel c of the latent (Z, h, w), scaled, as grey bytes upscaled k times (nearest). */
static void latent_bytes(unsigned char *px, const float *z, int c, int h, int w, float scale, int k) {
    for (int y = 0; y < h * k; y++)
        for (int x = 0; x < w * k; x++)
            px[y * w * k + x] = dn_unit_to_byte(z[(c * h + y / k) * w + x / k] * scale / LATENT_RANGE);
}

int cmd_autoencode(int argc, char **argv) {
    const char *cmd = argv[0], *out_dir = NULL, *ae_path = NULL, *pos[1];
    int size = 0, threads = 0, npos;
    const cli_opt opts[] = {
        {"--out", "-o", OPT_STR, &out_dir, 0, 0},
        {"--autoencoder", NULL, OPT_STR, &ae_path, 0, 0},
        {"--size", NULL, OPT_INT, &size, 1, 512},
        {"--threads", NULL, OPT_INT, &threads, 0, DN_MAX_THREADS},
    };
    int rc = cli_parse(argc, argv, usage, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &npos);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    if (npos != 1) return cli_error(cmd, EXIT_USAGE, "which picture? give PHOTO (see 'diffuse %s --help')", cmd);
    if (!out_dir) return cli_error(cmd, EXIT_USAGE, "where should the pictures go? give -o DIR");
    dn_threads_set(threads);
    char def[1024];
    if (!ae_path) ae_path = cli_data_path(def, sizeof def, DEFAULT_AE);

    dn_autoencoder m = {0};
    dn_image img = {0}, sq = {0};
    dn_ae_acts a = {0};
    float *x = NULL, *z = NULL, *y = NULL;
    unsigned char *px = NULL;
    out_file files[80];
    int nfiles = 0, status = EXIT_FAIL;
    memset(files, 0, sizeof files);
    if (dn_ae_load(ae_path, &m) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    int f = dn_ae_factor(&m.cfg), Z = m.cfg.latent_channels, C = m.cfg.in_channels;
    if (!size) size = m.cfg.height;
    if (size % f || size < f) {
        status = cli_error(cmd, EXIT_USAGE, "--size %d is not a multiple of %d (the autoencoder halves the picture %d times)",
                           size, f, m.cfg.n_levels - 1);
        goto done;
    }
    if (C != 3 || Z > 64) {
        cli_error(cmd, EXIT_FAIL, "'%s' encodes %d-channel pictures; this command shows colour ones", ae_path, C);
        goto done;
    }
    if (dn_image_load(&img, pos[0], 3) < 0 || dn_image_square(&sq, &img, size) < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    int ls = size / f;
    long xn = 3L * size * size, zn = (long)Z * ls * ls;
    x = malloc((size_t)xn * sizeof(float)), y = malloc((size_t)xn * sizeof(float)), z = malloc((size_t)zn * sizeof(float));
    int k = size >= 256 ? 2 : 512 / size > 4 ? 4 : 512 / size; /* overview enlargement */
    px = malloc((size_t)xn * 16);
    if (!x || !y || !z || !px || dn_ae_acts_alloc(&a, &m, 1, size, size) < 0) {
        cli_error(cmd, EXIT_FAIL, "out of memory for a %dx%d picture", size, size);
        goto done;
    }
    dn_image_to_float(x, sq.px, size, size, 3);
    dn_ae_encode(&m, &a, z, x, 1);
    dn_ae_decode(&m, &a, y, z, 1);
    if (dn_workspace_check() < 0) {
        cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        goto done;
    }
    double psnr = dn_psnr(x, y, xn);

    /* the files, encoded in memory first */
    char num[64];
    snprintf(num, sizeof num, "%.2f", psnr);
    dn_png_text text[] = {{"Software", "diffuse " DN_VERSION}, {"Source", ae_path}, {"PSNR", num}};
    dn_float_to_image(px, x, size, size, 3);
    snprintf(files[nfiles].path, sizeof files[0].path, "%s/picture.png", out_dir);
    if (dn_png_encode(&files[nfiles].png, &files[nfiles].len, px, size, size, 3, text, 2) < 0) goto oom;
    nfiles++;
    for (int c = 0; c < Z; c++) {
        latent_bytes(px, z, c, ls, ls, m.scale_factor, 1);
        snprintf(files[nfiles].path, sizeof files[0].path, "%s/latent_%d.png", out_dir, c);
        if (dn_png_encode(&files[nfiles].png, &files[nfiles].len, px, ls, ls, 1, text, 2) < 0) goto oom;
        nfiles++;
    }
    dn_float_to_image(px, y, size, size, 3);
    snprintf(files[nfiles].path, sizeof files[0].path, "%s/decoded.png", out_dir);
    if (dn_png_encode(&files[nfiles].png, &files[nfiles].len, px, size, size, 3, text, 3) < 0) goto oom;
    nfiles++;

    /* overview: picture, each latent channel (enlarged to the picture's size, grey as RGB), decoded */
    {
        int n = Z + 2;
        float *tiles = malloc((size_t)n * xn * sizeof(float));
        const char **caps = malloc((size_t)n * sizeof *caps);
        char (*cbuf)[64] = malloc((size_t)n * sizeof *cbuf);
        if (!tiles || !caps || !cbuf) {
            free(tiles), free(caps), free(cbuf);
            goto oom;
        }
        memcpy(tiles, x, (size_t)xn * sizeof(float));
        for (int c = 0; c < Z; c++) {
            float *t = tiles + (size_t)(1 + c) * xn;
            for (int yy = 0; yy < size; yy++)
                for (int xx = 0; xx < size; xx++) {
                    float v = z[(c * ls + yy / f) * ls + xx / f] * m.scale_factor / LATENT_RANGE;
                    v = v < -1 ? -1 : v > 1 ? 1 : v;
                    for (int ch = 0; ch < 3; ch++) t[(ch * size + yy) * size + xx] = v;
                }
            snprintf(cbuf[1 + c], sizeof cbuf[0], "latent %d (%dx%d)", c, ls, ls);
        }
        memcpy(tiles + (size_t)(Z + 1) * xn, y, (size_t)xn * sizeof(float));
        snprintf(cbuf[0], sizeof cbuf[0], "picture %dx%dx3", size, size);
        snprintf(cbuf[Z + 1], sizeof cbuf[0], "decoded, %.1f dB", psnr);
        for (int i = 0; i < n; i++) caps[i] = cbuf[i];
        char title[200];
        snprintf(title, sizeof title, "%ld numbers -> latent %dx%dx%d = %ld numbers (%.0fx fewer) -> decoded", xn, ls,
                 ls, Z, zn, (double)xn / (double)zn);
        char opath[4200];
        snprintf(opath, sizeof opath, "%s/overview.png", out_dir);
        if (dn_make_dir(out_dir) < 0) {
            free(tiles), free(caps), free(cbuf);
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            goto done;
        }
        int src = dn_sheet_save(opath, tiles, n, 3, size, size, caps, title, n, k > 1 ? k / 2 + 1 : 1, text, 3);
        free(tiles), free(caps), free(cbuf);
        if (src < 0) {
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            goto done;
        }
        snprintf(files[nfiles].path, sizeof files[0].path, "%s", opath); /* written: removed if a later write fails */
        nfiles++;
    }
    for (int i = 0; i < nfiles; i++) {
        if (!files[i].png) continue;
        if (dn_write_file_atomic(files[i].path, files[i].png, files[i].len) < 0) {
            cli_error(cmd, EXIT_FAIL, "%s", dn_error());
            for (int j = 0; j <= i; j++) unlink(files[j].path);
            goto done;
        }
    }
    printf("picture  %dx%dx3 = %ld numbers\n", size, size, xn);
    printf("latent   %dx%dx%d = %ld numbers: %.0fx fewer (the factor is %d on each side)\n", ls, ls, Z, zn,
           (double)xn / (double)zn, f);
    printf("decoded  %dx%dx3, PSNR %.2f dB against the picture\n", size, size, psnr);
    printf("encode %.0f MFLOP, decode %.0f MFLOP; wrote %s/ (picture.png, latent_0..%d.png, decoded.png, overview.png)\n",
           dn_ae_encode_flops(&m.cfg, size, size) / 1e6, dn_ae_decode_flops(&m.cfg, size, size) / 1e6, out_dir, Z - 1);
    status = EXIT_OK;
    goto done;
oom:
    cli_error(cmd, EXIT_FAIL, "out of memory encoding the pictures");
done:
    for (int i = 0; i < nfiles; i++) free(files[i].png);
    free(x), free(y), free(z), free(px);
    dn_ae_acts_free(&a);
    dn_image_free(&img);
    dn_image_free(&sq);
    dn_ae_free(&m);
    return status;
}
