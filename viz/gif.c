/* gif.c — see gif.h. Sections: colour table, nearest colour, palette (pinned flat colours +
 * median cut + k-means), giflib plumbing, frame encoding, public API.
 *
 * A frame goes through: changed rectangle -> histogram of the colours to store (hash table) ->
 * palette (exact colours, or pinned flat colours + median cut) -> one palette index per distinct
 * colour -> rows of indices (or Floyd–Steinberg dithered rows) -> giflib's LZW encoder. */
#include "gif.h"
#include "base/err.h"

#include <gif_lib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RGB_MASK 0xFFFFFFu
#define MAX_CELLS 65536 /* above this many distinct colours the histogram is binned 5:5:5 */
#define KMEANS_ROUNDS 2 /* polish after median cut; more rounds barely change the error */

/* ---------------------------------------------------------------------------------------------
 * Colour table: distinct 24-bit colours of the changed rectangle with their pixel counts, in an
 * open-addressing hash table (linear probing, grows at half load). key = rgb + 1, 0 = empty. */
typedef struct {
    uint32_t key;   /* rgb + 1 */
    uint32_t count; /* stored pixels of this colour (0: it only occurs where left transparent) */
    uint32_t seen;  /* pixels of this colour in the whole rectangle, stored or not */
    int idx;        /* palette index chosen for it; -1 = not yet */
} slot;

/* One point for the palette search: a colour (or a 5:5:5 bin of colours) and its weight. */
typedef struct {
    double w;    /* pixels */
    double s[3]; /* sums of r, g, b over those pixels */
    float m[3];  /* mean colour s / w */
    int grey;    /* all its pixels have r == g == b */
} cell;

/* A median-cut box: cells [lo, hi) with their totals. */
typedef struct {
    int lo, hi;
    double w, s[3], sse;
} box;

typedef struct {
    slot *tab;     /* (tab_cap) of which the first 1 << bits are in use */
    size_t tab_cap;
    int bits;
    size_t used;   /* occupied slots */
    size_t nstored; /* slots with count > 0: distinct colours to store */
    cell *cells;   /* (MAX_CELLS) palette search points */
    int *err;      /* (2, w + 2, 3) Floyd–Steinberg error rows, 16ths of a level */
    unsigned char *mask; /* (w) which pixels of the current row are stored */
    /* the palette of the frame being encoded */
    int npal;
    unsigned char pal[256][3];
    /* palette indices sorted by key, for the nearest-colour search: all, greys, non-greys */
    int list[3][256], nlist[3];
    float axis[3];  /* unit principal axis of the palette */
    float key[256]; /* each entry's projection on it */
} work;

enum { ALL = 0, GREYS = 1, COLOURS = 2 };

/* Position of a colour along the palette's principal axis. */
static float proj(const work *wk, int r, int g, int b) {
    return wk->axis[0] * (float)r + wk->axis[1] * (float)g + wk->axis[2] * (float)b;
}

static uint32_t hash_rgb(uint32_t rgb, int bits) { return (rgb * 2654435761u) >> (32 - bits); }

/* Empty the table and size it at 1 << bits slots; the allocation is kept and reused. */
static int tab_reset(work *wk, int bits) {
    size_t n = (size_t)1 << bits;
    if (n > wk->tab_cap) {
        free(wk->tab);
        wk->tab = malloc(n * sizeof *wk->tab);
        wk->tab_cap = wk->tab ? n : 0;
        if (!wk->tab) return -1;
    }
    memset(wk->tab, 0, n * sizeof *wk->tab);
    wk->bits = bits;
    wk->used = wk->nstored = 0;
    return 0;
}

/* The slot holding rgb, or the empty slot where it would go. */
static slot *tab_find(const work *wk, uint32_t rgb) {
    uint32_t mask = ((uint32_t)1 << wk->bits) - 1, key = rgb + 1;
    for (uint32_t i = hash_rgb(rgb, wk->bits);; i = (i + 1) & mask) {
        slot *s = &wk->tab[i];
        if (s->key == key || s->key == 0) return s;
    }
}

static int tab_grow(work *wk) {
    slot *old = wk->tab;
    size_t n = (size_t)1 << wk->bits;
    wk->tab = calloc(n * 2, sizeof *wk->tab);
    if (!wk->tab) {
        wk->tab = old;
        return -1;
    }
    wk->tab_cap = n * 2;
    wk->bits++;
    for (size_t i = 0; i < n; i++)
        if (old[i].key) *tab_find(wk, old[i].key - 1) = old[i];
    free(old);
    return 0;
}

