/* test_image.c — image I/O (core/data/image.h): every format loads, pixels survive a PNG round trip,
 * the tEXt chunks are where the PNG spec wants them with valid CRCs, the byte <-> float mapping
 * is exact and clips, the centre crop picks the centre, and every kind of bad input is refused
 * with a one-line message naming the file while leaving no file behind. */
#include "testutil.h"
#include "base/err.h"
#include "data/image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include <gif_lib.h>
#include <stb_image_write.h>
#include <zlib.h>

/* ---- helpers ---------------------------------------------------------------------------------- */

typedef struct {
    unsigned char *b;
    size_t n, cap;
} buf;

static void buf_put(void *ctx, void *data, int size) {
    buf *m = ctx;
    if (m->n + (size_t)size > m->cap) {
        m->cap = (m->n + (size_t)size) * 2;
        m->b = realloc(m->b, m->cap);
        assert_non_null(m->b);
    }
    memcpy(m->b + m->n, data, (size_t)size);
    m->n += (size_t)size;
}

/* A test picture with structure in every channel: (h, w, c). */
static unsigned char *pattern(int w, int h, int c) {
    unsigned char *px = malloc((size_t)w * h * c);
    assert_non_null(px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                px[((size_t)y * w + x) * c + k] = (unsigned char)((x * 7 + y * 13 + k * 85) & 255);
    return px;
}

static void gif_put_ok(int ok) { assert_int_equal(ok, GIF_OK); }
static int gif_out(GifFileType *g, const GifByteType *d, int n) {
    buf_put(g->UserData, (void *)d, n);
    return n;
}

/* Encode an RGB picture in one of the formats stb_image reads. GIF goes through giflib with a
 * 256-grey palette of the red channel. */
typedef enum { F_PNG, F_BMP, F_TGA, F_TGA_RLE, F_JPG, F_GIF, F_COUNT } fmt;
static const char *fmt_name[F_COUNT] = {"png", "bmp", "tga", "tga-rle", "jpg", "gif"};

static buf encode(fmt f, const unsigned char *px, int w, int h) {
    buf m = {0};
    int ok = 1;
    switch (f) {
    case F_PNG: ok = stbi_write_png_to_func(buf_put, &m, w, h, 3, px, w * 3); break;
    case F_BMP: ok = stbi_write_bmp_to_func(buf_put, &m, w, h, 3, px); break;
    case F_TGA:
        stbi_write_tga_with_rle = 0;
        ok = stbi_write_tga_to_func(buf_put, &m, w, h, 3, px);
        break;
    case F_TGA_RLE:
        stbi_write_tga_with_rle = 1;
        ok = stbi_write_tga_to_func(buf_put, &m, w, h, 3, px);
        break;
    case F_JPG: ok = stbi_write_jpg_to_func(buf_put, &m, w, h, 3, px, 95); break;
    case F_GIF: {
        int err = 0;
        GifFileType *g = EGifOpen(&m, gif_out, &err);
        assert_non_null(g);
        ColorMapObject *cm = GifMakeMapObject(256, NULL);
        for (int i = 0; i < 256; i++) cm->Colors[i] = (GifColorType){(GifByteType)i, (GifByteType)i, (GifByteType)i};
        gif_put_ok(EGifPutScreenDesc(g, w, h, 8, 0, cm));
        gif_put_ok(EGifPutImageDesc(g, 0, 0, w, h, false, NULL));
        GifPixelType *row = malloc((size_t)w);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) row[x] = px[((size_t)y * w + x) * 3];
            gif_put_ok(EGifPutLine(g, row, w));
        }
        free(row);
        GifFreeMapObject(cm);
        gif_put_ok(EGifCloseFile(g, &err));
        break;
    }
    default: fail();
    }
    assert_true(ok);
    return m;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of entries in a folder other than . and .. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* The message convention: one line, names the file. */
static void assert_message(const char *name, const char *must_contain) {
    const char *m = dn_error();
    if (!strstr(m, name) || strchr(m, '\n') || (must_contain && !strstr(m, must_contain))) {
        print_error("message '%s' should name '%s'%s%s and be one line\n", m, name,
                    must_contain ? " and say " : "", must_contain ? must_contain : "");
        fail();
    }
}

