/* image.c — see image.h. stb_image, stb_image_resize and stb_image_write come from Debian's libstb
 * (the implementations are in libstb.so, so no STB_*_IMPLEMENTATION here). */
#include "data/image.h"
#include "base/err.h"
#include "base/fileio.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>
#include <zlib.h>

#define FORMATS_OK "PNG, JPEG, BMP, GIF or TGA"

/* ----------------------------------------------------------------------------------------------
 * Recognising the format from the first bytes ("magic numbers"), so that a TIFF or WebP gets
 * "not supported" rather than "not an image", and a damaged PNG gets "damaged" rather than
 * "not an image". TGA has no magic number; stb_image recognises it from its header fields. */

static int starts(const unsigned char *b, size_t n, size_t at, const char *magic, size_t m) {
    return n >= at + m && memcmp(b + at, magic, m) == 0;
}

/* Name of a format stb_image reads, or NULL. */
static const char *format_known(const unsigned char *b, size_t n) {
    if (starts(b, n, 0, "\x89PNG\r\n\x1a\n", 8)) return "PNG";
    if (starts(b, n, 0, "\xff\xd8\xff", 3)) return "JPEG";
    if (starts(b, n, 0, "GIF87a", 6) || starts(b, n, 0, "GIF89a", 6)) return "GIF";
    if (starts(b, n, 0, "BM", 2)) return "BMP";
    return NULL;
}

/* Name of an image format stb_image does NOT read, or NULL. */
static const char *format_unsupported(const unsigned char *b, size_t n) {
    if (starts(b, n, 0, "II*\0", 4) || starts(b, n, 0, "MM\0*", 4) ||
        starts(b, n, 0, "II+\0", 4) || starts(b, n, 0, "MM\0+", 4))
        return "TIFF";
    if (starts(b, n, 0, "RIFF", 4) && starts(b, n, 8, "WEBP", 4)) return "WebP";
    if (starts(b, n, 4, "ftypavif", 8) || starts(b, n, 4, "ftypavis", 8)) return "AVIF";
    if (starts(b, n, 4, "ftyphei", 7) || starts(b, n, 4, "ftypmif1", 8) ||
        starts(b, n, 4, "ftyphev", 7) || starts(b, n, 4, "ftypmsf1", 8))
        return "HEIF/HEIC";
    if (starts(b, n, 0, "\0\0\0\x0cjP  ", 8) || starts(b, n, 0, "\xff\x4f\xff\x51", 4))
        return "JPEG 2000";
    if (starts(b, n, 0, "\xff\x0a", 2) || starts(b, n, 0, "\0\0\0\x0cJXL ", 8)) return "JPEG XL";
    if (starts(b, n, 0, "\0\0\1\0", 4)) return "ICO";
    if (starts(b, n, 0, "qoif", 4)) return "QOI";
    if (starts(b, n, 0, "v/1\1", 4)) return "OpenEXR";
    if (starts(b, n, 0, "%PDF", 4)) return "PDF";
    if (starts(b, n, 0, "<svg", 4) || starts(b, n, 0, "<?xml", 5)) return "SVG/XML";
    return NULL;
}

/* Width and height from the header of a PNG, GIF, BMP or JPEG, read here rather than by stb_image
 * so the size limit is checked first and reported with the real numbers (stb_image refuses huge
 * headers itself, but then only says "unknown image type"). Returns 1 if found. */
