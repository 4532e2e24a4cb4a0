/* fuzz_model.c — libFuzzer entry point for the model file parser (dn_model_decode: the container
 * of base/tensorfile.h and the version-1 format before it): any input
 * must be refused or loaded without a crash, a leak or undefined behaviour. Built by
 * scripts/fuzz.sh with -fsanitize=fuzzer,address,undefined.
 * Random bytes almost never carry a valid CRC-32, which would stop every input at the checksum.
 * So each input is decoded twice: as it is, and with a correct checksum appended (the input is
 * then the file body), which lets the fuzzer reach the config, metadata and tensor parsing.
 * A loaded model's weights are read once so a sanitizer sees any bad pointer. */
#include "diffusion/model.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const uint8_t *data, size_t size) {
    dn_unet net;
    dn_model_meta meta;
    if (dn_model_decode(&net, &meta, data, size, "<fuzz>") == 0) {
        volatile float s = 0.0f;
        for (long i = 0; i < net.n_params; i++) s += net.param_mem[i];
        (void)s;
        dn_unet_free(&net);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    decode(data, size);
    if (size > DN_MODEL_MAX_BYTES) return 0;
    uint8_t *b = malloc(size + 4);
    if (!b) return 0;
    memcpy(b, data, size);
    uint32_t c = (uint32_t)crc32(0L, data, (uInt)size);
    for (int i = 0; i < 4; i++) b[size + i] = (uint8_t)(c >> (8 * i));
    decode(b, size + 4);
    free(b);
    return 0;
}