/* Load from memory and expect a refusal whose message contains `want`. */
static void refuse_mem(const unsigned char *b, size_t n, const char *name, const char *want) {
    dn_image img;
    memset(&img, 0x55, sizeof img);
    dn_fail("(none)");
    if (dn_image_load_mem(&img, b, n, name, 3) != -1) {
        print_error("%s was accepted (%dx%d)\n", name, img.w, img.h);
        fail();
    }
    assert_null(img.px);
    assert_int_equal(img.w, 0);
    assert_message(name, want);
}

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* A PNG whose IHDR says w x h, with a correct CRC, and nothing after it (header-only). */
static size_t png_header(unsigned char *out, uint32_t w, uint32_t h) {
    memcpy(out, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
    wr32(out + 16, w);
    wr32(out + 20, h);
    memcpy(out + 24, "\x08\x02\0\0\0", 5); /* 8-bit RGB, deflate, no filter variant, no interlace */
    wr32(out + 29, (uint32_t)crc32(0L, out + 12, 17));
    return 33;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void every_format_loads(void **state) {
    (void)state;
    const int w = 40, h = 24;
    unsigned char *px = pattern(w, h, 3);
    for (int f = 0; f < F_COUNT; f++) {
        buf m = encode((fmt)f, px, w, h);
        dn_image img;
        if (dn_image_load_mem(&img, m.b, m.n, fmt_name[f], 3) != 0) {
            print_error("%s: %s\n", fmt_name[f], dn_error());
            fail();
        }
        assert_int_equal(img.w, w);
        assert_int_equal(img.h, h);
        assert_int_equal(img.c, 3);
        /* lossless formats give the pixels back exactly; JPEG close; GIF holds the red channel */
        long worst = 0;
        for (long i = 0; i < (long)w * h * 3; i++) {
            int want = f == F_GIF ? px[i / 3 * 3] : px[i];
            long d = labs((long)img.px[i] - want);
            if (d > worst) worst = d;
        }
        if (worst > (f == F_JPG ? 60 : 0)) {
            print_error("%s: largest pixel error %ld\n", fmt_name[f], worst);
            fail();
        }
        dn_image_free(&img);
        free(m.b);
    }
    free(px);
}

static void png_round_trip_grey_and_rgb(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char path[512];
    for (int c = 1; c <= 4; c++) {
        const int w = 33, h = 17;
        unsigned char *px = pattern(w, h, c);
        snprintf(path, sizeof path, "%s/rt%d.png", dir, c);
        assert_int_equal(dn_png_write(path, px, w, h, c, NULL, 0), 0);
        dn_image img;
        assert_int_equal(dn_image_load(&img, path, c), 0);
        assert_int_equal(img.w, w);
        assert_int_equal(img.h, h);
        assert_memory_equal(img.px, px, (size_t)w * h * c);
        dn_image_free(&img);
        dn_image_free(&img); /* twice is fine: free zeroes the struct */
        free(px);
    }
}

static void text_chunks_follow_ihdr_with_valid_crcs(void **state) {
    (void)state;
    unsigned char *px = pattern(8, 6, 3);
    const dn_png_text text[] = {{"t", "500"}, {"schedule", "linear"}, {"Title", "a b c"}, {"empty", ""}};
    unsigned char *png;
    size_t len;
    assert_int_equal(dn_png_encode(&png, &len, px, 8, 6, 3, text, 4), 0);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    /* walk every chunk: CRC over type + data must match zlib's crc32 */
    size_t i = 8;
    int idx = 0, ntext = 0, seen_idat = 0, seen_iend = 0;
    while (i + 12 <= len) {
        uint32_t n = rd32(png + i);
        assert_true(i + 12 + n <= len);
        const unsigned char *type = png + i + 4;
        uint32_t crc = (uint32_t)crc32(0L, type, 4 + n);
        if (crc != rd32(png + i + 8 + n)) {
            print_error("chunk %d (%.4s): bad CRC\n", idx, (const char *)type);
            fail();
        }
        if (idx == 0) assert_memory_equal(type, "IHDR", 4);
        if (!memcmp(type, "IDAT", 4)) seen_idat = 1;
        if (!memcmp(type, "IEND", 4)) seen_iend = 1;
        if (!memcmp(type, "tEXt", 4)) {
            assert_false(seen_idat); /* after IHDR, before the image data */
            const char *k = (const char *)type + 4;
            size_t kn = strlen(k); /* keyword ends at its NUL; the value runs to the chunk end */
            assert_true(kn < n);
            assert_string_equal(k, text[ntext].key);
            assert_int_equal(n - kn - 1, strlen(text[ntext].value));
            assert_memory_equal(type + 4 + kn + 1, text[ntext].value, n - kn - 1);
            ntext++;
        }
        i += 12 + n;
        idx++;
    }
    assert_int_equal(i, len);
    assert_int_equal(ntext, 4);
    assert_true(seen_idat && seen_iend);
    /* and it still decodes to the same pixels */
    dn_image img;
    assert_int_equal(dn_image_load_mem(&img, png, len, "mem.png", 3), 0);
    assert_memory_equal(img.px, px, 8 * 6 * 3);
    dn_image_free(&img);
    free(png);
    free(px);
}

static void bad_text_keys_are_refused(void **state) {
    (void)state;
    unsigned char px[2 * 2 * 3] = {0};
    unsigned char *png = (unsigned char *)"untouched";
    size_t len = 1;
    char long_key[81];
    memset(long_key, 'k', 80);
    long_key[80] = 0;
    const char *bad[] = {"", " lead", "trail ", "two  spaces", "tab\tkey", long_key};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const dn_png_text t = {bad[i], "v"};
        assert_int_equal(dn_png_encode(&png, &len, px, 2, 2, 3, &t, 1), -1);
        assert_null(png);
        assert_non_null(strstr(dn_error(), "key"));
    }
}

static void float_mapping_is_exact_and_clips(void **state) {
    (void)state;
    const int w = 16, h = 16, c = 3;
    unsigned char *px = malloc((size_t)w * h * c), *back = malloc((size_t)w * h * c);
    for (int i = 0; i < w * h * c; i++) px[i] = (unsigned char)(i * 37 % 256);
    px[0] = 0, px[1] = 255; /* interleaved: pixel 0 has r = 0, g = 255 */
    float *x = malloc(sizeof(float) * (size_t)w * h * c);
    dn_image_to_float(x, px, w, h, c);
    tu_assert_close("r(0,0)", 0, (double)x[0], -1.0, 0, 0);
    tu_assert_close("g(0,0)", 0, (double)x[w * h], 1.0, 1e-7, 0); /* planar: channel 1 starts at w*h */
    for (int i = 0; i < w * h * c; i++) assert_true(x[i] >= -1.0f && x[i] <= 1.0f);
    dn_float_to_image(back, x, w, h, c);
    assert_memory_equal(back, px, (size_t)w * h * c); /* bytes -> floats -> bytes is exact */
    /* clipping and NaN */
    const float v[6] = {-3.0f, 3.0f, NAN, 0.0f, -1.0f / 255.0f, INFINITY};
    const unsigned char want[6] = {0, 255, 0, 128, 127, 255};
    for (int i = 0; i < 6; i++) assert_int_equal(dn_unit_to_byte(v[i]), want[i]);
    free(px), free(back), free(x);
}

static void square_takes_the_centre(void **state) {
    (void)state;
    /* wide: 30x10, the middle 10 columns green, the sides red; tall: same turned */
    for (int tall = 0; tall < 2; tall++) {
        int w = tall ? 10 : 30, h = tall ? 30 : 10;
        dn_image in = {w, h, 3, malloc((size_t)w * h * 3)};
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int centre = tall ? (y >= 10 && y < 20) : (x >= 10 && x < 20);
                unsigned char *p = in.px + ((size_t)y * w + x) * 3;
                p[0] = centre ? 0 : 255, p[1] = centre ? 200 : 0, p[2] = 0;
            }
        int sizes[3] = {10, 5, 40};
        for (int s = 0; s < 3; s++) {
            dn_image out;
            assert_int_equal(dn_image_square(&out, &in, sizes[s]), 0);
            assert_int_equal(out.w, sizes[s]);
            assert_int_equal(out.h, sizes[s]);
            for (int i = 0; i < sizes[s] * sizes[s]; i++) {
                assert_true(out.px[3 * i] <= 1);                               /* no red */
                assert_true(abs(out.px[3 * i + 1] - 200) <= 1);                /* green */
            }
            dn_image_free(&out);
        }
        dn_image_free(&in);
    }
}

