/* fuzz_image.c — libFuzzer target for the image loader (core/data/image.h): any bytes must give either
 * an image or -1 with a one-line message; never a crash, a leak or an out-of-bounds access.
 * A loaded image must also survive our PNG writer: encode, decode, same pixels.
 * Built and run by scripts/fuzz.sh (make fuzz); seeds in tests/fuzz/fuzz_image/.
 * Limits are lowered to 1 megapixel so that one run stays in milliseconds: a 64 KB PNG can claim
 * 20 megapixels of zlib-compressed zeros, and the limit check itself is the same code either way.
 * fuzz-needs: image fileio err
 * fuzz-cflags: -DDN_IMAGE_MAX_PIXELS=1048576L -DDN_IMAGE_MAX_SIDE=4096 */
#include "base/err.h"
#include "data/image.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dn_image img;
    if (dn_image_load_mem(&img, data, size, "fuzz-input", 3) != 0) {
        /* refused: the message must exist and be one line */
        const char *m = dn_error();
        if (!m[0] || strchr(m, '\n')) abort();
        return 0;
    }
    if (img.w < DN_IMAGE_MIN_SIDE || img.h < DN_IMAGE_MIN_SIDE || img.c != 3) abort();
    dn_image sq;
    if (dn_image_square(&sq, &img, 8) == 0) dn_image_free(&sq);
    if ((long)img.w * img.h <= 256L * 256) {
        unsigned char *png;
        size_t len;
        const dn_png_text t = {"fuzz", "round trip"};
        if (dn_png_encode(&png, &len, img.px, img.w, img.h, 3, &t, 1) == 0) {
            dn_image back;
            if (dn_image_load_mem(&back, png, len, "round-trip", 3) != 0) abort();
            if (back.w != img.w || back.h != img.h ||
                memcmp(back.px, img.px, (size_t)img.w * img.h * 3) != 0)
                abort();
            dn_image_free(&back);
            free(png);
        }
    }
    dn_image_free(&img);
    return 0;
}