static uint32_t be16(const unsigned char *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t le16(const unsigned char *p) { return (uint32_t)p[1] << 8 | p[0]; }
static uint32_t be32(const unsigned char *p) { return be16(p) << 16 | be16(p + 2); }
static uint32_t le32(const unsigned char *p) { return le16(p + 2) << 16 | le16(p); }

static int header_dims(const unsigned char *b, size_t n, const char *fmt, long *w, long *h) {
    if (!fmt) return 0;
    if (!strcmp(fmt, "PNG")) { /* signature, then IHDR: length, "IHDR", width, height (big-endian) */
        if (n < 24 || memcmp(b + 12, "IHDR", 4) != 0) return 0;
        *w = (long)be32(b + 16);
        *h = (long)be32(b + 20);
        return 1;
    }
    if (!strcmp(fmt, "GIF")) { /* logical screen: width, height (little-endian 16-bit) */
        if (n < 10) return 0;
        *w = (long)le16(b + 6);
        *h = (long)le16(b + 8);
        return 1;
    }
    if (!strcmp(fmt, "BMP")) { /* file header (14), then the DIB header; height < 0 = top-down */
        if (n < 26) return 0;
        uint32_t hsize = le32(b + 14);
        if (hsize == 12) {
            *w = (long)le16(b + 18);
            *h = (long)le16(b + 20);
        } else {
            *w = (long)(int32_t)le32(b + 18);
            *h = labs((long)(int32_t)le32(b + 22));
        }
        return 1;
    }
    if (!strcmp(fmt, "JPEG")) { /* walk the marker segments to the first SOFn frame header */
        size_t i = 2;
        while (i + 4 <= n) {
            if (b[i] != 0xff) return 0;
            unsigned m = b[i + 1];
            if (m == 0xff) { i++; continue; } /* fill byte */
            if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) { i += 2; continue; } /* no length */
            if (m == 0xd9 || m == 0xda) return 0; /* end of image / start of scan: no SOF */
            size_t len = be16(b + i + 2);
            if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
                if (i + 9 > n) return 0; /* SOFn: length, precision, height, width */
                *h = (long)be16(b + i + 5);
                *w = (long)be16(b + i + 7);
                return 1;
            }
            i += 2 + len;
        }
    }
    return 0;
}

/* PNG carries a CRC-32 on every chunk, but stb_image does not check them (nor zlib's Adler-32),
 * so a flipped byte in the compressed data can decode "successfully" to wrong pixels. Walk the
 * chunks up to IEND and check each CRC. Returns 0, or -1 with dn_error. */
static int png_check_chunks(const unsigned char *b, size_t n, const char *name) {
    size_t i = 8;
    while (i + 12 <= n) {
        uint32_t len = be32(b + i);
        if (len > n - i - 12) break; /* the chunk runs past the end of the file */
        uint32_t want = be32(b + i + 8 + len);
        if ((uint32_t)crc32(0L, b + i + 4, (uInt)len + 4) != want) {
            char type[5]; /* chunk types are 4 letters; a damaged one may hold any byte */
            for (int k = 0; k < 4; k++) {
                unsigned char ch = b[i + 4 + (size_t)k];
                type[k] = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ? (char)ch : '?';
            }
            type[4] = '\0';
            return dn_fail("cannot read '%s': the PNG is damaged (chunk '%s' at byte %zu fails its "
                           "checksum); re-export or re-download it", name, type, i);
        }
        if (!memcmp(b + i + 4, "IEND", 4)) return 0;
        i += 12 + len;
    }
    return dn_fail("cannot read '%s': the PNG file is truncated (it ends at byte %zu, before its "
                   "IEND chunk); re-export or re-download it", name, n);
}

/* stb_image 2.27 (Debian 12) trusts a JPEG's Huffman tables: a scan that uses a table the file never
 * defines makes it decode with uninitialised memory (it can then abort on an assert, seen by our
 * fuzzer), and a table of more than 256 codes overruns its arrays (stb issue #1289, fixed upstream
 * after 2.27). So walk the segments first: DHT (Huffman tables), DQT (quantisation tables), SOF
 * (frame: components and their quantisation tables), SOS (scan: which tables each component uses),
 * skipping each scan's entropy-coded data (where 0xFF is followed by 0x00 or a restart marker).
 * Anything we cannot follow is left to stb_image, which refuses it or decodes it safely. */
static int jpeg_damaged(const char *name, const char *what) {
    return dn_fail("cannot read '%s': the JPEG is damaged (%s); re-export or re-download it", name,
                   what);
}

