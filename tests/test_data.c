/* test_data.c — the two data sets.
 * Fashion-MNIST: counts, shapes, ranges and labels of the real Debian files (the expected values
 * were read from the files with Python's gzip module, independently of this loader), and a clear
 * error for every kind of damaged copy made in a temporary folder.
 * Pets: deterministic per (seed, index) whatever the batch, all different, attributes that tell
 * the truth about the pixels, every colour used, and a simple pixel statistic that separates cats
 * from dogs. */
#include "testutil.h"
#include "data/data.h"
#include "base/err.h"
#include "data/fashion.h"
#include "base/fileio.h"
#include "data/pets.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- Fashion-MNIST: the real files ----------------------------------------------------------------- */

static long byte_sum(const unsigned char *p, long n) {
    long s = 0;
    for (long i = 0; i < n; i++) s += p[i];
    return s;
}

static void fashion_train_split(void **state) {
    (void)state;
    dn_fashion d;
    int rc = dn_fashion_load(&d, NULL, 0);
    if (rc) fail_msg("%s", dn_error());
    assert_int_equal(d.n, 60000);
    assert_int_equal(d.test, 0);
    /* first and last labels, and the per-class counts (6000 each) */
    assert_int_equal(d.labels[0], 9);
    assert_string_equal(dn_fashion_class_names[d.labels[0]], "Ankle boot");
    assert_int_equal(d.labels[59997], 3);
    assert_int_equal(d.labels[59998], 0);
    assert_int_equal(d.labels[59999], 5);
    int count[10] = {0};
    for (int i = 0; i < d.n; i++) count[d.labels[i]]++;
    for (int k = 0; k < 10; k++) assert_int_equal(count[k], 6000);
    /* the first and last image, byte for byte in sum, and one pixel */
    assert_int_equal(byte_sum(d.pixels, 784), 76247);
    assert_int_equal(byte_sum(d.pixels + 59999L * 784, 784), 16684);
    assert_int_equal(d.pixels[14 * 28 + 14], 217);
    /* as floats: (N,1,28,28) in [-1,1], 0 -> -1, 255 -> +1 */
    float x[2 * 784];
    int y[2];
    long idx[2] = {0, 59999};
    dn_fashion_batch(&d, x, y, idx, 2);
    assert_int_equal(y[0], 9);
    assert_int_equal(y[1], 5);
    double s = 0;
    float lo = 2, hi = -2;
    for (int i = 0; i < 784; i++) s += (double)x[i], lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
    assert_true(lo == -1.0f && hi == 1.0f);
    tu_assert_close("sum of image 0 as floats", 0, s, 76247 / 127.5 - 784, 1e-3, 0);
    tu_assert_close("pixel (14,14)", 0, (double)x[14 * 28 + 14], 217 / 127.5 - 1, 1e-6, 0);
    dn_fashion_free(&d);
    dn_fashion_free(&d); /* twice is harmless */
    dn_fashion_free(NULL);
}

static void fashion_test_split(void **state) {
    (void)state;
    dn_data d;
    int rc = dn_data_open(&d, "fashion", 1, NULL);
    if (rc) fail_msg("%s", dn_error());
    assert_int_equal(d.n, 10000);
    assert_true(d.channels == 1 && d.height == 28 && d.width == 28 && d.num_classes == 10);
    assert_int_equal(d.fashion.labels[0], 9);
    assert_int_equal(d.fashion.labels[9999], 5);
    assert_int_equal(d.fashion.labels[9998], 1);
    int count[10] = {0};
    for (int i = 0; i < d.n; i++) count[d.fashion.labels[i]]++;
    for (int k = 0; k < 10; k++) assert_int_equal(count[k], 1000);
    assert_int_equal(byte_sum(d.fashion.pixels, 784), 33456);
    assert_int_equal(byte_sum(d.fashion.pixels + 9999L * 784, 784), 24390);
    assert_int_equal(d.fashion.pixels[14 * 28 + 14], 110);
    assert_int_equal(dn_data_class_id(&d, "ankle BOOT"), 9);
    assert_int_equal(dn_data_class_id(&d, "T-shirt/top"), 0);
    assert_int_equal(dn_data_class_id(&d, "cat"), -1);
    dn_data_close(&d);
}

/* ---- Fashion-MNIST: damaged copies ------------------------------------------------------------------ */

