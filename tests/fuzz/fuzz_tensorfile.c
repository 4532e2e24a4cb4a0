/* fuzz_tensorfile.c — libFuzzer entry point for the file container's reader (dn_tf_parse): any
 * input must be refused or indexed without a crash, a leak or undefined behaviour.
 * fuzz-needs: tensorfile fileio err
 * Random bytes almost never carry a valid CRC-32, which would stop every input at the checksum.
 * So each input is parsed twice: as it is, and with a correct checksum appended (the input is then
 * the file body), which lets the fuzzer reach the metadata and tensor parsing. An indexed file's
 * values are all read once so a sanitizer sees any bad pointer. */
#include "base/tensorfile.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(const uint8_t *data, size_t size) {
    dn_tf f;
    if (dn_tf_parse(&f, data, size, "<fuzz>") == 0) {
        volatile float s = 0.0f;
        for (int i = 0; i < f.n_tensors; i++) {
            float *v = malloc(sizeof(float) * (size_t)f.tensors[i].numel);
            if (!v) break;
            dn_tf_values(&f.tensors[i], v);
            for (long k = 0; k < f.tensors[i].numel; k++) s += v[k];
            free(v);
        }
        for (int i = 0; i < f.n_meta; i++) s += (float)strlen(f.values[i]) + (float)strlen(f.keys[i]);
        (void)s;
        dn_tf_free(&f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    parse(data, size);
    if (size > (64u << 20)) return 0;
    uint8_t *d = malloc(size + 4);
    if (!d) return 0;
    memcpy(d, data, size);
    uint32_t c = (uint32_t)crc32(0L, d, (uInt)size);
    for (int i = 0; i < 4; i++) d[size + i] = (uint8_t)(c >> (8 * i));
    parse(d, size + 4);
    free(d);
    return 0;
}