/* Count `n` more pixels of colour rgb, `stored` of them stored. Returns 0, or -1 when out of memory. */
static int tab_add(work *wk, uint32_t rgb, uint32_t stored, uint32_t n) {
    slot *s = tab_find(wk, rgb);
    if (s->key == 0) {
        if ((wk->used + 1) * 2 > ((size_t)1 << wk->bits)) {
            if (tab_grow(wk) != 0) return -1;
            s = tab_find(wk, rgb);
        }
        s->key = rgb + 1;
        s->idx = -1;
        wk->used++;
    }
    if (s->count == 0 && stored) wk->nstored++;
    s->count += stored;
    s->seen += n;
    return 0;
}

static int is_grey(uint32_t rgb) {
    return ((rgb >> 16) & 255) == ((rgb >> 8) & 255) && ((rgb >> 8) & 255) == (rgb & 255);
}

/* ---------------------------------------------------------------------------------------------
 * Nearest palette colour by squared RGB distance. Candidates are sorted by their projection on
 * the palette's principal axis u (|u| = 1); since |(p - c).u| <= |p - c|, the search walks
 * outward from the source's projection and stops once the projected gap alone exceeds the best. */
static void lists_build(work *wk) {
    /* principal axis of the palette entries: power iteration on their covariance */
    double mean[3] = {0, 0, 0}, cov[3][3] = {{0}};
    for (int i = 0; i < wk->npal; i++)
        for (int k = 0; k < 3; k++) mean[k] += wk->pal[i][k] / (double)wk->npal;
    for (int i = 0; i < wk->npal; i++)
        for (int k = 0; k < 3; k++)
            for (int l = 0; l < 3; l++)
                cov[k][l] += (wk->pal[i][k] - mean[k]) * (wk->pal[i][l] - mean[l]);
    double u[3] = {0.5, 0.7, 0.5}; /* a start that is not orthogonal to typical axes */
    for (int it = 0; it < 16; it++) {
        double v[3], n = 0;
        for (int k = 0; k < 3; k++) {
            v[k] = cov[k][0] * u[0] + cov[k][1] * u[1] + cov[k][2] * u[2];
            n += v[k] * v[k];
        }
        if (n < 1e-12) break; /* one colour, or all equal: keep the start */
        for (int k = 0; k < 3; k++) u[k] = v[k] / sqrt(n);
    }
    double n = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
    for (int k = 0; k < 3; k++) wk->axis[k] = (float)(u[k] / n);
    for (int i = 0; i < wk->npal; i++)
        wk->key[i] = proj(wk, wk->pal[i][0], wk->pal[i][1], wk->pal[i][2]);

    for (int k = 0; k < 3; k++) wk->nlist[k] = 0;
    for (int i = 0; i < wk->npal; i++) {
        const unsigned char *c = wk->pal[i];
        int grey = c[0] == c[1] && c[1] == c[2];
        wk->list[ALL][wk->nlist[ALL]++] = i;
        if (grey) wk->list[GREYS][wk->nlist[GREYS]++] = i;
        else wk->list[COLOURS][wk->nlist[COLOURS]++] = i;
    }
    for (int k = 0; k < 3; k++) { /* insertion sort: at most 256 entries */
        int *l = wk->list[k];
        for (int i = 1; i < wk->nlist[k]; i++) {
            int v = l[i], j = i;
            for (; j > 0 && wk->key[l[j - 1]] > wk->key[v]; j--) l[j] = l[j - 1];
            l[j] = v;
        }
    }
}

static int nearest_in(const work *wk, int which, int r, int g, int b) {
    if (wk->nlist[which] == 0) which = ALL;
    const int *l = wk->list[which];
    int n = wk->nlist[which];
    float p = proj(wk, r, g, b);
    int lo = 0, hi = n; /* first entry with key >= p */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (wk->key[l[mid]] < p) lo = mid + 1;
        else hi = mid;
    }
    int best = l[lo < n ? lo : n - 1], bestd = 1 << 30;
    for (int up = lo, dn = lo - 1; up < n || dn >= 0;) {
        if (up < n) {
            const unsigned char *c = wk->pal[l[up]];
            float gap = wk->key[l[up]] - p;
            int dr = c[0] - r, dg = c[1] - g, db = c[2] - b, d = dr * dr + dg * dg + db * db;
            if (gap * gap >= (float)bestd + 1.0f) up = n; /* all later ones too (+1: rounding) */
            else if (d < bestd) bestd = d, best = l[up++];
            else up++;
        }
        if (dn >= 0) {
            const unsigned char *c = wk->pal[l[dn]];
            float gap = p - wk->key[l[dn]];
            int dr = c[0] - r, dg = c[1] - g, db = c[2] - b, d = dr * dr + dg * dg + db * db;
            if (gap * gap >= (float)bestd + 1.0f) dn = -1;
            else if (d < bestd) bestd = d, best = l[dn--];
            else dn--;
        }
    }
    return best;
}

/* Greys only ever map to grey entries (no colour cast); colours may map to anything. */
static int nearest(const work *wk, int r, int g, int b) {
    return nearest_in(wk, (r == g && g == b) ? GREYS : ALL, r, g, b);
}

