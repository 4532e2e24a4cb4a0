/* fileio.h — whole-file reads with a size limit, and atomic writes (temporary name, then rename)
 * so a failed or interrupted write never leaves a partial file under the real name; the byte
 * buffer and the float16 conversion the file formats are built from. */
#ifndef DN_FILEIO_H
#define DN_FILEIO_H
#include <stddef.h>
#include <stdint.h>

/* Read all of `path` into a new buffer (caller frees *data). Refuses files larger than max_bytes.
 * Returns 0, or -1 with dn_error() naming the file and the problem. */
int dn_read_file(const char *path, unsigned char **data, size_t *len, size_t max_bytes);

/* Write `len` bytes to `path` atomically: to "path.tmp.PID" in the same folder, fsync, rename.
 * On failure nothing exists under `path` that was not there before and the temporary is removed. */
int dn_write_file_atomic(const char *path, const void *data, size_t len);

/* Create a folder (and its parents) if missing; fails if it exists and is not a writable folder. */
int dn_make_dir(const char *path);

/* A growable byte buffer for building a file in memory before one atomic write.
 * Zero-initialise it; after a failed allocation `oom` is set and further puts are ignored. */
typedef struct {
    unsigned char *data;
    size_t len, cap;
    int oom;
} dn_buf;
void dn_buf_put(dn_buf *b, const void *src, size_t n);
/* The file formats' two building blocks: a little-endian uint32, and a string as its uint32 length
 * followed by its bytes (no terminator). */
void dn_buf_put_u32(dn_buf *b, uint32_t v);
void dn_buf_put_str(dn_buf *b, const char *s);
void dn_buf_free(dn_buf *b); /* frees data and zeroes the struct */

/* How the weights of a file are stored: float32, or IEEE half precision (float16). */
typedef enum { DN_DTYPE_F32 = 0, DN_DTYPE_F16 = 1 } dn_dtype;
/* Single <-> half precision, round to nearest even (exact for f16 -> f32). */
uint16_t dn_f32_to_f16(float f);
float dn_f16_to_f32(uint16_t h);

#endif
