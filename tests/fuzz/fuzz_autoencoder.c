/* fuzz_autoencoder.c — libFuzzer entry point for the autoencoder file parser (dn_ae_decode_file:
 * the container of base/tensorfile.h, then the config entries, the scale factor, the measured
 * PSNRs and the weights): any input must be refused or loaded without a crash, a leak or undefined
 * behaviour. Built by scripts/fuzz.sh. Each input is decoded as it is and with a correct CRC-32
 * appended (as fuzz_model.c does), so the fuzzer gets past the checksum. A loaded autoencoder's
 * weights are summed, and a 1-picture decode of a zero latent runs, so a sanitizer sees any bad
 * size. Seeds: tests/fuzz/fuzz_autoencoder/ (tiny float32 and float16 files). */
#include "nets/autoencoder.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const uint8_t *data, size_t size) {
    dn_autoencoder m;
    if (dn_ae_decode_file(&m, data, size, "<fuzz>") != 0) return;
    volatile float s = 0.0f;
    for (long i = 0; i < m.n_params; i++) s += m.param_mem[i];
    (void)s;
    int f = dn_ae_factor(&m.cfg);
    dn_ae_acts a;
    if (m.n_params < 200000 && dn_ae_acts_alloc(&a, &m, 1, f, f) == 0) {
        float *z = calloc((size_t)m.cfg.latent_channels, sizeof(float));
        float *x = malloc((size_t)m.cfg.in_channels * (size_t)f * (size_t)f * sizeof(float));
        if (z && x) dn_ae_decode(&m, &a, x, z, 1);
        free(z), free(x);
        dn_ae_acts_free(&a);
    }
    dn_ae_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    decode(data, size);
    if (size > DN_AE_MAX_BYTES) return 0;
    uint8_t *b = malloc(size + 4);
    if (!b) return 0;
    memcpy(b, data, size);
    uint32_t c = (uint32_t)crc32(0L, data, (uInt)size);
    for (int i = 0; i < 4; i++) b[size + i] = (uint8_t)(c >> (8 * i));
    decode(b, size + 4);
    free(b);
    return 0;
}
