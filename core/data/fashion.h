/* fashion.h — Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 70,000 real 28x28 grey photos of
 * garments in ten classes, read from Debian's dataset-fashion-mnist idx files with zlib.
 *
 * The idx format (LeCun's MNIST): big-endian uint32 magic 0x00000803 (images) or 0x00000801
 * (labels), then the dimensions (count, and rows, cols for images), then unsigned bytes.
 * Loading checks everything: magic, count (60000 train / 10000 test), 28x28, that the image and
 * label files agree, every label in 0..9, nothing missing or extra, the gzip CRC. */
#ifndef DN_FASHION_H
#define DN_FASHION_H

#define DN_FASHION_DIR "/usr/share/datasets/fashion-mnist" /* where the Debian package puts it */
#define DN_FASHION_PACKAGE "dataset-fashion-mnist"
#define DN_FASHION_SIDE 28
#define DN_FASHION_PIXELS (DN_FASHION_SIDE * DN_FASHION_SIDE)
#define DN_FASHION_CLASSES 10
#define DN_FASHION_TRAIN_N 60000
#define DN_FASHION_TEST_N 10000

/* "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
 * "Ankle boot" for labels 0..9. */
extern const char *const dn_fashion_class_names[DN_FASHION_CLASSES];

typedef struct {
    int n;                 /* images: 60000 (train) or 10000 (test) */
    int test;              /* 0 train split, 1 test split */
    unsigned char *pixels; /* (n, 28, 28) bytes as stored, 0 = background; one allocation with labels */
    unsigned char *labels; /* (n) in 0..9 */
} dn_fashion;

/* Load the train (test = 0) or test (test = 1) split from folder `dir` (NULL: DN_FASHION_DIR),
 * files {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz. A missing, truncated or damaged file is
 * an error naming the file, the problem and the Debian package to (re)install. On failure *d is
 * zeroed. */
int dn_fashion_load(dn_fashion *d, const char *dir, int test);
void dn_fashion_free(dn_fashion *d); /* accepts NULL and a zeroed struct */

/* Gather images idx[0..n-1] as floats x: (n, 1, 28, 28) in [-1, 1] (x = p / 127.5 - 1, so the
 * black background is -1) and their labels y: (n) (y may be NULL). Every idx in [0, d->n). */
void dn_fashion_batch(const dn_fashion *d, float *x, int *y, const long *idx, int n);

#endif