static int jpeg_check_tables(const unsigned char *b, size_t n, const char *name) {
    unsigned dht = 0;     /* bit 4*class + id: Huffman table defined (class 0 DC, 1 AC) */
    unsigned dqt = 0;     /* bit id: quantisation table defined */
    int huffman = 1;      /* the frame uses Huffman coding (not arithmetic, which stb refuses) */
    int ncomp = 0, tq[4] = {0};
    size_t i = 2;
    while (i + 4 <= n) {
        if (b[i] != 0xff) return 0;
        unsigned m = b[i + 1];
        if (m == 0xff) { i++; continue; }
        if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) { i += 2; continue; }
        if (m == 0xd9) return 0;
        size_t len = be16(b + i + 2);
        if (len < 2 || len > n - i - 2) return 0; /* stb reports this (or truncation is seen) */
        const unsigned char *seg = b + i + 4;
        size_t sl = len - 2;
        if (m == 0xc4) {
            for (size_t j = 0; j < sl;) {
                if (j + 17 > sl) return jpeg_damaged(name, "a Huffman table is cut short");
                unsigned tc = seg[j] >> 4, th = seg[j] & 15, sum = 0;
                if (tc > 1 || th > 3) return jpeg_damaged(name, "bad Huffman table number");
                for (int k = 1; k <= 16; k++) sum += seg[j + (size_t)k];
                if (sum > 256) return jpeg_damaged(name, "a Huffman table has more than 256 codes");
                if (j + 17 + sum > sl) return jpeg_damaged(name, "a Huffman table is cut short");
                dht |= 1u << (4 * tc + th);
                j += 17 + sum;
            }
        } else if (m == 0xdb) {
            for (size_t j = 0; j < sl;) {
                unsigned pq = seg[j] >> 4, id = seg[j] & 15;
                if (id > 3 || pq > 1) return jpeg_damaged(name, "bad quantisation table");
                dqt |= 1u << id;
                j += 1 + (pq ? 128 : 64);
            }
        } else if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            huffman = m <= 0xc7;
            if (sl < 6) return jpeg_damaged(name, "frame header cut short");
            ncomp = seg[5];
            if (ncomp < 1 || ncomp > 4 || sl < 6 + 3 * (size_t)ncomp)
                return jpeg_damaged(name, "bad frame header");
            for (int k = 0; k < ncomp; k++) tq[k] = seg[6 + 3 * k + 2];
        } else if (m == 0xda) {
            if (!huffman || ncomp == 0) return 0; /* stb refuses arithmetic coding / no frame */
            unsigned ns = sl ? seg[0] : 0;
            if (ns < 1 || ns > 4 || sl < 1 + 2 * (size_t)ns + 3) return jpeg_damaged(name, "bad scan header");
            unsigned ss = seg[1 + 2 * ns], se = seg[2 + 2 * ns], ah = seg[3 + 2 * ns] >> 4;
            for (unsigned k = 0; k < ns; k++) {
                unsigned td = seg[2 + 2 * k] >> 4, ta = seg[2 + 2 * k] & 15;
                /* DC is Huffman-coded in a first DC pass (baseline, or progressive with Ah = 0);
                 * AC whenever the scan covers coefficients past 0 */
                if (ss == 0 && ah == 0 && (td > 3 || !(dht & (1u << td))))
                    return jpeg_damaged(name, "a scan uses a DC Huffman table the file never defines");
                if (se > 0 && (ta > 3 || !(dht & (1u << (4 + ta)))))
                    return jpeg_damaged(name, "a scan uses an AC Huffman table the file never defines");
            }
            for (int k = 0; k < ncomp; k++)
                if (tq[k] > 3 || !(dqt & (1u << tq[k])))
                    return jpeg_damaged(name, "a component uses a quantisation table the file never defines");
            /* skip the entropy-coded data to the next marker */
            i += 2 + len;
            while (i + 1 < n && !(b[i] == 0xff && b[i + 1] != 0 && b[i + 1] != 0xff &&
                                  !(b[i + 1] >= 0xd0 && b[i + 1] <= 0xd7)))
                i++;
            continue;
        }
        i += 2 + len;
    }
    return 0;
}

/* ----------------------------------------------------------------------------------------------
 * Noticing truncation. For PNG and JPEG stb_image reports a file that ends early, but for BMP, TGA
 * and GIF it quietly pretends the missing bytes are zero and returns a picture with a black or
 * garbage tail. So we feed it through read callbacks and watch for a request past the end. */

typedef struct {
    const unsigned char *buf;
    size_t len, pos;
    int starved; /* the decoder asked for bytes the file does not have */
} mem_src;

/* stb_image refills its internal buffer with reads of exactly this many bytes (its buffer_start
 * array), and the last refill of any file is naturally short. Every other read is a request for a
 * definite amount of image data (stbi__getn), so a short one means the file ended too soon. */
#define STB_REFILL_BYTES 128