static void shrinking_keeps_the_mean(void **state) {
    (void)state;
    const int w = 300, h = 200;
    unsigned char *px = pattern(w, h, 3);
    dn_image in = {w, h, 3, px}, out;
    assert_int_equal(dn_image_square(&out, &in, 50), 0);
    /* mean brightness of the centre 200x200 square vs the 50x50 result (linear-light resize, so
     * compare in linear light: sRGB ~ gamma 2.2 is close enough for a mean) */
    double a = 0, b = 0;
    for (int y = 0; y < 200; y++)
        for (int x = 50; x < 250; x++) a += pow(px[((size_t)y * w + x) * 3 + 1] / 255.0, 2.2);
    for (int i = 0; i < 50 * 50; i++) b += pow(out.px[3 * i + 1] / 255.0, 2.2);
    a /= 200 * 200, b /= 50 * 50;
    if (fabs(a - b) > 0.03) {
        print_error("mean linear light %.4f before, %.4f after\n", a, b);
        fail();
    }
    dn_image_free(&out);
    free(px);
}

static void truncated_files_are_refused_in_every_format(void **state) {
    (void)state;
    const int w = 48, h = 32;
    unsigned char *px = pattern(w, h, 3);
    for (int f = 0; f < F_COUNT; f++) {
        buf m = encode((fmt)f, px, w, h);
        /* cut everywhere from the first byte to the last: 1, a few dozen evenly spaced cuts,
         * and the last 40 lengths (where losing only the final bytes is the hard case) */
        for (size_t cut = 1; cut < m.n; cut += (cut + 40 < m.n) ? m.n / 37 + 1 : 1) {
            dn_image img;
            /* GIF: without only its final trailer byte (';') every pixel is still there */
            if (f == F_GIF && cut == m.n - 1) continue;
            if (dn_image_load_mem(&img, m.b, cut, fmt_name[f], 3) == 0) {
                print_error("%s cut to %zu of %zu bytes was accepted\n", fmt_name[f], cut, m.n);
                fail();
            }
            assert_message(fmt_name[f], NULL);
        }
        free(m.b);
    }
    free(px);
}