/* ---------------------------------------------------------------------------------------------
 * Palette: median cut (Heckbert 1982) that always splits the box with the largest squared error,
 * at the cut along its widest channel that minimises the two halves' total squared error, then
 * two rounds of k-means (Lloyd) over the same points. Greys and colours start in separate boxes
 * and k-means assigns greys only to grey entries, so grey entries stay exactly grey. */
static void box_stats(const cell *c, box *bx) {
    double q[3] = {0, 0, 0};
    bx->w = bx->s[0] = bx->s[1] = bx->s[2] = 0;
    for (int i = bx->lo; i < bx->hi; i++) {
        bx->w += c[i].w;
        for (int k = 0; k < 3; k++) {
            bx->s[k] += c[i].s[k];
            q[k] += c[i].w * (double)c[i].m[k] * (double)c[i].m[k];
        }
    }
    bx->sse = 0;
    for (int k = 0; k < 3; k++) bx->sse += q[k] - bx->s[k] * bx->s[k] / bx->w;
}

static int cmp_r(const void *a, const void *b) {
    float x = ((const cell *)a)->m[0], y = ((const cell *)b)->m[0];
    return (x > y) - (x < y);
}
static int cmp_g(const void *a, const void *b) {
    float x = ((const cell *)a)->m[1], y = ((const cell *)b)->m[1];
    return (x > y) - (x < y);
}
static int cmp_b(const void *a, const void *b) {
    float x = ((const cell *)a)->m[2], y = ((const cell *)b)->m[2];
    return (x > y) - (x < y);
}

/* Split bx into bx (left) and *right. Returns 0 if it cannot be split. */
static int box_split(cell *c, box *bx, box *right) {
    double var[3];
    for (int k = 0; k < 3; k++) {
        double q = 0;
        for (int i = bx->lo; i < bx->hi; i++) q += c[i].w * (double)c[i].m[k] * (double)c[i].m[k];
        var[k] = q - bx->s[k] * bx->s[k] / bx->w;
    }
    int axis = var[1] >= var[0] ? (var[2] > var[1] ? 2 : 1) : (var[2] > var[0] ? 2 : 0);
    int (*cmp[3])(const void *, const void *) = {cmp_r, cmp_g, cmp_b};
    qsort(c + bx->lo, (size_t)(bx->hi - bx->lo), sizeof *c, cmp[axis]);
    /* total squared error of a part = sum over channels of q - s^2 / w; scan every cut */
    double tw = bx->w, ts[3], tq[3], lw = 0, ls[3] = {0, 0, 0}, lq[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        ts[k] = bx->s[k];
        tq[k] = 0;
        for (int i = bx->lo; i < bx->hi; i++) tq[k] += c[i].w * (double)c[i].m[k] * (double)c[i].m[k];
    }
    int cut = -1;
    double best = HUGE_VAL;
    for (int i = bx->lo; i < bx->hi - 1; i++) {
        lw += c[i].w;
        for (int k = 0; k < 3; k++) {
            ls[k] += c[i].s[k];
            lq[k] += c[i].w * (double)c[i].m[k] * (double)c[i].m[k];
        }
        if (c[i].m[axis] == c[i + 1].m[axis]) continue; /* cut between different values only */
        double rw = tw - lw, e = 0;
        for (int k = 0; k < 3; k++)
            e += (lq[k] - ls[k] * ls[k] / lw) +
                 ((tq[k] - lq[k]) - (ts[k] - ls[k]) * (ts[k] - ls[k]) / rw);
        if (e < best) best = e, cut = i + 1;
    }
    if (cut < 0) return 0;
    right->lo = cut;
    right->hi = bx->hi;
    bx->hi = cut;
    box_stats(c, bx);
    box_stats(c, right);
    return 1;
}

static unsigned char round_byte(double v) {
    return (unsigned char)(v <= 0 ? 0 : v >= 255 ? 255 : (int)(v + 0.5));
}

/* Build wk->pal (at most `budget` entries) from wk->cells[0..n); entries [0, npin) are already
 * set and stay as they are. */