static int src_read(void *user, char *data, int size) {
    mem_src *s = user;
    size_t left = s->len - s->pos;
    if (size <= 0) return 0;
    if ((size_t)size > left) {
        if (left == 0 || size != STB_REFILL_BYTES) s->starved = 1;
        size = (int)left;
    }
    memcpy(data, s->buf + s->pos, (size_t)size);
    s->pos += (size_t)size;
    return size;
}

static void src_skip(void *user, int n) {
    mem_src *s = user;
    if (n < 0) {
        s->pos = (size_t)-n > s->pos ? 0 : s->pos - (size_t)-n;
    } else if ((size_t)n > s->len - s->pos) {
        s->pos = s->len;
        s->starved = 1;
    } else {
        s->pos += (size_t)n;
    }
}

static int src_eof(void *user) {
    mem_src *s = user;
    return s->pos >= s->len;
}

/* ---------------------------------------------------------------------------------------------- */

void dn_image_free(dn_image *img) {
    if (!img) return;
    free(img->px);
    memset(img, 0, sizeof *img);
}

int dn_image_load_mem(dn_image *img, const unsigned char *buf, size_t len, const char *name,
                      int channels) {
    memset(img, 0, sizeof *img);
    if (channels < 1 || channels > 4)
        return dn_fail("cannot load '%s': asked for %d channels (1 to 4)", name, channels);
    if (len == 0)
        return dn_fail("cannot read '%s': the file is empty (0 bytes); use a " FORMATS_OK " image",
                       name);
    if (len > DN_IMAGE_MAX_BYTES || len > INT_MAX)
        return dn_fail("cannot read '%s': %zu bytes is above the limit of %zu MB; shrink the image",
                       name, len, DN_IMAGE_MAX_BYTES >> 20);
    const char *bad = format_unsupported(buf, len);
    if (bad)
        return dn_fail("cannot read '%s': %s images are not supported; convert it to " FORMATS_OK,
                       name, bad);
    const char *fmt = format_known(buf, len);

    /* 1. The header alone: size checks before any pixel is decoded. */
    long hw = 0, hh = 0;
    if (header_dims(buf, len, fmt, &hw, &hh) && (hw > DN_IMAGE_MAX_SIDE || hh > DN_IMAGE_MAX_SIDE ||
                                                 hw * hh > DN_IMAGE_MAX_PIXELS))
        return dn_fail("cannot use '%s': the image is %ldx%ld pixels, above the limit of %d pixels "
                       "a side and %ld megapixels; shrink it first",
                       name, hw, hh, DN_IMAGE_MAX_SIDE, DN_IMAGE_MAX_PIXELS >> 20);
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(buf, (int)len, &w, &h, &comp)) {
        if (header_dims(buf, len, fmt, &hw, &hh) && (hw == 0 || hh == 0))
            return dn_fail("cannot use '%s': the image is %ldx%ld pixels; need at least %dx%d", name,
                           hw, hh, DN_IMAGE_MIN_SIDE, DN_IMAGE_MIN_SIDE);
        if (fmt)
            return dn_fail("cannot read '%s': the %s header is damaged or truncated; re-export or "
                           "re-download it", name, fmt);
        return dn_fail("cannot read '%s': not an image (not a " FORMATS_OK " file)", name);
    }
    if (w < DN_IMAGE_MIN_SIDE || h < DN_IMAGE_MIN_SIDE)
        return dn_fail("cannot use '%s': the image is %dx%d pixels; need at least %dx%d", name, w, h,
                       DN_IMAGE_MIN_SIDE, DN_IMAGE_MIN_SIDE);
    if (w > DN_IMAGE_MAX_SIDE || h > DN_IMAGE_MAX_SIDE || (long)w * h > DN_IMAGE_MAX_PIXELS)
        return dn_fail("cannot use '%s': the image is %dx%d pixels, above the limit of %d pixels a "
                       "side and %ld megapixels; shrink it first",
                       name, w, h, DN_IMAGE_MAX_SIDE, DN_IMAGE_MAX_PIXELS >> 20);

    if (fmt && !strcmp(fmt, "PNG") && png_check_chunks(buf, len, name) != 0) return -1;
    if (fmt && !strcmp(fmt, "JPEG") && jpeg_check_tables(buf, len, name) != 0) return -1;

    /* 2. Decode, watching for a file that ends before its pixels do. */
    mem_src src = {buf, len, 0, 0};
    const stbi_io_callbacks cb = {src_read, src_skip, src_eof};
    int dw = 0, dh = 0, dc = 0;
    unsigned char *px = stbi_load_from_callbacks(&cb, &src, &dw, &dh, &dc, channels);
    if (src.starved) {
        stbi_image_free(px); /* accepts NULL */
        return dn_fail("cannot read '%s': the %s file is truncated (it ends before its pixels do); "
                       "re-export or re-download it", name, fmt ? fmt : "image");
    }
    if (!px) {
        const char *why = stbi_failure_reason();
        return dn_fail("cannot read '%s': the %s data is damaged (%s); re-export or re-download it",
                       name, fmt ? fmt : "image", why && why[0] ? why : "stb_image cannot decode it");
    }
    if (dw != w || dh != h) { /* header and data disagree: treat as damage, never guess */
        stbi_image_free(px);
        return dn_fail("cannot read '%s': the header says %dx%d but the data is %dx%d (damaged file)",
                       name, w, h, dw, dh);
    }
    /* Own the pixels with malloc/free so callers never need stbi_image_free. */
    size_t nbytes = (size_t)w * (size_t)h * (size_t)channels;
    img->px = malloc(nbytes);
    if (!img->px) {
        stbi_image_free(px);
        return dn_fail("cannot load '%s': out of memory for %zu bytes", name, nbytes);
    }
    memcpy(img->px, px, nbytes);
    stbi_image_free(px);
    img->w = w;
    img->h = h;
    img->c = channels;
    return 0;
}