static void bad_files_are_refused_and_leave_nothing(void **state) {
    (void)state;
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/bad", tu_tmpdir());
    assert_int_equal(mkdir(dir, 0777), 0);
    dn_image img;

    snprintf(path, sizeof path, "%s/missing.png", dir);
    assert_int_equal(dn_image_load(&img, path, 3), -1);
    assert_message("missing.png", NULL);

    snprintf(path, sizeof path, "%s/notes.png", dir);
    write_bytes(path, "these are my notes, not a picture\n", 34);
    assert_int_equal(dn_image_load(&img, path, 3), -1);
    assert_message("notes.png", "not an image");

    snprintf(path, sizeof path, "%s/empty.png", dir);
    write_bytes(path, "", 0);
    assert_int_equal(dn_image_load(&img, path, 3), -1);
    assert_message("empty.png", "empty");

    snprintf(path, sizeof path, "%s/folder.png", dir);
    assert_int_equal(mkdir(path, 0777), 0);
    assert_int_equal(dn_image_load(&img, path, 3), -1);
    assert_message("folder.png", NULL);

    /* formats stb_image does not read: the message names the format and the ones that work */
    const struct { const char *name, *bytes; size_t n; const char *says; } unsup[] = {
        {"a.tif", "II*\0\x08\0\0\0\0\0\0\0", 12, "TIFF"},
        {"b.tiff", "MM\0*\0\0\0\x08\0\0\0\0", 12, "TIFF"},
        {"c.webp", "RIFF\x24\0\0\0WEBPVP8 ", 16, "WebP"},
        {"d.heic", "\0\0\0\x18" "ftypheic\0\0\0\0", 16, "HEIF"},
    };
    for (size_t i = 0; i < sizeof unsup / sizeof unsup[0]; i++) {
        refuse_mem((const unsigned char *)unsup[i].bytes, unsup[i].n, unsup[i].name, unsup[i].says);
        assert_non_null(strstr(dn_error(), "PNG, JPEG, BMP, GIF or TGA"));
    }

    /* 0-, 1-pixel and one-pixel-wide images */
    unsigned char hdr[64];
    refuse_mem(hdr, png_header(hdr, 0, 5), "zero.png", "0x5");
    unsigned char one[3] = {1, 2, 3}, row[3 * 9] = {0};
    unsigned char *png;
    size_t len;
    assert_int_equal(dn_png_encode(&png, &len, one, 1, 1, 3, NULL, 0), 0);
    refuse_mem(png, len, "one.png", "1x1");
    free(png);
    assert_int_equal(dn_png_encode(&png, &len, row, 9, 1, 3, NULL, 0), 0);
    refuse_mem(png, len, "line.png", "9x1");
    free(png);

    /* huge headers, refused from the header (the files hold no pixel data at all) */
    refuse_mem(hdr, png_header(hdr, 100000, 100000), "huge.png", "100000x100000");
    refuse_mem(hdr, png_header(hdr, 16385, 10), "wide.png", "limit");
    refuse_mem(hdr, png_header(hdr, 9000, 9000), "81mp.png", "megapixels");
    const unsigned char gif[] = "GIF89a\xff\xff\xff\xff\x80\0\0";
    refuse_mem(gif, sizeof gif - 1, "huge.gif", "65535x65535");
    unsigned char bmp[54] = "BM";
    bmp[14] = 40;                                        /* BITMAPINFOHEADER */
    bmp[18] = 0x40, bmp[19] = 0x9c, bmp[22] = 0x40, bmp[23] = 0x9c; /* 40000 x 40000 */
    bmp[26] = 1, bmp[28] = 24;
    refuse_mem(bmp, sizeof bmp, "huge.bmp", "40000x40000");
    const unsigned char jpg[] = "\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
                                "\xff\xc0\0\x11\x08\xea\x60\xea\x60\x03\x01\x22\0\x02\x11\x01\x03\x11\x01";
    refuse_mem(jpg, sizeof jpg - 1, "huge.jpg", "60000x60000");

    /* a damaged (not truncated) PNG: one byte of compressed data flipped */
    unsigned char *px = pattern(16, 16, 3);
    assert_int_equal(dn_png_encode(&png, &len, px, 16, 16, 3, NULL, 0), 0);
    png[45] ^= 0xff;
    refuse_mem(png, len, "flipped.png", "checksum");
    /* a chunk type of control characters must not break the message's one line (found by the
     * fuzzer): the IDAT chunk's type at bytes 37..40 becomes "\r\n\x1a\n" */
    memcpy(png + 37, "\r\n\x1a\n", 4);
    refuse_mem(png, len, "control.png", "chunk '\?\?\?\?'");
    free(png);
    free(px);

    /* none of this created a file */
    assert_int_equal(count_entries(dir), 3); /* notes.png, empty.png, folder.png: made above */
}