static void copy_file(const char *from, const char *to, long keep, long flip_at) {
    unsigned char *buf;
    size_t len;
    if (dn_read_file(from, &buf, &len, (size_t)64 << 20) < 0) fail_msg("%s", dn_error());
    if (keep >= 0 && (size_t)keep < len) len = (size_t)keep;
    if (flip_at >= 0) buf[flip_at] ^= 0x5a;
    if (dn_write_file_atomic(to, buf, len) < 0) fail_msg("%s", dn_error());
    free(buf);
}

/* A gzip file holding `head` (big-endian words) followed by `n` bytes of value `fill` (and the
 * byte `odd` at position odd_at, if odd_at >= 0). */
static void write_idx(const char *path, const unsigned *head, int nhead, long n, int fill, long odd_at, int odd) {
    gzFile f = gzopen(path, "wb1");
    assert_non_null(f);
    for (int i = 0; i < nhead; i++) {
        unsigned char b[4] = {(unsigned char)(head[i] >> 24), (unsigned char)(head[i] >> 16),
                              (unsigned char)(head[i] >> 8), (unsigned char)head[i]};
        assert_int_equal(gzwrite(f, b, 4), 4);
    }
    for (long i = 0; i < n; i++) assert_int_equal(gzputc(f, i == odd_at ? odd : fill), i == odd_at ? odd : fill);
    assert_int_equal(gzclose(f), Z_OK);
}

/* Load the test split from `dir` and check that it fails with a message containing each of the
 * given words, and leaves the struct zeroed. */
static void expect_failure(const char *dir, const char *w1, const char *w2) {
    dn_fashion d;
    memset(&d, 0x7f, sizeof d);
    assert_int_equal(dn_fashion_load(&d, dir, 1), -1);
    const char *msg = dn_error();
    if (!strstr(msg, w1) || !strstr(msg, w2) || !strstr(msg, DN_FASHION_PACKAGE))
        fail_msg("message '%s' should name '%s', '%s' and the package", msg, w1, w2);
    assert_int_equal(d.n, 0);
    assert_null(d.pixels);
    assert_null(d.labels);
}

static void fashion_damaged_files(void **state) {
    (void)state;
    const char *tmp = tu_tmpdir();
    const char *src = DN_FASHION_DIR;
    char dir[1024], lab[1100], img[1100], from_lab[1100], from_img[1100];
    snprintf(from_lab, sizeof from_lab, "%s/t10k-labels-idx1-ubyte.gz", src);
    snprintf(from_img, sizeof from_img, "%s/t10k-images-idx3-ubyte.gz", src);

    /* missing folder, and a folder with only the labels */
    snprintf(dir, sizeof dir, "%s/nowhere", tmp);
    expect_failure(dir, "nowhere/t10k-labels-idx1-ubyte.gz", "no such file");
    snprintf(dir, sizeof dir, "%s/only-labels", tmp);
    assert_int_equal(dn_make_dir(dir), 0);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", dir);
    copy_file(from_lab, lab, -1, -1);
    expect_failure(dir, "t10k-images-idx3-ubyte.gz", "no such file");

    /* a good label file beside a truncated image file, then beside one with a flipped byte */
    snprintf(dir, sizeof dir, "%s/damaged", tmp);
    assert_int_equal(dn_make_dir(dir), 0);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", dir);
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", dir);
    copy_file(from_lab, lab, -1, -1);
    copy_file(from_img, img, 2000000, -1); /* 4.4 MB cut at 2 MB */
    expect_failure(dir, "t10k-images", "truncated");
    copy_file(from_img, img, -1, 3000000);
    expect_failure(dir, "t10k-images", "damaged");
    copy_file(from_img, img, 10, -1); /* cut inside the gzip header */
    expect_failure(dir, "t10k-images", "cannot read");
    /* the real label file with its last 3 bytes (part of the gzip trailer) cut */
    copy_file(from_lab, lab, 5125 - 3, -1);
    expect_failure(dir, "t10k-labels", "cannot read");

    /* well-formed gzip, wrong contents: each header check and the label range */
    copy_file(from_img, img, -1, -1);
    unsigned good[2] = {0x801, 10000}, bad_magic[2] = {0x803, 10000}, bad_count[2] = {0x801, 9999};
    write_idx(lab, bad_magic, 2, 10000, 1, -1, 0);
    expect_failure(dir, "not an idx label file", "0x00000803");
    write_idx(lab, bad_count, 2, 9999, 1, -1, 0);
    expect_failure(dir, "holds 9999 labels", "expected 10000");
    write_idx(lab, good, 2, 10000, 1, 1234, 10);
    expect_failure(dir, "label 10 of image 1234", "not a class");
    write_idx(lab, good, 2, 10001, 1, -1, 0);
    expect_failure(dir, "extra bytes", "10000 labels");
    write_idx(lab, good, 2, 9000, 1, -1, 0);
    expect_failure(dir, "truncated", "9000 of the 10000");
    write_idx(lab, good, 2, 10000, 1, -1, 0); /* labels fine now: the image header is next */
    unsigned bad_side[4] = {0x803, 10000, 27, 28};
    write_idx(img, bad_side, 4, 0, 0, -1, 0);
    expect_failure(dir, "27x28", "expected 28x28");
    /* and with everything right it loads: the checks above were not refusing everything */
    unsigned img_head[4] = {0x803, 10000, 28, 28};
    write_idx(img, img_head, 4, 10000L * 784, 255, -1, 0);
    dn_fashion d;
    if (dn_fashion_load(&d, dir, 1) < 0) fail_msg("%s", dn_error());
    assert_int_equal(d.n, 10000);
    assert_int_equal(d.labels[5], 1);
    dn_fashion_free(&d);
}