int dn_image_load(dn_image *img, const char *path, int channels) {
    memset(img, 0, sizeof *img);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (dn_read_file(path, &buf, &len, DN_IMAGE_MAX_BYTES) != 0) return -1;
    int rc = dn_image_load_mem(img, buf, len, path, channels);
    free(buf);
    return rc;
}

int dn_image_resize(dn_image *out, const dn_image *in, int x0, int y0, int sw, int sh, int w, int h) {
    memset(out, 0, sizeof *out);
    if (w < 1 || h < 1 || w > DN_IMAGE_MAX_SIDE || h > DN_IMAGE_MAX_SIDE)
        return dn_fail("cannot resize to %dx%d pixels: use 1 to %d a side", w, h, DN_IMAGE_MAX_SIDE);
    if (x0 < 0 || y0 < 0 || sw < 1 || sh < 1 || x0 + sw > in->w || y0 + sh > in->h)
        return dn_fail("cannot resize: the region %dx%d at (%d, %d) is not inside the %dx%d picture", sw, sh, x0, y0,
                       in->w, in->h);
    size_t stride = (size_t)in->w * (size_t)in->c;
    const unsigned char *src = in->px + (size_t)y0 * stride + (size_t)x0 * (size_t)in->c;
    out->px = malloc((size_t)w * (size_t)h * (size_t)in->c);
    if (!out->px) return dn_fail("cannot resize to %dx%d: out of memory", w, h);
    int alpha = in->c == 4 ? 3 : in->c == 2 ? 1 : STBIR_ALPHA_CHANNEL_NONE;
    if (!stbir_resize_uint8_srgb(src, sw, sh, (int)stride, out->px, w, h, 0, in->c, alpha, 0)) {
        dn_image_free(out);
        return dn_fail("cannot resize to %dx%d: out of memory", w, h);
    }
    out->w = w, out->h = h, out->c = in->c;
    return 0;
}

int dn_image_square(dn_image *out, const dn_image *in, int size) {
    int side = in->w < in->h ? in->w : in->h;
    return dn_image_resize(out, in, (in->w - side) / 2, (in->h - side) / 2, side, side, size, size);
}

void dn_image_to_float(float *x, const unsigned char *px, int w, int h, int c) {
    long hw = (long)w * h;
    for (int ch = 0; ch < c; ch++)
        for (long i = 0; i < hw; i++) x[ch * hw + i] = (float)px[i * c + ch] / 127.5f - 1.0f;
}

void dn_float_to_image(unsigned char *px, const float *x, int w, int h, int c) {
    long hw = (long)w * h;
    for (int ch = 0; ch < c; ch++)
        for (long i = 0; i < hw; i++) px[i * c + ch] = dn_unit_to_byte(x[ch * hw + i]);
}

