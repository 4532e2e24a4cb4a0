/* fuzz_classifier.c — libFuzzer entry point for the classifier file parser (dn_cls_decode: the
 * container of base/tensorfile.h, and version 1 before it): any input must be refused or loaded
 * without a crash, a leak or undefined behaviour. Built by scripts/fuzz.sh with
 * -fsanitize=fuzzer,address,undefined.
 * As in fuzz_model.c, each input is decoded twice: as it is, and with a correct CRC-32 appended
 * (the input is then the file body), so the fuzzer gets past the checksum to the config, name
 * and weight parsing. A loaded classifier's weights are read once so a sanitizer sees any bad
 * pointer. Seeds: tests/fuzz/fuzz_classifier/ (a tiny float32 and a float16 file).
 */
#include "nets/classifier.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const uint8_t *data, size_t size) {
    dn_classifier m;
    if (dn_cls_decode(&m, data, size, "<fuzz>") == 0) {
        volatile float s = 0.0f;
        for (long i = 0; i < m.n_params; i++) s += m.param_mem[i];
        (void)s;
        dn_cls_free(&m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    decode(data, size);
    if (size > DN_CLS_MAX_BYTES) return 0;
    uint8_t *b = malloc(size + 4);
    if (!b) return 0;
    memcpy(b, data, size);
    uint32_t c = (uint32_t)crc32(0L, data, (uInt)size);
    for (int i = 0; i < 4; i++) b[size + i] = (uint8_t)(c >> (8 * i));
    decode(b, size + 4);
    free(b);
    return 0;
}