/* ---- Pets ------------------------------------------------------------------------------------------ */

#define PN (3 * DN_PETS_PIXELS)

static float px(const float *x, int ch, int i, int j) { return (x[ch * DN_PETS_PIXELS + i * DN_PETS_SIDE + j] + 1) / 2; }

/* Pixels whose colour is within 0.2 of tongue red (0.9, 0.3, 0.4) — the "mouth colour" statistic. */
static int tongue_pixels(const float *x) {
    int n = 0;
    for (int i = 0; i < DN_PETS_PIXELS; i++) {
        float r = (x[i] + 1) / 2, g = (x[DN_PETS_PIXELS + i] + 1) / 2, b = (x[2 * DN_PETS_PIXELS + i] + 1) / 2;
        if ((r - 0.9f) * (r - 0.9f) + (g - 0.3f) * (g - 0.3f) + (b - 0.4f) * (b - 0.4f) < 0.04f) n++;
    }
    return n;
}

static int nearest(const float (*tab)[3], int n, float r, float g, float b) {
    int best = 0;
    float bd = 1e9f;
    for (int i = 0; i < n; i++) {
        float d = (tab[i][0] - r) * (tab[i][0] - r) + (tab[i][1] - g) * (tab[i][1] - g) + (tab[i][2] - b) * (tab[i][2] - b);
        if (d < bd) bd = d, best = i;
    }
    return best;
}

static void pets_deterministic(void **state) {
    (void)state;
    float *a = malloc(4 * PN * sizeof(float)), *b = a + PN, *batch = a + 2 * PN;
    dn_pet_attr aa, ab;
    dn_pets_render(a, &aa, DN_PETS_SEED, 12345);
    dn_pets_render(b, &ab, DN_PETS_SEED, 12345);
    assert_memory_equal(a, b, PN * sizeof(float));
    assert_memory_equal(&aa, &ab, sizeof aa);
    /* the same image in a batch, at another position, after another image */
    dn_data d;
    assert_int_equal(dn_data_open(&d, "pets", 0, NULL), 0);
    long idx[2] = {7, 12345};
    int y[2];
    dn_data_batch(&d, batch, y, idx, 2);
    assert_memory_equal(batch + PN, a, PN * sizeof(float));
    assert_int_equal(y[1], aa.species);
    /* attributes without drawing agree with drawing */
    dn_pets_attr(&ab, DN_PETS_SEED, 12345);
    assert_memory_equal(&aa, &ab, sizeof aa);
    /* another seed, or the test split, is another picture */
    dn_pets_render(b, NULL, DN_PETS_SEED + 1, 12345);
    assert_true(memcmp(a, b, PN * sizeof(float)) != 0);
    dn_data_close(&d);
    assert_int_equal(dn_data_open(&d, "pets", 1, NULL), 0);
    assert_int_equal(d.n, DN_PETS_TEST_N);
    dn_data_batch(&d, b, NULL, &idx[1], 1);
    assert_true(memcmp(a, b, PN * sizeof(float)) != 0);
    assert_int_equal(dn_data_class_id(&d, "Dog"), 1);
    dn_data_close(&d);
    assert_int_equal(dn_data_open(&d, "zebras", 0, NULL), -1);
    assert_non_null(strstr(dn_error(), "fashion, pets, pets64"));
    free(a);
}