/* ----------------------------------------------------------------------------------------------
 * PNG writing. stb_image_write makes the PNG (signature, IHDR, IDAT, IEND); we insert tEXt
 * chunks after IHDR. A chunk is: length (4 bytes, big-endian, data only), type (4 ASCII letters),
 * data, CRC-32 of type + data (the same CRC as zlib's crc32). PNG spec, section 5.3 and 11.3.4.3. */

/* stb_image_write's output callback, appending to a dn_buf (core/base/fileio.h). */
static void membuf_put(void *ctx, void *data, int size) {
    if (size > 0) dn_buf_put(ctx, data, (size_t)size);
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* PNG keyword rules: 1..79 bytes of printable Latin-1, no leading, trailing or double spaces. */
static int key_ok(const char *k) {
    size_t n = strlen(k);
    if (n < 1 || n > 79 || k[0] == ' ' || k[n - 1] == ' ') return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)k[i];
        if (!((ch >= 32 && ch <= 126) || ch >= 161)) return 0;
        if (ch == ' ' && k[i + 1] == ' ') return 0;
    }
    return 1;
}

#define PNG_VALUE_MAX (1u << 20)

double dn_psnr(const float *a, const float *b, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        s += d * d;
    }
    double mse = n > 0 ? s / (double)n : 0;
    return mse > 0 ? 10.0 * log10(4.0 / mse) : 200.0;
}

int dn_png_encode(unsigned char **png, size_t *len, const unsigned char *px, int w, int h, int c,
                  const dn_png_text *text, int ntext) {
    *png = NULL;
    *len = 0;
    if (w < 1 || h < 1 || c < 1 || c > 4)
        return dn_fail("cannot encode PNG: bad size %dx%d with %d channels", w, h, c);
    size_t extra = 0;
    for (int i = 0; i < ntext; i++) {
        if (!key_ok(text[i].key))
            return dn_fail("cannot encode PNG: text key '%s' is not a valid PNG keyword (1-79 "
                           "printable characters, no leading/trailing/double spaces)", text[i].key);
        size_t vn = strlen(text[i].value);
        if (vn > PNG_VALUE_MAX)
            return dn_fail("cannot encode PNG: text for '%s' is longer than %u bytes", text[i].key,
                           PNG_VALUE_MAX);
        extra += 12 + strlen(text[i].key) + 1 + vn;
    }
    dn_buf m = {0};
    if (!stbi_write_png_to_func(membuf_put, &m, w, h, c, px, w * c) || m.oom) {
        free(m.data);
        return dn_fail("cannot encode PNG %dx%d: out of memory", w, h);
    }
    /* signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 CRC) */
    const size_t after_ihdr = 8 + 25;
    if (m.len < after_ihdr || memcmp(m.data + 12, "IHDR", 4) != 0) {
        free(m.data);
        return dn_fail("cannot encode PNG: stb_image_write produced no IHDR chunk");
    }
    unsigned char *out = malloc(m.len + extra);
    if (!out) {
        free(m.data);
        return dn_fail("cannot encode PNG %dx%d: out of memory", w, h);
    }
    memcpy(out, m.data, after_ihdr);
    size_t o = after_ihdr;
    for (int i = 0; i < ntext; i++) {
        size_t kn = strlen(text[i].key), vn = strlen(text[i].value);
        put_be32(out + o, (uint32_t)(kn + 1 + vn));
        unsigned char *type = out + o + 4;
        memcpy(type, "tEXt", 4);
        memcpy(type + 4, text[i].key, kn);
        type[4 + kn] = 0; /* the keyword's terminator, then the value without one */
        memcpy(type + 5 + kn, text[i].value, vn);
        uLong crc = crc32(0L, type, (uInt)(4 + kn + 1 + vn));
        put_be32(type + 5 + kn + vn, (uint32_t)crc);
        o += 12 + kn + 1 + vn;
    }
    memcpy(out + o, m.data + after_ihdr, m.len - after_ihdr);
    o += m.len - after_ihdr;
    free(m.data);
    *png = out;
    *len = o;
    return 0;
}

int dn_png_write(const char *path, const unsigned char *px, int w, int h, int c,
                 const dn_png_text *text, int ntext) {
    unsigned char *png;
    size_t len;
    if (dn_png_encode(&png, &len, px, w, h, c, text, ntext) != 0) {
        return dn_fail_context("cannot write '%s'", path);
    }
    int rc = dn_write_file_atomic(path, png, len);
    free(png);
    return rc;
}
