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
    assert_non_null(strstr(dn_error(), "fashion, pets"));
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
        bg_ok += nearest(dn_pet_background_rgb, DN_PET_NBACKGROUND, px(im, 0, 0, cj), px(im, 1, 0, cj), px(im, 2, 0, cj)) == a->background;
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
    for (int b = 0; b < DN_PET_NBACKGROUND; b++) assert_true(bg[b] > 0.05 * NPETS);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fashion_train_split),
        cmocka_unit_test(fashion_test_split),
        cmocka_unit_test(fashion_damaged_files),
        cmocka_unit_test(pets_deterministic),
        cmocka_unit_test(pets_distribution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