#define NPETS 2000

static void pets_distribution(void **state) {
    (void)state;
    float *x = malloc((size_t)NPETS * PN * sizeof(float));
    dn_pet_attr *at = malloc(NPETS * sizeof *at);
    assert_true(x && at);
    for (int k = 0; k < NPETS; k++) dn_pets_render(x + (size_t)k * PN, &at[k], DN_PETS_SEED, (uint64_t)k);

    int species[2] = {0}, fur[2][DN_PET_NFUR] = {{0}}, bg[DN_PET_NBACKGROUND] = {0};
    int pattern[2][DN_PET_NPATTERNS] = {{0}}, ears[2][DN_PET_NEARS] = {{0}}, eyes[DN_PET_NEYES] = {0};
    int plain = 0, fur_ok = 0, bg_ok = 0;
    for (int k = 0; k < NPETS; k++) {
        const float *im = x + (size_t)k * PN;
        const dn_pet_attr *a = &at[k];
        for (int i = 0; i < PN; i++) assert_true(im[i] >= -1.0f && im[i] <= 1.0f);
        species[a->species]++;
        fur[a->species][a->fur]++;
        bg[a->background]++;
        pattern[a->species][a->pattern]++;
        ears[a->species][a->ears]++;
        eyes[a->eyes]++;
        /* the names tell the truth: the forehead of a plain face has the named fur colour... */
        float th = a->angle * 3.14159265f / 180.0f, ly = -0.3f;
        int fi = (int)(a->cy + a->radius * cosf(th) * ly), fj = (int)(a->cx - a->radius * sinf(th) * ly);
        if (a->pattern == DN_PET_PLAIN) {
            plain++;
            fur_ok += nearest(dn_pet_fur_rgb, DN_PET_NFUR, px(im, 0, fi, fj), px(im, 1, fi, fj), px(im, 2, fi, fj)) == a->fur;
        }
        /* ...and the top corner away from the head has the named background colour */
        int cj = a->cx < 16 ? 31 : 0;
        bg_ok += nearest(dn_pet_background_rgb, DN_PET_NBACKGROUND_V1, px(im, 0, 0, cj), px(im, 1, 0, cj), px(im, 2, 0, cj)) == a->background;
    }
    print_message("pets: %d cats, %d dogs; fur name matches the forehead in %d of %d plain faces, "
                  "background name matches the corner in %d of %d\n",
                  species[0], species[1], fur_ok, plain, bg_ok, NPETS);
    assert_true(species[0] > 0.45 * NPETS && species[1] > 0.45 * NPETS);
    assert_true(fur_ok >= 0.99 * plain && plain > 0.25 * NPETS);
    assert_true(bg_ok >= 0.99 * NPETS);
    /* every colour, background, allowed pattern and ear type appears, for each species */
    for (int s = 0; s < 2; s++)
        for (int f = 0; f < DN_PET_NFUR; f++)
            if (fur[s][f] < 0.05 * species[s]) fail_msg("%s fur %s: only %d", dn_pets_class_names[s], dn_pet_fur_names[f], fur[s][f]);
    for (int b = 0; b < DN_PET_NBACKGROUND_V1; b++) assert_true(bg[b] > 0.05 * NPETS);
    for (int b = DN_PET_NBACKGROUND_V1; b < DN_PET_NBACKGROUND; b++) assert_int_equal(bg[b], 0);
    for (int e = 0; e < DN_PET_NEYES; e++) assert_true(eyes[e] > 0.05 * NPETS);
    int cat_patterns[] = {DN_PET_PLAIN, DN_PET_TABBY, DN_PET_PATCHES}, dog_patterns[] = {DN_PET_PLAIN, DN_PET_PATCHES, DN_PET_SPOTS};
    for (int i = 0; i < 3; i++) assert_true(pattern[0][cat_patterns[i]] > 0.2 * species[0]);
    for (int i = 0; i < 3; i++) assert_true(pattern[1][dog_patterns[i]] > 0.2 * species[1]);
    assert_int_equal(ears[0][DN_PET_EARS_POINTED], species[0]);
    assert_true(ears[1][DN_PET_EARS_FLOPPY] > 0.5 * species[1] && ears[1][DN_PET_EARS_UPRIGHT] > 0.1 * species[1]);

    /* the class statistic: tongue-red pixels. Cats never have any; a dog has some exactly when its
     * attributes say the tongue is out. Rule "dog if any" -> accuracy reported and bounded. */
    int correct = 0, dog_tongue = 0, cat_max = 0, dog_min = 1 << 30;
    for (int k = 0; k < NPETS; k++) {
        int t = tongue_pixels(x + (size_t)k * PN);
        assert_int_equal(t > 0, at[k].tongue);
        if (at[k].species == DN_PET_CAT) cat_max = t > cat_max ? t : cat_max;
        else if (at[k].tongue) dog_tongue++, dog_min = t < dog_min ? t : dog_min;
        correct += (t > 0) == (at[k].species == DN_PET_DOG);
    }
    print_message("pets: tongue-red pixels: cats max %d; %d of %d dogs show the tongue, min %d pixels; "
                  "'dog if any' is right for %d of %d (%.1f%%)\n",
                  cat_max, dog_tongue, species[1], dog_min, correct, NPETS, 100.0 * correct / NPETS);
    assert_int_equal(cat_max, 0);
    assert_true(dog_min >= 2);
    assert_true(correct >= 0.93 * NPETS);

    /* no two alike: every pair of the first 300 differs by a visible amount (mean |diff| over all
     * pixels and channels; 0.02 is about 2.5 grey levels everywhere) */
    double min_diff = 1e9;
    for (int i = 0; i < 300; i++)
        for (int j = i + 1; j < 300; j++) {
            const float *p = x + (size_t)i * PN, *q = x + (size_t)j * PN;
            double s = 0;
            for (int k = 0; k < PN; k++) s += (double)fabsf(p[k] - q[k]);
            if (s / PN < min_diff) min_diff = s / PN;
        }
    print_message("pets: smallest mean |difference| between two of 300 images: %.3f (of 2)\n", min_diff);
    assert_true(min_diff > 0.02);
    /* captions name the things */
    char buf[160];
    dn_pets_describe(&at[0], buf, sizeof buf);
    assert_non_null(strstr(buf, dn_pets_class_names[at[0].species]));
    assert_non_null(strstr(buf, dn_pet_fur_names[at[0].fur]));
    assert_non_null(strstr(buf, dn_pet_background_names[at[0].background]));
    free(at);
    free(x);
}