static void palette_cut(work *wk, int n, int budget, int npin) {
    cell *c = wk->cells;
    wk->npal = npin;
    budget -= npin;
    if (n == 0 || budget < 1) {
        lists_build(wk);
        return;
    }
    /* greys first: [0, ng) */
    int ng = 0;
    for (int i = 0; i < n; i++)
        if (c[i].grey) {
            cell t = c[i];
            c[i] = c[ng];
            c[ng++] = t;
        }
    box boxes[256];
    int nb = 0;
    if (budget >= 2 && ng > 0 && ng < n) {
        boxes[nb++] = (box){.lo = 0, .hi = ng};
        boxes[nb++] = (box){.lo = ng, .hi = n};
    } else {
        boxes[nb++] = (box){.lo = 0, .hi = n};
    }
    for (int i = 0; i < nb; i++) box_stats(c, &boxes[i]);
    while (nb < budget) {
        int pick = -1;
        for (int i = 0; i < nb; i++)
            if (boxes[i].hi - boxes[i].lo > 1 && boxes[i].sse > 1e-9 &&
                (pick < 0 || boxes[i].sse > boxes[pick].sse))
                pick = i;
        if (pick < 0 || !box_split(c, &boxes[pick], &boxes[nb])) break;
        nb++;
    }
    wk->npal = npin + nb;
    for (int i = 0; i < nb; i++)
        for (int k = 0; k < 3; k++) wk->pal[npin + i][k] = round_byte(boxes[i].s[k] / boxes[i].w);

    /* k-means polish: greys to grey entries, colours to colour entries (either to any if its
     * class has no entry); each entry moves to the mean of what it got */
    for (int it = 0; it < KMEANS_ROUNDS; it++) {
        lists_build(wk);
        double acc[256][4];
        memset(acc, 0, sizeof acc);
        for (int i = 0; i < n; i++) {
            int r = (int)(c[i].m[0] + 0.5f), g = (int)(c[i].m[1] + 0.5f), b = (int)(c[i].m[2] + 0.5f);
            int j = nearest_in(wk, c[i].grey ? GREYS : COLOURS, r, g, b);
            acc[j][0] += c[i].w;
            for (int k = 0; k < 3; k++) acc[j][k + 1] += c[i].s[k];
        }
        for (int j = npin; j < wk->npal; j++)
            if (acc[j][0] > 0)
                for (int k = 0; k < 3; k++) wk->pal[j][k] = round_byte(acc[j][k + 1] / acc[j][0]);
    }
    lists_build(wk);
}

/* Flat colours (each covering at least 1/256 of the changed rectangle, counting the pixels left
 * transparent: backgrounds, bars, panels) that have pixels to store get an exact entry of their
 * own, at most budget / 2 of them, biggest first, so a UI colour never drifts between frames
 * whose palettes differ (the background a moving cursor uncovers). Sets wk->pal[0..npin) and
 * the slots' idx. */
static int pick_pins(work *wk, int budget) {
    size_t cap = (size_t)1 << wk->bits;
    double total = 0;
    for (size_t i = 0; i < cap; i++) total += wk->tab[i].seen;
    int cand[256], nc = 0; /* at most 256 colours can each hold >= 1/256 of the pixels */
    for (size_t i = 0; i < cap && nc < 256; i++)
        if (wk->tab[i].count && (double)wk->tab[i].seen * 256.0 >= total) cand[nc++] = (int)i;
    for (int i = 1; i < nc; i++) { /* by count, largest first */
        int v = cand[i], j = i;
        for (; j > 0 && wk->tab[cand[j - 1]].seen < wk->tab[v].seen; j--) cand[j] = cand[j - 1];
        cand[j] = v;
    }
    int npin = nc < budget / 2 ? nc : budget / 2;
    if (npin > budget - 2) npin = budget < 2 ? 0 : budget - 2; /* room for a grey and a colour box */
    for (int j = 0; j < npin; j++) {
        slot *s = &wk->tab[cand[j]];
        uint32_t rgb = s->key - 1;
        wk->pal[j][0] = (unsigned char)(rgb >> 16);
        wk->pal[j][1] = (unsigned char)(rgb >> 8);
        wk->pal[j][2] = (unsigned char)rgb;
        s->idx = j;
    }
    wk->npal = npin;
    return npin;
}

/* Greys may only use grey entries, so a rare grey far from every grey entry would be badly off
 * (a mid grey shown white). Cover every grey level present with a fixed grey entry within T
 * levels: T = 4 for up to budget / 8 entries (29 cover all 256 levels), larger if it must. Levels
 * within T of a pinned grey are covered already. Appends to wk->pal; returns the new count. */
static int grey_cover(work *wk, int budget) {
    int present[256] = {0}, any = 0;
    size_t cap = (size_t)1 << wk->bits;
    for (size_t i = 0; i < cap; i++) {
        const slot *s = &wk->tab[i];
        if (s->count && s->idx < 0 && is_grey(s->key - 1)) present[(s->key - 1) & 255] = any = 1;
    }
    if (!any) return wk->npal;
    int room = budget / 8 < budget - wk->npal - 2 ? budget / 8 : budget - wk->npal - 2;
    if (room < 1) return wk->npal;
    for (int t = 4; t < 256; t++) {
        int covered[256], n = 0, at[256];
        for (int v = 0; v < 256; v++) {
            covered[v] = !present[v];
            for (int j = 0; j < wk->npal && !covered[v]; j++) {
                const unsigned char *c = wk->pal[j];
                covered[v] = c[0] == c[1] && c[1] == c[2] && abs(c[0] - v) <= t;
            }
        }
        /* greedy on a line: the lowest uncovered level starts a group of the levels in
         * [v, v + 2t]; its entry sits midway between the group's lowest and highest level */
        for (int v = 0; v < 256 && n <= room; v++) {
            if (covered[v]) continue;
            int hi = v;
            for (int u = v; u <= v + 2 * t && u < 256; u++)
                if (!covered[u]) hi = u, covered[u] = 1;
            at[n++] = (v + hi + 1) / 2;
        }
        if (n <= room) {
            for (int j = 0; j < n; j++)
                wk->pal[wk->npal + j][0] = wk->pal[wk->npal + j][1] = wk->pal[wk->npal + j][2] =
                    (unsigned char)at[j];
            return wk->npal + n;
        }
    }
    return wk->npal;
}

