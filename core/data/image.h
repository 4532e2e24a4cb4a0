/* image.h — photos in and out: load PNG/JPEG/BMP/GIF/TGA (stb_image) with a clear refusal for
 * anything else, centre-crop and resize to a square, convert bytes <-> floats in [-1, 1], and write
 * PNG atomically with tEXt chunks that record the settings that made the picture.
 *
 * Two layouts meet here:
 *   dn_image.px   (h, w, c) uint8, interleaved, row-major — what files hold and stb_image returns
 *   float x       (c, h, w) in [-1, 1], planar ("CHW") — what the diffusion core computes on
 * Failures return -1 with dn_error() naming the file, the problem and what to do. */
#ifndef DN_IMAGE_H
#define DN_IMAGE_H
#include <stddef.h>

/* Limits, checked from the header before anything is decoded (so a 100000 x 100000 PNG costs
 * nothing). 64 megapixels of RGBA is 256 MB of memory once decoded. */
#ifndef DN_IMAGE_MAX_SIDE /* (overridable at compile time: the fuzzer uses smaller limits) */
#define DN_IMAGE_MAX_SIDE   16384               /* pixels on either side */
#endif
#ifndef DN_IMAGE_MAX_PIXELS
#define DN_IMAGE_MAX_PIXELS (64L * 1024 * 1024)  /* width * height */
#endif
#define DN_IMAGE_MAX_BYTES  ((size_t)320 << 20)  /* file size (an uncompressed 64 MP BMP fits) */
#define DN_IMAGE_MIN_SIDE   2                   /* a 0- or 1-pixel side has nothing to show */

typedef struct {
    int w, h, c;        /* width, height, channels: 1 grey, 3 RGB (2 and 4 add alpha) */
    unsigned char *px;  /* (h, w, c) interleaved, owned; free with dn_image_free */
} dn_image;

/* Load an image file, converted to `channels` (1 grey or 3 RGB; alpha is dropped by stb_image's
 * conversion, so transparent parts show their stored colour). Refuses: a missing or unreadable
 * file, an empty file, a file that is not an image, a format stb_image does not read (TIFF, WebP,
 * HEIC, ...: the message lists the ones that work), a damaged or truncated image, a side below
 * DN_IMAGE_MIN_SIDE, and an image above the limits. On failure *img is zeroed. */
int dn_image_load(dn_image *img, const char *path, int channels);

/* The same from bytes in memory; `name` is only used in messages (e.g. the file name). */
int dn_image_load_mem(dn_image *img, const unsigned char *buf, size_t len, const char *name,
                      int channels);

void dn_image_free(dn_image *img); /* accepts NULL and a zeroed struct */

/* out = the largest centred square of `in`, resized to size x size (stb_image_resize, Mitchell
 * filter for shrinking, done in linear light because the bytes are sRGB). out->c = in->c.
 * 1 <= size <= DN_IMAGE_MAX_SIDE. Returns 0, or -1 (out of memory). */
int dn_image_square(dn_image *out, const dn_image *in, int size);
/* out = the region (x0, y0, sw x sh) of `in` resized to w x h, the same way. */
int dn_image_resize(dn_image *out, const dn_image *in, int x0, int y0, int sw, int sh, int w, int h);

/* uint8 (h, w, c) -> float (c, h, w):  x = p / 127.5 - 1, so 0 -> -1 and 255 -> +1. */
void dn_image_to_float(float *x, const unsigned char *px, int w, int h, int c);

/* One value in [-1, 1] -> one byte: round((v + 1) * 127.5) clipped to [0, 255], NaN -> 0.
 * Written so that NaN fails the first comparison. The one definition of how pixels are shown. */
static inline unsigned char dn_unit_to_byte(float v) {
    float p = (v + 1.0f) * 127.5f + 0.5f;
    return !(p > 0.0f) ? 0 : p >= 255.0f ? 255 : (unsigned char)p;
}

/* float (c, h, w) -> uint8 (h, w, c):  p = round((x + 1) * 127.5) clipped to [0, 255]
 * (NaN -> 0). Values outside [-1, 1], which noisy samples have, saturate to black or white. */
void dn_float_to_image(unsigned char *px, const float *x, int w, int h, int c);

/* Peak signal-to-noise ratio in dB of b against a (n values in [-1, 1], so the peak-to-peak range
 * is 2): 10 log10(4 / MSE), the MSE summed in double; 200 when they are equal. */
double dn_psnr(const float *a, const float *b, long n);

/* One PNG tEXt chunk. key: 1..79 printable Latin-1 characters (no leading/trailing space);
 * value: any text without NUL bytes (keep it ASCII for portable readers). */
typedef struct {
    const char *key;
    const char *value;
} dn_png_text;

/* Encode px (h, w, c), c in 1..4, as PNG in memory (stb_image_write), then insert the tEXt chunks
 * right after IHDR, each with its CRC-32 (zlib). *png is malloc'd; the caller frees it.
 * Returns 0, or -1 (bad key/value, out of memory). */
int dn_png_encode(unsigned char **png, size_t *len, const unsigned char *px, int w, int h, int c,
                  const dn_png_text *text, int ntext);

/* dn_png_encode + dn_write_file_atomic: either the whole file appears under `path` or nothing. */
int dn_png_write(const char *path, const unsigned char *px, int w, int h, int c,
                 const dn_png_text *text, int ntext);

#endif