/* ---- pets64: version 2 at 64x64 ---------------------------------------------------------------- */

#define S64 DN_PETS64_SIDE
#define P64 (3 * S64 * S64)

static float px64(const float *x, int ch, int i, int j) { return (x[ch * S64 * S64 + i * S64 + j] + 1) / 2; }

static void pets64_draws_the_same_face(void **state) {
    (void)state;
    float *a = malloc((size_t)P64 * 3 * sizeof(float)), *b = a + P64, *c = a + 2 * P64;
    assert_non_null(a);
    /* version 1 at 32 through the general call is the pets set, bit for bit */
    dn_pet_attr aa, ab;
    dn_pets_render(a, &aa, DN_PETS_SEED, 77);
    dn_pets_draw(b, &ab, 32, 1, DN_PETS_SEED, 77);
    assert_memory_equal(a, b, PN * sizeof(float));
    assert_memory_equal(&aa, &ab, sizeof aa);
    /* the data set: 3x64x64, deterministic in a batch, attributes without drawing agree */
    dn_data d;
    assert_int_equal(dn_data_open(&d, "pets64", 0, NULL), 0);
    assert_int_equal(d.height, 64);
    assert_int_equal(d.width, 64);
    assert_int_equal(d.channels, 3);
    assert_int_equal(d.num_classes, 2);
    long idx[2] = {3, 1234};
    dn_data_batch(&d, a, NULL, idx, 2);
    dn_pets_draw(c, &aa, 64, 2, DN_PETS64_SEED, 1234);
    assert_memory_equal(a + P64, c, P64 * sizeof(float));
    assert_int_equal(dn_data_pet(&d, 1234, &ab), 0);
    assert_memory_equal(&aa, &ab, sizeof aa);
    assert_int_equal(aa.version, 2);
    assert_int_equal(dn_data_label(&d, 1234), aa.species);
    dn_data_close(&d);
    /* the same face at another size: 64 averaged 2x2 down is close to the 32 drawing; position
     * and size are in pixels of the picture drawn */
    dn_pet_attr a32;
    dn_pets_draw(b, &a32, 32, 2, DN_PETS64_SEED, 1234);
    assert_float_equal(aa.cx, 2 * a32.cx, 1e-4);
    assert_float_equal(aa.radius, 2 * a32.radius, 1e-4);
    double diff = 0;
    for (int ch = 0; ch < 3; ch++)
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < 32; j++) {
                const float *p = c + ch * S64 * S64;
                float m = (p[2 * i * S64 + 2 * j] + p[2 * i * S64 + 2 * j + 1] + p[(2 * i + 1) * S64 + 2 * j] +
                           p[(2 * i + 1) * S64 + 2 * j + 1]) / 4;
                diff += fabs((double)m - (double)b[ch * 1024 + i * 32 + j]);
            }
    print_message("pets64: a 64x64 face averaged down differs from its 32x32 drawing by %.4f (of 2)\n", diff / PN);
    assert_true(diff / PN < 0.03);
    free(a);
}