/* Points for the palette search from the colour table: one per distinct colour, or, when there
 * are too many, one per 5:5:5 bin (greys keep one bin per level). Returns the count, -1 on OOM. */
static int cells_from_table(work *wk) {
    if (!wk->cells) {
        wk->cells = malloc(MAX_CELLS * sizeof *wk->cells);
        if (!wk->cells) return -1;
    }
    size_t cap = (size_t)1 << wk->bits;
    int n = 0;
    if (wk->nstored - (size_t)wk->npal <= MAX_CELLS) {
        for (size_t i = 0; i < cap; i++) {
            const slot *s = &wk->tab[i];
            if (!s->count || s->idx >= 0) continue; /* nothing to store, or pinned */
            uint32_t rgb = s->key - 1;
            double w = s->count;
            cell *c = &wk->cells[n++];
            c->w = w;
            c->m[0] = (float)((rgb >> 16) & 255);
            c->m[1] = (float)((rgb >> 8) & 255);
            c->m[2] = (float)(rgb & 255);
            for (int k = 0; k < 3; k++) c->s[k] = w * (double)c->m[k];
            c->grey = is_grey(rgb);
        }
        return n;
    }
    /* bins: 0..32767 colours by 5:5:5, 32768..33023 greys; MAX_CELLS >= 33024 */
    cell *c = wk->cells;
    memset(c, 0, 33024 * sizeof *c);
    for (size_t i = 0; i < cap; i++) {
        const slot *s = &wk->tab[i];
        if (!s->count || s->idx >= 0) continue;
        uint32_t rgb = s->key - 1, r = (rgb >> 16) & 255, g = (rgb >> 8) & 255, b = rgb & 255;
        int grey = is_grey(rgb);
        uint32_t bin = grey ? 32768 + r : ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);
        double w = s->count;
        c[bin].w += w;
        c[bin].s[0] += w * r;
        c[bin].s[1] += w * g;
        c[bin].s[2] += w * b;
        c[bin].grey = grey;
    }
    for (int i = 0; i < 33024; i++) {
        if (c[i].w <= 0) continue;
        cell t = c[i];
        for (int k = 0; k < 3; k++) t.m[k] = (float)(t.s[k] / t.w);
        c[n++] = t; /* n <= i: compacting in place is safe */
    }
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * giflib plumbing: the encoder writes into g->out through this function. */
static int gif_out(GifFileType *gf, const GifByteType *data, int len) {
    dn_buf *b = gf->UserData;
    dn_buf_put(b, data, (size_t)len);
    return b->oom ? 0 : len;
}

static const char *gif_err(GifFileType *gf) {
    const char *s = GifErrorString(gf->Error);
    return s ? s : "unknown giflib error";
}