static void unwritable_folder_leaves_no_file(void **state) {
    (void)state;
    char file[512], path[600];
    snprintf(file, sizeof file, "%s/plain.txt", tu_tmpdir());
    write_bytes(file, "x", 1);
    snprintf(path, sizeof path, "%s/out.png", file); /* a regular file used as a folder */
    unsigned char px[4 * 4 * 3] = {0};
    dn_fail("(none)");
    assert_int_equal(dn_png_write(path, px, 4, 4, 3, NULL, 0), -1);
    assert_message("out.png", NULL);
    assert_false(exists(path));

    /* a good write leaves exactly the file, no temporary beside it */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/good", tu_tmpdir());
    assert_int_equal(mkdir(dir, 0777), 0);
    snprintf(path, sizeof path, "%s/ok.png", dir);
    assert_int_equal(dn_png_write(path, px, 4, 4, 3, NULL, 0), 0);
    assert_true(exists(path));
    assert_int_equal(count_entries(dir), 1);
}

/* The frames `diffuse noise` writes hold the forward process: frame 0 (t = 0, noise std
 * sqrt(1 - alpha-bar_0) = 0.01) is the photo to within a pixel level or two, and the last frame
 * (t = T-1, sqrt(alpha-bar) = 0.006) is unit Gaussian noise seen through the clip to [-1, 1]:
 * E[clip(z)] = 0, E[clip(z)^2] = P(|z|<1) - 2 phi(1) + P(|z|>1) = 0.5161 (std 0.718), and
 * P(|z| >= 1) = 0.3173 of the values sit on the clip. Runs the binary named by $DN_BIN (set by
 * scripts/run_tests.sh); skipped when run on its own without it. */