#define N64 1000

static void pets64_distribution(void **state) {
    (void)state;
    float *x = malloc((size_t)P64 * sizeof(float));
    assert_non_null(x);
    int bg[DN_PET_NBACKGROUND] = {0}, bg_ok = 0, cat_spots = 0, cat_open = 0, cats = 0, dog_eyes[DN_PET_NEYES] = {0};
    int white_on_black = 0, black_on_white = 0, same_word = 0;
    double min_contrast = 9;
    for (int k = 0; k < N64; k++) {
        dn_pet_attr a;
        dn_pets_draw(x, &a, S64, 2, DN_PETS64_SEED, (uint64_t)k);
        for (int i = 0; i < P64; i++) assert_true(x[i] >= -1.0f && x[i] <= 1.0f);
        bg[a.background]++;
        if (a.species == DN_PET_CAT) {
            cats++;
            cat_spots += a.pattern == DN_PET_SPOTS;
            cat_open += a.mouth_open;
            assert_int_equal(a.tongue, 0);
        } else {
            dog_eyes[a.eyes]++;
            assert_int_equal(a.mouth_open, a.tongue);
        }
        if (a.fur == 2 && a.background == 8) white_on_black++;
        if (a.fur == 1 && a.background == 9) black_on_white++;
        same_word += !strcmp(dn_pet_fur_names[a.fur], dn_pet_background_names[a.background]);
        /* the corner away from the head, averaged over 4x4 pixels (the textures are faint), is
         * nearest the named background colour */
        int cj = a.cx < 32 ? 60 : 0;
        float m[3] = {0};
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) m[ch] += px64(x, ch, i, cj + j) / 16;
        bg_ok += nearest(dn_pet_background_rgb, DN_PET_NBACKGROUND, m[0], m[1], m[2]) == a.background;
        double dc = 0;
        for (int ch = 0; ch < 3; ch++)
            dc += (double)((dn_pet_fur_rgb[a.fur][ch] - dn_pet_background_rgb[a.background][ch]) *
                           (dn_pet_fur_rgb[a.fur][ch] - dn_pet_background_rgb[a.background][ch]));
        if (sqrt(dc) < min_contrast) min_contrast = sqrt(dc);
    }
    print_message("pets64: %d cats (%d spotted, %d mewing); dogs' eyes: %d brown %d blue %d amber; "
                  "white cat or dog on black %d, black on white %d; background named right %d of %d\n",
                  cats, cat_spots, cat_open, dog_eyes[4], dog_eyes[2], dog_eyes[3], white_on_black,
                  black_on_white, bg_ok, N64);
    for (int b = 0; b < DN_PET_NBACKGROUND; b++)
        if (bg[b] < 0.03 * N64) fail_msg("background %s: only %d", dn_pet_background_names[b], bg[b]);
    assert_true(bg_ok >= 0.97 * N64);
    assert_true(cat_spots > 0.15 * cats && cat_open > 0.15 * cats);
    assert_true(dog_eyes[2] > 0 && dog_eyes[3] > 0 && dog_eyes[4] > 0.7 * (N64 - cats));
    assert_true(white_on_black > 0 && black_on_white > 0);
    assert_int_equal(same_word, 0); /* never a grey cat on grey */
    assert_true(min_contrast >= 0.36);
    free(x);
}

