/* gif.h — animated GIF export of canvases (the viewer's and `diffuse export`'s slide animation),
 * encoded with Debian's giflib. The whole file is built in memory and written atomically.
 * Frames are added one at a time (dn_gif_begin / add / end), so a long animation never needs all
 * its canvases in memory; dn_gif_write does the whole job for frames already in an array.
 *
 * How a frame becomes GIF pixels:
 * - Only the rectangle that changed since the previous frame is stored; inside it, runs of
 *   unchanged pixels are transparent, so a mostly static UI animation costs little per frame.
 *   (Unchanged runs shorter than 8 pixels are stored anyway: scattered transparent pixels break
 *   LZW's runs and cost more than they save.)
 * - Each stored rectangle gets its own palette (a local colour table; the first frame's is the
 *   global one), so a frame's colours are never squeezed by other frames': the exact colours
 *   when there are few enough (at most 256 in the first frame, 255 later as one entry is the
 *   transparent one); else every flat colour covering >= 1/256 of the changed rectangle keeps
 *   an exact entry (backgrounds, bars: they never drift between frames, even where a moving
 *   cursor uncovers them), and the rest is a median cut that minimises squared error, polished
 *   by two k-means rounds.
 * - Greys stay grey: pure greys (r == g == b, e.g. the Fashion images) are clustered apart from
 *   colours and always map to a grey palette entry, so they never pick up a colour cast
 *   (guaranteed for max_colors >= 3: one grey and one colour entry besides the transparent one).
 *   Every grey level present has a grey entry within 4 levels (when 1/8 of the palette allows
 *   it; 29 entries cover all 256 levels), so a rare grey is never shown far off.
 * - Floyd–Steinberg dithering is available but off by default (it speckles antialiased text).
 * The canvas alpha channel is ignored: frames are treated as opaque. */
#ifndef DN_GIF_H
#define DN_GIF_H
#include "canvas.h"
#include "base/fileio.h"

typedef struct {
    int plays;       /* how often a viewer plays the animation: 0 = forever, k >= 1 = k times */
    int dither;      /* 1 = Floyd–Steinberg error diffusion when colours must be reduced */
    int full_frames; /* 1 = store every frame whole (no changed rectangle, no transparency) */
    int max_colors;  /* palette entries per frame, 2..256 (transparency uses one); 0 = 256 */
} dn_gif_options;

/* A GIF being built, one frame at a time (a plain struct: fields may be read, not written;
 * do not copy it after dn_gif_begin, the encoder points at `out`). */
typedef struct {
    int w, h;              /* frame size, fixed by dn_gif_begin */
    int n;                 /* frames added so far */
    dn_gif_options opt;
    dn_buf out;            /* the file so far */
    void *gif;             /* giflib's encoder (GifFileType *) writing into out */
    uint32_t *prev;        /* (h, w) the previous frame as given, to find what changed */
    unsigned char *row;    /* (w) scratch: palette indices of one stored row */
    void *work;            /* scratch for the palette search (colour table, dither rows) */
    int failed;            /* an add failed: dn_gif_end will refuse to write */
} dn_gif;

/* Start a w x h animation (1 <= w, h <= 32768). opt NULL = defaults (loop forever, no dither).
 * Returns 0, or -1 + dn_error (bad size or options, out of memory); then *g needs no free. */
int dn_gif_begin(dn_gif *g, int w, int h, const dn_gif_options *opt);

/* Encode one frame shown for delay_cs hundredths of a second (0..65535; browsers show delays
 * below 2 as 10, so use >= 2). The frame is copied; the caller may reuse it at once.
 * Returns 0, or -1 + dn_error (size differs from the animation's, bad delay, out of memory);
 * after a failure the GIF is spoiled: dn_gif_end refuses to write, call dn_gif_free. */
int dn_gif_add(dn_gif *g, const dn_canvas *frame, int delay_cs);

/* Finish the file and write it to `path` atomically (temporary name, then rename), then free *g.
 * Returns 0, or -1 + dn_error (no frames, an earlier add failed, cannot write); on failure
 * nothing is left under `path` that was not there before, and *g is freed too. */
int dn_gif_end(dn_gif *g, const char *path);

/* Release everything without writing. Accepts NULL and a zeroed or already-freed struct. */
void dn_gif_free(dn_gif *g);

/* The whole job when all frames are in memory: n >= 1 frames of equal size, frame i shown for
 * delay_cs[i] centiseconds (delay_cs NULL = 10 each); loop != 0 plays forever, 0 plays once.
 * Default options otherwise. Returns 0, or -1 + dn_error; never leaves a partial file. */
int dn_gif_write(const char *path, const dn_canvas *frames, int n, const int *delay_cs, int loop);

/* Same with explicit options (NULL = defaults, which loop forever). */
int dn_gif_write_opt(const char *path, const dn_canvas *frames, int n, const int *delay_cs,
                     const dn_gif_options *opt);

#endif