static void the_noise_command_writes_the_forward_process(void **state) {
    (void)state;
    const char *bin = getenv("DN_BIN");
    if (!bin || !*bin) {
        print_message("DN_BIN not set: skipping the run of 'diffuse noise'\n");
        skip();
    }
    char dir[512], cmd[2048], path[600];
    snprintf(dir, sizeof dir, "%s/noise", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' noise assets/images/cat.png -o '%s' --every 100 > /dev/null", bin, dir);
    assert_int_equal(system(cmd), 0);

    dn_image photo, want, first, last;
    assert_int_equal(dn_image_load(&photo, "assets/images/cat.png", 3), 0);
    assert_int_equal(dn_image_square(&want, &photo, 64), 0);
    snprintf(path, sizeof path, "%s/frame_0000.png", dir);
    assert_int_equal(dn_image_load(&first, path, 3), 0);
    snprintf(path, sizeof path, "%s/frame_0010.png", dir); /* t = 999 */
    assert_int_equal(dn_image_load(&last, path, 3), 0);
    assert_int_equal(first.w, 64);
    assert_int_equal(last.w, 64);

    const long n = 64L * 64 * 3;
    double mad = 0; /* mean absolute difference in pixel levels; noise std is 1.3 levels */
    for (long i = 0; i < n; i++) mad += fabs((double)first.px[i] - want.px[i]);
    mad /= (double)n;
    if (mad > 2.0) {
        print_error("frame 0 differs from the photo by %.2f levels on average\n", mad);
        fail();
    }
    double s = 0, s2 = 0, clipped = 0;
    for (long i = 0; i < n; i++) {
        double x = last.px[i] / 127.5 - 1.0;
        s += x, s2 += x * x;
        clipped += last.px[i] == 0 || last.px[i] == 255;
    }
    double mean = s / n, msq = s2 / n, frac = clipped / n;
    /* standard errors for n = 12288: mean 0.0065, mean square 0.0040, fraction 0.0042; allow ~5 */
    if (fabs(mean) > 0.035 || fabs(msq - 0.5161) > 0.02 || fabs(frac - 0.3173) > 0.022) {
        print_error("last frame: mean %.4f (want 0), mean square %.4f (want 0.516), clipped %.4f "
                    "(want 0.317)\n", mean, msq, frac);
        fail();
    }
    dn_image_free(&photo), dn_image_free(&want), dn_image_free(&first), dn_image_free(&last);
}

/* Inputs the fuzzer (make fuzz) once crashed on, kept as seeds and checked here on every run. */
static void fuzzer_findings_are_refused(void **state) {
    (void)state;
    const struct { const char *path, *says; } found[] = {
        /* a PNG chunk type of control characters broke the one-line message */
        {"tests/fuzz/fuzz_image/regress_png_control_chunk_type.png", "checksum"},
        /* a scan using a Huffman table the file never defines: stb 2.27 decodes with whatever
         * memory held (under AddressSanitizer it aborted on an assert); this file is our seed
         * rgb.jpg with the first scan component switched to AC table 2 */
        {"tests/fuzz/fuzz_image/regress_jpeg_undefined_huffman_table.jpg", "never defines"},
    };
    for (size_t i = 0; i < sizeof found / sizeof found[0]; i++) {
        dn_image img;
        assert_int_equal(dn_image_load(&img, found[i].path, 3), -1);
        assert_message(found[i].path, found[i].says);
    }
    /* a Huffman table of more than 256 codes (stb issue #1289): take a good JPEG and raise the
     * 16-bit code count of its first DHT table */
    unsigned char *px = pattern(16, 16, 3);
    buf m = encode(F_JPG, px, 16, 16);
    size_t i = 2;
    while (i + 4 < m.n && !(m.b[i] == 0xff && m.b[i + 1] == 0xc4)) i += 2 + (size_t)(m.b[i + 2] << 8 | m.b[i + 3]);
    assert_true(i + 21 < m.n);
    m.b[i + 4 + 1 + 15] = 250; /* counts start after length (2) and class/id (1); this is length 16 */
    refuse_mem(m.b, m.n, "many-codes.jpg", "JPEG is damaged");
    free(m.b);
    free(px);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_format_loads),
        cmocka_unit_test(png_round_trip_grey_and_rgb),
        cmocka_unit_test(text_chunks_follow_ihdr_with_valid_crcs),
        cmocka_unit_test(bad_text_keys_are_refused),
        cmocka_unit_test(float_mapping_is_exact_and_clips),
        cmocka_unit_test(square_takes_the_centre),
        cmocka_unit_test(shrinking_keeps_the_mean),
        cmocka_unit_test(truncated_files_are_refused_in_every_format),
        cmocka_unit_test(bad_files_are_refused_and_leave_nothing),
        cmocka_unit_test(unwritable_folder_leaves_no_file),
        cmocka_unit_test(fuzzer_findings_are_refused),
        cmocka_unit_test(the_noise_command_writes_the_forward_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