/* Captions: many phrasings of one picture; each names the species, every colour word it uses is
 * the picture's own colour for the thing it names, and it reads as English (articles, commas). */
static void pets64_captions(void **state) {
    (void)state;
    char buf[200], first[200];
    int distinct = 0, bare = 0, with_bg = 0, bg_first = 0;
    for (int k = 0; k < 2000; k++) {
        dn_pet_attr a;
        dn_pets_draw_attr(&a, S64, 2, DN_PETS64_SEED, (uint64_t)k);
        const char *c = dn_pets_caption(&a, (uint64_t)k, buf, sizeof buf);
        assert_ptr_equal(c, buf);
        assert_true(strlen(buf) < 160);
        assert_non_null(strstr(buf, dn_pets_class_names[a.species]));
        assert_null(strstr(buf, dn_pets_class_names[1 - a.species]));
        assert_null(strstr(buf, "  "));
        assert_null(strstr(buf, " ,"));
        assert_null(strstr(buf, ",,"));
        assert_null(strstr(buf, "a a") == buf ? buf : NULL);
        assert_null(strstr(buf, "a orange"));
        assert_null(strstr(buf, "an b"));
        /* "X background" names the picture's background; "X eyes" its eyes */
        char want[64];
        const char *b = strstr(buf, " background");
        if (b) {
            with_bg++;
            snprintf(want, sizeof want, "%s background", dn_pet_background_names[a.background]);
            assert_non_null(strstr(buf, want));
            bg_first += !strncmp(buf, "on ", 3);
        }
        if (strstr(buf, " eyes")) {
            snprintf(want, sizeof want, "%s eyes", dn_pet_eyes_names[a.eyes]);
            assert_non_null(strstr(buf, want));
        }
        /* a fur colour right before the species (or "tabby") is the fur's */
        for (int f = 0; f < DN_PET_NFUR; f++) {
            snprintf(want, sizeof want, "%s %s", dn_pet_fur_names[f], dn_pets_class_names[a.species]);
            if (strstr(buf, want)) assert_int_equal(f, a.fur);
            snprintf(want, sizeof want, "%s tabby", dn_pet_fur_names[f]);
            if (strstr(buf, want)) assert_int_equal(f, a.fur);
        }
        if (a.fur2 >= 0) {
            snprintf(want, sizeof want, "with %s %s", dn_pet_fur_names[a.fur2], dn_pet_pattern_names[a.pattern]);
            if (strstr(buf, dn_pet_pattern_names[a.pattern])) assert_non_null(strstr(buf, want));
        }
        if (!strcmp(buf, "a cat") || !strcmp(buf, "a dog")) bare++;
        /* the same variant gives the same caption; other variants of one picture differ */
        dn_pets_caption(&a, (uint64_t)k, first, sizeof first);
        assert_string_equal(first, buf);
        if (k < 50) {
            int differ = 0;
            for (uint64_t v = 1; v <= 20; v++) differ += strcmp(dn_pets_caption(&a, (uint64_t)k + v * 7919, first, sizeof first), buf) != 0;
            assert_true(differ >= 10);
            distinct++;
        }
    }
    print_message("pets64 captions: %d of 2000 name the background (%d put it first), %d are bare; e.g. '%s'\n",
                  with_bg, bg_first, bare, buf);
    assert_true(with_bg > 1000 && bg_first > 100 && bare > 50 && bare < 400);
    /* a short buffer is cut, not overrun */
    dn_pet_attr a;
    dn_pets_draw_attr(&a, S64, 2, DN_PETS64_SEED, 5);
    char small[12];
    memset(small, 'x', sizeof small);
    dn_pets_caption(&a, 3, small, 8);
    assert_true(strlen(small) <= 7);
    assert_int_equal(small[9], 'x');
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fashion_train_split),
        cmocka_unit_test(fashion_test_split),
        cmocka_unit_test(fashion_damaged_files),
        cmocka_unit_test(pets_deterministic),
        cmocka_unit_test(pets_distribution),
        cmocka_unit_test(pets64_draws_the_same_face),
        cmocka_unit_test(pets64_distribution),
        cmocka_unit_test(pets64_captions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
