/* photos.h — real photographs for the autoencoder: it must encode any picture, not only the
 * cartoons, so it also trains on 64x64 crops of the nature photos Debian's mate-backgrounds
 * package ships (free-licensed, /usr/share/backgrounds/mate/nature). Each photo is loaded once and
 * kept at several scales (its short side 64, 128, 256 and 512 pixels: a crop shows the whole
 * scene or a close-up); a crop is a random scale, a random place and a random mirror.
 *
 * Split: the photos in name order, every fourth (the 4th, 8th, ...) is held out for measuring and
 * never trained on. The test split's crops are fixed: crop i comes from stream i of a seed. */
#ifndef DN_PHOTOS_H
#define DN_PHOTOS_H
#include <stdint.h>

#define DN_PHOTOS_DIR "/usr/share/backgrounds/mate/nature"
#define DN_PHOTOS_MAX 64
#define DN_PHOTOS_SCALES 4

typedef struct {
    int n;                                    /* photos in the split */
    char names[DN_PHOTOS_MAX][64];            /* file names, e.g. "Aqua.jpg" */
    int w[DN_PHOTOS_MAX][DN_PHOTOS_SCALES];   /* size of each scale */
    int h[DN_PHOTOS_MAX][DN_PHOTOS_SCALES];
    unsigned char *px[DN_PHOTOS_MAX][DN_PHOTOS_SCALES]; /* (h, w, 3) */
    int n_total;                              /* photos in the folder (both splits) */
} dn_photos;

/* Load the train (test = 0) or held-out (test = 1) photos of dir (NULL: DN_PHOTOS_DIR; the
 * JPEG and PNG files in it). -1 + dn_error() when the folder is missing (names the package to
 * install), holds fewer than 4 photos, or a photo does not load. On failure *p is zeroed. */
int dn_photos_open(dn_photos *p, const char *dir, int test);
void dn_photos_close(dn_photos *p); /* accepts a zeroed struct */

/* One random side x side crop (side <= 64) into rgb (3, side, side) in [-1, 1], drawn from stream
 * (seed, index): the same arguments give the same crop. */
void dn_photos_crop(const dn_photos *p, float *rgb, int side, uint64_t seed, uint64_t index);

#endif