/* NETSCAPE2.0 application extension: sub-block {1, repeat count little-endian}, 0 = forever. */
static int put_loop(GifFileType *gf, int plays) {
    int rep = plays == 0 ? 0 : plays - 1;
    unsigned char sub[3] = {1, (unsigned char)(rep & 255), (unsigned char)((rep >> 8) & 255)};
    if (EGifPutExtensionLeader(gf, APPLICATION_EXT_FUNC_CODE) != GIF_OK) return -1;
    if (EGifPutExtensionBlock(gf, 11, "NETSCAPE2.0") != GIF_OK) return -1;
    if (EGifPutExtensionBlock(gf, 3, sub) != GIF_OK) return -1;
    if (EGifPutExtensionTrailer(gf) != GIF_OK) return -1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Frame encoding. */

/* Which pixels of row y in [x0, x0 + bw) to store (mask 1) or leave transparent (mask 0): the
 * changed ones are stored, and so are unchanged ones in runs shorter than KEEP_RUN, because a few
 * scattered transparent pixels break the colour runs LZW feeds on and cost more than they save.
 * Returns how many are left transparent. */
#define KEEP_RUN 8
static int row_mask(const dn_gif *g, int first, const uint32_t *px, int y, int x0, int bw,
                    unsigned char *mask) {
    if (first) {
        memset(mask, 1, (size_t)bw);
        return 0;
    }
    const uint32_t *a = px + (long)y * g->w + x0, *b = g->prev + (long)y * g->w + x0;
    int ntrans = 0;
    for (int x = 0; x < bw;) {
        if ((a[x] ^ b[x]) & RGB_MASK) {
            mask[x++] = 1;
            continue;
        }
        int e = x + 1;
        while (e < bw && ((a[e] ^ b[e]) & RGB_MASK) == 0) e++;
        int keep = e - x < KEEP_RUN && e - x < bw; /* a whole unchanged row is always left */
        memset(mask + x, keep, (size_t)(e - x));
        if (!keep) ntrans += e - x;
        x = e;
    }
    return ntrans;
}

/* Floyd–Steinberg (1976): the error of each pixel goes 7/16 right, 3/16 down-left, 5/16 down,
 * 1/16 down-right. err rows hold sixteenths; pixels left transparent pass no error on. */
static void dither_row(dn_gif *g, work *wk, const uint32_t *src, int x0, int bw, int trans,
                       int *cur, int *next) {
    memset(next, 0, (size_t)(bw + 2) * 3 * sizeof *next);
    for (int x = 0; x < bw; x++) {
        uint32_t p = src[x0 + x] & RGB_MASK;
        if (!wk->mask[x]) {
            g->row[x] = (unsigned char)trans;
            continue;
        }
        int *e = cur + (x + 1) * 3, v[3];
        int s[3] = {(int)((p >> 16) & 255), (int)((p >> 8) & 255), (int)(p & 255)};
        for (int k = 0; k < 3; k++) {
            int a = e[k] >= 0 ? (e[k] + 8) / 16 : -((-e[k] + 8) / 16);
            v[k] = s[k] + a;
            v[k] = v[k] < 0 ? 0 : v[k] > 255 ? 255 : v[k];
        }
        int j;
        if (s[0] == s[1] && s[1] == s[2]) { /* a grey stays grey: dither its brightness only */
            int m = (v[0] + v[1] + v[2] + 1) / 3;
            v[0] = v[1] = v[2] = m;
            j = nearest_in(wk, GREYS, m, m, m);
        } else {
            j = nearest_in(wk, ALL, v[0], v[1], v[2]);
        }
        g->row[x] = (unsigned char)j;
        for (int k = 0; k < 3; k++) {
            int d = v[k] - wk->pal[j][k];
            e[3 + k] += 7 * d;
            next[x * 3 + k] += 3 * d;
            next[(x + 1) * 3 + k] += 5 * d;
            next[(x + 2) * 3 + k] += d;
        }
    }
}

static int encode_frame(dn_gif *g, const dn_canvas *f, int delay_cs) {
    work *wk = g->work;
    GifFileType *gf = g->gif;
    const uint32_t *px = f->px;
    int first = g->n == 0 || g->opt.full_frames;
    int w = g->w, h = g->h;

    /* 1. the changed rectangle [x0, x1) x [y0, y1) */
    int x0 = 0, y0 = 0, x1 = w, y1 = h;
    if (!first) {
        x0 = w, y0 = h, x1 = -1, y1 = -1;
        for (int y = 0; y < h; y++) {
            const uint32_t *a = px + (long)y * w, *b = g->prev + (long)y * w;
            if (memcmp(a, b, (size_t)w * sizeof *a) == 0) continue;
            int l = 0, r = w - 1;
            while (l < w && ((a[l] ^ b[l]) & RGB_MASK) == 0) l++;
            if (l == w) continue; /* only alpha differed */
            while (((a[r] ^ b[r]) & RGB_MASK) == 0) r--;
            if (l < x0) x0 = l;
            if (r + 1 > x1) x1 = r + 1;
            if (y < y0) y0 = y;
            y1 = y + 1;
        }
        if (x1 < 0) x0 = 0, y0 = 0, x1 = 1, y1 = 1; /* nothing changed: one transparent pixel */
    }
    int bw = x1 - x0, bh = y1 - y0;

    /* 2. colour table of the pixels to store; transparency if some are left as they were */
    int bits = 12; /* start with room for a quarter of the pixels, grow if they are more varied */
    while (bits < 24 && ((size_t)1 << bits) < (size_t)bw * (size_t)bh / 2) bits++;
    if (tab_reset(wk, bits) != 0) return dn_fail("cannot add GIF frame %d: out of memory", g->n);
    int use_trans = 0;
    for (int y = y0; y < y1; y++) {
        const uint32_t *row = px + (long)y * w;
        uint32_t last = 0xFFFFFFFFu, run = 0, stored = 0; /* a run of one colour, stored or not */
        if (row_mask(g, first, px, y, x0, bw, wk->mask)) use_trans = 1;
        for (int x = x0; x <= x1; x++) {
            uint32_t p = x < x1 ? row[x] & RGB_MASK : 0xFFFFFFFFu, st = x < x1 ? wk->mask[x - x0] : 0;
            if (p == last && st == stored) {
                run++;
                continue;
            }
            if (run && tab_add(wk, last, stored ? run : 0, run) != 0)
                return dn_fail("cannot add GIF frame %d: out of memory", g->n);
            last = p, stored = st, run = 1;
        }
    }

    /* 3. palette: the exact colours if they fit, else median cut; then an index per colour */
    int budget = g->opt.max_colors - use_trans;
    size_t cap = (size_t)1 << wk->bits;
    int exact = wk->nstored <= (size_t)budget;
    if (exact) {
        int j = 0;
        for (size_t i = 0; i < cap; i++) {
            slot *s = &wk->tab[i];
            if (!s->count) continue;
            uint32_t rgb = s->key - 1;
            wk->pal[j][0] = (unsigned char)(rgb >> 16);
            wk->pal[j][1] = (unsigned char)(rgb >> 8);
            wk->pal[j][2] = (unsigned char)rgb;
            s->idx = j++;
        }
        wk->npal = j;
        lists_build(wk);
    } else {
        pick_pins(wk, budget);
        int nc = cells_from_table(wk);
        if (nc < 0) return dn_fail("cannot add GIF frame %d: out of memory", g->n);
        int nfixed = grey_cover(wk, budget);
        palette_cut(wk, nc, budget, nfixed);
        for (size_t i = 0; i < cap; i++) {
            slot *s = &wk->tab[i];
            if (!s->count || s->idx >= 0) continue; /* nothing to store, or pinned */
            uint32_t rgb = s->key - 1;
            s->idx = nearest(wk, (int)(rgb >> 16), (int)((rgb >> 8) & 255), (int)(rgb & 255));
        }
    }
    int trans = use_trans ? wk->npal : -1;
    int ncol = wk->npal + use_trans, size = 2;
    while (size < ncol) size *= 2;
    GifColorType colors[256];
    memset(colors, 0, sizeof colors);
    for (int j = 0; j < wk->npal; j++)
        colors[j] = (GifColorType){wk->pal[j][0], wk->pal[j][1], wk->pal[j][2]};
    ColorMapObject *cmap = GifMakeMapObject(size, colors);
    if (!cmap) return dn_fail("cannot add GIF frame %d: out of memory", g->n);

    /* 4. headers: the first frame's palette is the global one, later frames carry their own */
    unsigned char gcb_bytes[4];
    GraphicsControlBlock gcb = {.DisposalMode = DISPOSE_DO_NOT, .UserInputFlag = false,
                                .DelayTime = delay_cs, .TransparentColor = trans};
    EGifGCBToExtension(&gcb, gcb_bytes);
    int ok = 1;
    if (g->n == 0) {
        EGifSetGifVersion(gf, true);
        ok = EGifPutScreenDesc(gf, w, h, 8, 0, cmap) == GIF_OK &&
             (g->opt.plays == 1 || put_loop(gf, g->opt.plays) == 0);
    }
    ok = ok && EGifPutExtension(gf, GRAPHICS_EXT_FUNC_CODE, 4, gcb_bytes) == GIF_OK &&
         EGifPutImageDesc(gf, x0, y0, bw, bh, false, g->n == 0 ? NULL : cmap) == GIF_OK;
    GifFreeMapObject(cmap);

    /* 5. rows of indices */
    int dither = g->opt.dither && !exact;
    int *cur = wk->err, *next = wk->err + (size_t)(w + 2) * 3;
    if (dither) memset(cur, 0, (size_t)(w + 2) * 3 * sizeof *cur);
    for (int y = y0; ok && y < y1; y++) {
        const uint32_t *row = px + (long)y * w;
        row_mask(g, first, px, y, x0, bw, wk->mask);
        if (dither) {
            dither_row(g, wk, row, x0, bw, trans, cur, next);
            int *t = cur;
            cur = next;
            next = t;
        } else {
            uint32_t last = 0xFFFFFFFFu;
            int lastj = 0;
            for (int x = 0; x < bw; x++) {
                uint32_t p = row[x0 + x] & RGB_MASK;
                if (!wk->mask[x]) {
                    g->row[x] = (unsigned char)trans;
                    continue;
                }
                if (p != last) last = p, lastj = tab_find(wk, p)->idx;
                g->row[x] = (unsigned char)lastj;
            }
        }
        ok = EGifPutLine(gf, g->row, bw) == GIF_OK;
    }
    if (!ok) {
        if (g->out.oom) return dn_fail("cannot add GIF frame %d: out of memory for the file", g->n);
        return dn_fail("cannot add GIF frame %d: giflib: %s", g->n, gif_err(gf));
    }

    /* 6. remember the frame to find the next change (only the rectangle can differ) */
    if (!g->opt.full_frames)
        for (int y = y0; y < y1; y++)
            memcpy(g->prev + (long)y * w + x0, px + (long)y * w + x0, (size_t)bw * sizeof *px);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Public API. */
static void work_free(work *wk) {
    if (!wk) return;
    free(wk->tab);
    free(wk->cells);
    free(wk->err);
    free(wk->mask);
    free(wk);
}

void dn_gif_free(dn_gif *g) {
    if (!g) return;
    int err = 0;
    if (g->gif) EGifCloseFile(g->gif, &err); /* frees the encoder; its output is discarded */
    dn_buf_free(&g->out);
    free(g->prev);
    free(g->row);
    work_free(g->work);
    memset(g, 0, sizeof *g);
}

int dn_gif_begin(dn_gif *g, int w, int h, const dn_gif_options *opt) {
    memset(g, 0, sizeof *g);
    if (w < 1 || h < 1 || w > 32768 || h > 32768)
        return dn_fail("cannot start a %dx%d GIF: sides must be 1 to 32768", w, h);
    if (opt) g->opt = *opt;
    if (g->opt.max_colors == 0) g->opt.max_colors = 256;
    if (g->opt.max_colors < 2 || g->opt.max_colors > 256)
        return dn_fail("cannot start a GIF with %d colours: use 2 to 256 (0 = 256)", g->opt.max_colors);
    if (g->opt.plays < 0 || g->opt.plays > 65536)
        return dn_fail("cannot start a GIF played %d times: use 0 (forever) to 65536", g->opt.plays);
    g->w = w;
    g->h = h;
    work *wk = calloc(1, sizeof *wk);
    g->work = wk;
    g->row = malloc((size_t)w);
    if (wk) wk->err = malloc((size_t)2 * (size_t)(w + 2) * 3 * sizeof *wk->err);
    if (wk) wk->mask = malloc((size_t)w);
    if (!g->opt.full_frames) g->prev = malloc((size_t)w * (size_t)h * sizeof *g->prev);
    int err = 0;
    if (wk && wk->err && wk->mask && g->row && (g->prev || g->opt.full_frames))
        g->gif = EGifOpen(&g->out, gif_out, &err);
    if (!g->gif) {
        dn_gif_free(g);
        return dn_fail("cannot start a %dx%d GIF: out of memory", w, h);
    }
    return 0;
}

int dn_gif_add(dn_gif *g, const dn_canvas *frame, int delay_cs) {
    if (g->failed) return dn_fail("cannot add GIF frame %d: an earlier frame failed", g->n);
    if (frame->w != g->w || frame->h != g->h) {
        g->failed = 1;
        return dn_fail("cannot add GIF frame %d: it is %dx%d but the animation is %dx%d "
                       "(render every frame at the same size)", g->n, frame->w, frame->h, g->w, g->h);
    }
    if (delay_cs < 0 || delay_cs > 65535) {
        g->failed = 1;
        return dn_fail("cannot add GIF frame %d: delay %d cs is outside 0..65535", g->n, delay_cs);
    }
    if (encode_frame(g, frame, delay_cs) != 0) {
        g->failed = 1;
        return -1;
    }
    g->n++;
    return 0;
}

int dn_gif_end(dn_gif *g, const char *path) {
    if (g->failed) {
        dn_gif_free(g);
        return dn_fail("cannot write GIF '%s': a frame could not be added", path);
    }
    if (g->n == 0) {
        dn_gif_free(g);
        return dn_fail("cannot write GIF '%s': no frames were added", path);
    }
    int err = 0;
    int rc = EGifCloseFile(g->gif, &err); /* writes the trailer, frees the encoder */
    g->gif = NULL;
    if (rc != GIF_OK || g->out.oom) {
        const char *why = g->out.oom ? "out of memory" : GifErrorString(err);
        dn_gif_free(g);
        return dn_fail("cannot write GIF '%s': %s", path, why ? why : "giflib error");
    }
    rc = dn_write_file_atomic(path, g->out.data, g->out.len);
    dn_gif_free(g);
    return rc;
}

int dn_gif_write_opt(const char *path, const dn_canvas *frames, int n, const int *delay_cs,
                     const dn_gif_options *opt) {
    if (n < 1 || !frames) return dn_fail("cannot write GIF '%s': no frames given", path);
    dn_gif g;
    if (dn_gif_begin(&g, frames[0].w, frames[0].h, opt) != 0)
        return dn_fail_context("cannot write GIF '%s'", path);
    for (int i = 0; i < n; i++)
        if (dn_gif_add(&g, &frames[i], delay_cs ? delay_cs[i] : 10) != 0) {
            dn_gif_free(&g);
            return dn_fail_context("cannot write GIF '%s'", path);
        }
    return dn_gif_end(&g, path);
}

int dn_gif_write(const char *path, const dn_canvas *frames, int n, const int *delay_cs, int loop) {
    dn_gif_options opt = {.plays = loop ? 0 : 1};
    return dn_gif_write_opt(path, frames, n, delay_cs, &opt);
}
