/* pets.c — cartoon cat and dog faces, drawn with signed distances and supersampled; see pets.h.
 *
 * Sections: colours and names / drawing the random choices (the "genome" of one face) /
 * shapes (signed distance functions) / shading one point / rendering and batches. */
#include "data/pets.h"
#include "base/rng.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- colours and names --------------------------------------------------------------------------- */

typedef struct {
    float r, g, b;
} col;

const char *const dn_pets_class_names[DN_PETS_CLASSES] = {"cat", "dog"};
const char *const dn_pet_fur_names[DN_PET_NFUR] = {"orange", "black", "white", "grey",
                                                   "brown",  "cream", "golden", "tan"};
const float dn_pet_fur_rgb[DN_PET_NFUR][3] = {
    {0.95f, 0.56f, 0.20f}, {0.17f, 0.16f, 0.16f}, {0.97f, 0.96f, 0.94f}, {0.56f, 0.58f, 0.62f},
    {0.50f, 0.31f, 0.17f}, {0.96f, 0.87f, 0.68f}, {0.88f, 0.67f, 0.30f}, {0.76f, 0.58f, 0.42f},
};
const char *const dn_pet_pattern_names[DN_PET_NPATTERNS] = {"plain", "tabby", "patches", "spots"};
const char *const dn_pet_ears_names[DN_PET_NEARS] = {"pointed", "floppy", "upright"};
const char *const dn_pet_background_names[DN_PET_NBACKGROUND] = {
    "blue", "green", "pink", "purple", "yellow", "teal", "peach", "grey",
    "black", "white", "orange", "brown", "red"};
const float dn_pet_background_rgb[DN_PET_NBACKGROUND][3] = {
    {0.55f, 0.75f, 0.96f}, {0.60f, 0.86f, 0.55f}, {0.98f, 0.72f, 0.80f}, {0.74f, 0.64f, 0.93f},
    {0.98f, 0.91f, 0.48f}, {0.38f, 0.74f, 0.74f}, {0.99f, 0.78f, 0.62f}, {0.80f, 0.80f, 0.82f},
    {0.14f, 0.14f, 0.16f}, {0.96f, 0.96f, 0.95f}, {0.98f, 0.60f, 0.24f}, {0.54f, 0.35f, 0.21f},
    {0.86f, 0.28f, 0.26f},
};
const char *const dn_pet_eyes_names[DN_PET_NEYES] = {"green", "yellow", "blue", "amber", "brown"};
const float dn_pet_eyes_rgb[DN_PET_NEYES][3] = {
    {0.42f, 0.80f, 0.28f}, {0.96f, 0.86f, 0.22f}, {0.42f, 0.70f, 0.98f}, {0.96f, 0.58f, 0.12f},
    {0.28f, 0.16f, 0.07f},
};
static const col PINK = {0.96f, 0.62f, 0.68f};    /* cat nose, inner ears */
static const col TONGUE = {0.90f, 0.30f, 0.40f};  /* dog tongue */
static const col NOSE_DOG = {0.10f, 0.08f, 0.08f};
static const col WHITE = {0.98f, 0.98f, 0.97f};

static col rgb(float r, float g, float b) {
    col c = {r, g, b};
    return c;
}
static col tab(const float t[3]) { return rgb(t[0], t[1], t[2]); }
#define FUR(i) tab(dn_pet_fur_rgb[i])
#define BACKGROUND(i) tab(dn_pet_background_rgb[i])
#define EYES(i) tab(dn_pet_eyes_rgb[i])
static col scale(col c, float k) {
    return rgb(fminf(c.r * k, 1.0f), fminf(c.g * k, 1.0f), fminf(c.b * k, 1.0f));
}
static col mix(col a, col b, float t) {
    return rgb(a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t);
}
static float dist(col a, col b) {
    return sqrtf((a.r - b.r) * (a.r - b.r) + (a.g - b.g) * (a.g - b.g) + (a.b - b.b) * (a.b - b.b));
}
static float luma(col c) { return 0.299f * c.r + 0.587f * c.g + 0.114f * c.b; }

/* ---- the random choices of one face ---------------------------------------------------------------
 * Everything is in face-local units: origin at the head centre, head radius about 1, y down. */

#define MAX_SPOTS 9

typedef struct {
    dn_pet_attr a;
    float cosa, sina, inv_r;          /* pixel -> local transform */
    col bg_top, bg_bottom;
    col fur, fur_dark, fur2, outline, ear_col, ear_inner, muzzle, eye, line, whisker;
    float hx, hy;                     /* head half-width and half-height */
    float ear_in, ear_out, ear_base, ear_tipx, ear_tipy; /* cat / upright ears (right side) */
    float flop_tx, flop_ty, flop_bx, flop_by, flop_w;  /* floppy ear: top, bottom, half-width */
    float eye_x, eye_y, eye_w, eye_h, eye_tilt, eye_cos, eye_sin, pupil_w;
    float nose_y, nose_w, nose_h;
    float muzzle_y, muzzle_rx, muzzle_ry;
    float tongue_x, tongue_w, tongue_h;
    float whisker_len, whisker_fan;
    int npatch;                       /* patches/spots: circles of fur2 */
    float px[MAX_SPOTS], py[MAX_SPOTS], pr[MAX_SPOTS];
    int tuxedo;                       /* cat patches: lower face in the second colour */
    int blaze;                        /* dog patches: a second-colour stripe down the forehead */
    /* version 2 only */
    int v2;
    float light;                      /* strength of the light from the upper left */
    float fur_tex;                    /* amplitude of the soft fur texture */
    int bg_tex;                       /* background texture: 0 none, 1 dots, 2 stripes, 3 clouds */
    float bg_amp, bg_period, bg_phase;
    uint32_t noise;                   /* seed of the textures */
} pet;

static float uni(dn_rng *r, float lo, float hi) { return lo + (hi - lo) * dn_rng_uniform(r); }

/* A colour with a little per-image brightness (lo..hi) and hue (+-d a channel) jitter. */
static col jitter_by(dn_rng *r, col c, float lo, float hi, float d) {
    float k = uni(r, lo, hi);
    col j = rgb(c.r * k + uni(r, -d, d), c.g * k + uni(r, -d, d), c.b * k + uni(r, -d, d));
    j.r = fminf(fmaxf(j.r, 0.0f), 1.0f), j.g = fminf(fmaxf(j.g, 0.0f), 1.0f), j.b = fminf(fmaxf(j.b, 0.0f), 1.0f);
    return j;
}
/* fur colours (the name stays) */
static col jitter(dn_rng *r, col c) { return jitter_by(r, c, 0.90f, 1.08f, 0.03f); }
/* version 2's backgrounds: half the jitter, so that white stays white and grey grey */
static col jitter_soft(dn_rng *r, col c) { return jitter_by(r, c, 0.95f, 1.04f, 0.015f); }

/* A second colour that stands out against the first. */
static int contrasting_fur(dn_rng *r, int fur) {
    for (;;) {
        int f = (int)dn_rng_below(r, DN_PET_NFUR);
        if (dist(FUR(f), FUR(fur)) > 0.45f) return f;
    }
}

/* The draws happen in a fixed order so that (seed, index) always gives the same face. */
static void choose(pet *p, int version, uint64_t seed, uint64_t index) {
    dn_rng rr, *r = &rr;
    dn_rng_seed(r, seed, index);
    memset(p, 0, sizeof *p);
    dn_pet_attr *a = &p->a;
    int v2 = p->v2 = version >= 2;
    a->version = v2 ? 2 : 1;
    int dog = (int)dn_rng_below(r, 2);
    a->species = dog ? DN_PET_DOG : DN_PET_CAT;
    a->fur = (int)dn_rng_below(r, DN_PET_NFUR);
    a->fur2 = -1;
    do a->background = (int)dn_rng_below(r, v2 ? DN_PET_NBACKGROUND : DN_PET_NBACKGROUND_V1);
    while (dist(BACKGROUND(a->background), FUR(a->fur)) < (v2 ? 0.36f : 0.30f) ||
           (v2 && !strcmp(dn_pet_background_names[a->background], dn_pet_fur_names[a->fur])));

    /* placement: cats' ears stick up, so their head sits a little lower (in units of 1/32 of the
     * side; version 2 ranges wider) */
    a->radius = v2 ? uni(r, 7.6f, 10.8f) : uni(r, 8.2f, 10.4f);
    a->cx = 16.0f + (v2 ? uni(r, -3.0f, 3.0f) : uni(r, -2.2f, 2.2f));
    a->cy = (dog ? 16.2f : 18.0f) + (v2 ? uni(r, -2.0f, 2.0f) : uni(r, -1.6f, 1.6f));
    a->angle = v2 ? uni(r, -18.0f, 18.0f) : uni(r, -14.0f, 14.0f);
    float th = a->angle * 3.14159265f / 180.0f;
    p->cosa = cosf(th), p->sina = sinf(th), p->inv_r = 1.0f / a->radius;

    p->bg_top = v2 ? jitter_soft(r, BACKGROUND(a->background)) : scale(jitter(r, BACKGROUND(a->background)), 1.05f);
    p->bg_bottom = scale(p->bg_top, uni(r, 0.82f, 0.92f));
    p->fur = jitter(r, FUR(a->fur));
    p->fur_dark = scale(p->fur, 0.62f);
    p->outline = a->fur == 1 ? rgb(0.05f, 0.05f, 0.05f) : scale(p->fur, 0.42f);
    p->line = a->fur == 1 ? rgb(0.45f, 0.40f, 0.40f) : scale(p->fur, 0.35f);
    p->whisker = luma(p->fur) > 0.55f ? rgb(0.22f, 0.20f, 0.20f) : rgb(0.96f, 0.96f, 0.94f);

    if (!dog) {
        p->hx = uni(r, 0.98f, 1.08f);
        p->hy = uni(r, 0.84f, 0.94f);
        a->ears = DN_PET_EARS_POINTED;
        p->ear_in = uni(r, 0.12f, 0.28f);
        p->ear_out = uni(r, 0.88f, 1.0f);
        p->ear_base = uni(r, -0.30f, -0.15f);
        p->ear_tipx = uni(r, 0.62f, 0.92f);
        p->ear_tipy = -uni(r, 1.35f, 1.62f);
        p->ear_col = p->fur;
        p->ear_inner = PINK;
        int pat = (int)dn_rng_below(r, v2 ? 4 : 3); /* plain, tabby, patches (version 2: spots) */
        a->pattern = pat;
        a->eyes = (int)dn_rng_below(r, 4);
        p->eye = jitter(r, EYES(a->eyes));
        p->eye_x = uni(r, 0.34f, 0.44f);
        p->eye_y = uni(r, -0.14f, -0.02f);
        p->eye_w = uni(r, 0.20f, 0.26f);
        p->eye_h = uni(r, 0.12f, 0.17f);
        p->eye_tilt = uni(r, 0.12f, 0.32f);
        p->eye_cos = cosf(p->eye_tilt), p->eye_sin = sinf(p->eye_tilt);
        p->pupil_w = uni(r, 0.045f, 0.075f);
        p->nose_y = uni(r, 0.18f, 0.28f);
        p->nose_w = uni(r, 0.09f, 0.12f);
        p->nose_h = uni(r, 0.07f, 0.10f);
        p->whisker_len = uni(r, 1.15f, 1.45f);
        p->whisker_fan = uni(r, 0.08f, 0.16f);
        if (pat == DN_PET_PATCHES) {
            a->fur2 = contrasting_fur(r, a->fur);
            p->fur2 = jitter(r, FUR(a->fur2));
            p->tuxedo = (int)dn_rng_below(r, 2);
            p->npatch = 1 + (int)dn_rng_below(r, 2);
            for (int i = 0; i < p->npatch; i++) {
                /* on the crown or one cheek, off the eyes (patches over both eyes read as glasses) */
                float s = dn_rng_below(r, 2) ? 1.0f : -1.0f;
                if (dn_rng_below(r, 2))
                    p->px[i] = s * uni(r, 0.3f, 0.8f), p->py[i] = uni(r, -1.0f, -0.7f), p->pr[i] = uni(r, 0.3f, 0.45f);
                else
                    p->px[i] = s * uni(r, 0.8f, 1.0f), p->py[i] = uni(r, 0.0f, 0.4f), p->pr[i] = uni(r, 0.3f, 0.45f);
            }
        } else if (pat == DN_PET_SPOTS) { /* a spotted cat: small dark rosettes on the crown and cheeks */
            a->fur2 = contrasting_fur(r, a->fur);
            p->fur2 = jitter(r, FUR(a->fur2));
            p->npatch = 5 + (int)dn_rng_below(r, MAX_SPOTS - 4);
            for (int i = 0; i < p->npatch; i++) {
                float s = dn_rng_below(r, 2) ? 1.0f : -1.0f;
                if (dn_rng_below(r, 2))
                    p->px[i] = uni(r, -0.6f, 0.6f), p->py[i] = uni(r, -0.85f, -0.4f);
                else
                    p->px[i] = s * uni(r, 0.65f, 0.95f), p->py[i] = uni(r, -0.2f, 0.45f);
                p->pr[i] = uni(r, 0.06f, 0.10f);
            }
        }
    } else {
        p->hx = uni(r, 0.86f, 0.98f);
        p->hy = uni(r, 0.94f, 1.06f);
        a->ears = dn_rng_below(r, 4) == 0 ? DN_PET_EARS_UPRIGHT : DN_PET_EARS_FLOPPY;
        if (a->ears == DN_PET_EARS_UPRIGHT) {
            /* wide, leaning outwards, round-tipped, no pink: a shepherd's ears, not a cat's */
            p->ear_in = uni(r, 0.22f, 0.36f);
            p->ear_out = uni(r, 0.88f, 0.98f);
            p->ear_base = uni(r, -0.30f, -0.12f);
            p->ear_tipx = uni(r, 1.00f, 1.22f);
            p->ear_tipy = -uni(r, 1.22f, 1.42f);
        } else {
            p->flop_tx = uni(r, 0.55f, 0.75f);
            p->flop_ty = uni(r, -0.85f, -0.65f);
            p->flop_bx = uni(r, 0.95f, 1.20f);
            p->flop_by = uni(r, 0.20f, 0.60f);
            p->flop_w = uni(r, 0.24f, 0.34f);
        }
        int pat = (int)dn_rng_below(r, 3); /* plain, patches, spots */
        a->pattern = pat == 0 ? DN_PET_PLAIN : pat == 1 ? DN_PET_PATCHES : DN_PET_SPOTS;
        a->eyes = 4;
        p->eye = jitter(r, EYES(4));
        p->eye_x = uni(r, 0.30f, 0.40f);
        p->eye_y = uni(r, -0.28f, -0.12f);
        p->eye_w = uni(r, 0.12f, 0.16f);
        p->muzzle_y = uni(r, 0.38f, 0.50f);
        p->muzzle_rx = uni(r, 0.42f, 0.56f);
        p->muzzle_ry = uni(r, 0.32f, 0.42f);
        p->nose_w = uni(r, 0.16f, 0.22f);
        p->nose_h = uni(r, 0.10f, 0.14f);
        a->tongue = dn_rng_below(r, 10) != 0 || a->ears == DN_PET_EARS_UPRIGHT;
        p->tongue_x = uni(r, -0.06f, 0.06f);
        p->tongue_w = uni(r, 0.13f, 0.18f);
        p->tongue_h = uni(r, 0.18f, 0.28f);
        col light = a->fur == 2 || a->fur == 5 ? rgb(1.0f, 0.98f, 0.95f) : rgb(0.97f, 0.92f, 0.82f);
        p->muzzle = mix(p->fur, light, uni(r, 0.45f, 0.75f));
        if (pat != 0) {
            a->fur2 = contrasting_fur(r, a->fur);
            p->fur2 = jitter(r, FUR(a->fur2));
        }
        if (a->pattern == DN_PET_PATCHES) {
            p->blaze = (int)dn_rng_below(r, 2);
            p->npatch = 1;
            float s = dn_rng_below(r, 2) ? 1.0f : -1.0f;
            if (dn_rng_below(r, 2)) /* a patch around one eye */
                p->px[0] = s * p->eye_x, p->py[0] = p->eye_y, p->pr[0] = uni(r, 0.26f, 0.36f);
            else /* a big patch over one side of the head */
                p->px[0] = s * uni(r, 0.6f, 0.9f), p->py[0] = uni(r, -0.7f, -0.3f), p->pr[0] = uni(r, 0.5f, 0.7f);
        } else if (a->pattern == DN_PET_SPOTS) {
            p->npatch = 5 + (int)dn_rng_below(r, MAX_SPOTS - 4);
            for (int i = 0; i < p->npatch; i++)
                p->px[i] = uni(r, -0.85f, 0.85f), p->py[i] = uni(r, -0.9f, 0.2f), p->pr[i] = uni(r, 0.07f, 0.13f);
        }
        /* ears: darker than the head, or the second colour */
        p->ear_col = a->fur2 >= 0 && dn_rng_below(r, 2) ? p->fur2 : scale(p->fur, a->fur == 1 ? 1.5f : 0.72f);
        if (a->fur == 2 && a->fur2 < 0) p->ear_col = jitter(r, FUR(dn_rng_below(r, 2) ? 4 : 7));
        p->ear_inner = scale(p->ear_col, 0.7f);
    }
    if (!v2) return;
    /* version 2's extra draws come after all of version 1's */
    if (dog) {
        int e = (int)dn_rng_below(r, 10);
        a->eyes = e == 0 ? 2 : e == 1 ? 3 : 4; /* a few blue- or amber-eyed dogs */
        p->eye = jitter(r, EYES(a->eyes));
        a->mouth_open = a->tongue;
    } else {
        a->mouth_open = dn_rng_below(r, 4) == 0;
    }
    p->light = uni(r, 0.10f, 0.20f);
    p->fur_tex = uni(r, 0.02f, 0.05f);
    p->bg_tex = (int)dn_rng_below(r, 4);
    p->bg_amp = uni(r, 0.03f, 0.07f);
    p->bg_period = uni(r, 3.0f, 5.0f);
    p->bg_phase = uni(r, 0.0f, 1.0f);
    p->noise = dn_rng_below(r, 0x7fffffffu);
}

/* ---- shapes: signed distances (negative inside) in local units ------------------------------------ */

static float vlen(float x, float y) { return sqrtf(x * x + y * y); } /* hypotf guards overflow we cannot have */
static float sd_circle(float x, float y, float cx, float cy, float rad) { return vlen(x - cx, y - cy) - rad; }

/* Ellipse (cheap approximation, exact on the axes; good enough for fills and thin outlines). */
static float sd_ellipse(float x, float y, float cx, float cy, float rx, float ry) {
    float u = (x - cx) / rx, v = (y - cy) / ry;
    float k0 = sqrtf(u * u + v * v);
    float k1 = sqrtf(u * u / (rx * rx) + v * v / (ry * ry));
    return k1 > 0.0f ? k0 * (k0 - 1.0f) / k1 : -fminf(rx, ry);
}

static float sd_segment(float x, float y, float ax, float ay, float bx, float by, float w) {
    float ex = bx - ax, ey = by - ay, vx = x - ax, vy = y - ay;
    float t = (vx * ex + vy * ey) / (ex * ex + ey * ey);
    t = fminf(fmaxf(t, 0.0f), 1.0f);
    return vlen(vx - ex * t, vy - ey * t) - w;
}

static float edge(float x, float y, float ax, float ay, float bx, float by) {
    return (bx - ax) * (y - ay) - (by - ay) * (x - ax);
}

static float sd_triangle(float x, float y, float ax, float ay, float bx, float by, float cx, float cy) {
    float d = fminf(sd_segment(x, y, ax, ay, bx, by, 0.0f),
                    fminf(sd_segment(x, y, bx, by, cx, cy, 0.0f), sd_segment(x, y, cx, cy, ax, ay, 0.0f)));
    float e0 = edge(x, y, ax, ay, bx, by), e1 = edge(x, y, bx, by, cx, cy), e2 = edge(x, y, cx, cy, ax, ay);
    int inside = (e0 >= 0 && e1 >= 0 && e2 >= 0) || (e0 <= 0 && e1 <= 0 && e2 <= 0);
    return inside ? -d : d;
}

/* Ellipse whose long axis runs from (ax,ay) to (bx,by), half-width w (a hanging ear). */
static float sd_ear_ellipse(float x, float y, float ax, float ay, float bx, float by, float w) {
    float mx = 0.5f * (ax + bx), my = 0.5f * (ay + by);
    float len = 0.5f * vlen(bx - ax, by - ay);
    float ux = (bx - ax) / (2 * len), uy = (by - ay) / (2 * len);
    float dx = x - mx, dy = y - my;
    float along = dx * ux + dy * uy, across = -dx * uy + dy * ux;
    return sd_ellipse(along, across, 0, 0, len, w);
}

/* Almond (cat eye): inside where |v|/h + (u/w)^2 < 1 in the eye's tilted frame. */
static float sd_almond(float u, float v, float w, float h) {
    float f = fabsf(v) / h + (u / w) * (u / w) - 1.0f;
    return f * h * 0.8f;
}

/* ---- shading one point ------------------------------------------------------------------------------ */

#define OUTLINE 0.075f /* outline width in local units (about 0.7 pixel) */

/* paint a filled shape with an outline of `line` just outside it */
#define PAINT(d, fill, line, w)        \
    do {                               \
        float d_ = (d);                \
        if (d_ < 0.0f) c = (fill);     \
        else if (d_ < (w)) c = (line); \
    } while (0)

static void pointed_ears(const pet *p, float x, float y, col *cp, int cat) {
    col c = *cp;
    float s = x < 0 ? -1.0f : 1.0f; /* the ear on this side */
    float sx = s * x;
    float ax = p->ear_in, ay = -0.78f, bx = p->ear_out, by = p->ear_base, tx = p->ear_tipx, ty = p->ear_tipy;
    /* outer ear, slightly rounded for dogs */
    float round = cat ? 0.02f : 0.16f;
    float d = sd_triangle(sx, y, ax, ay, bx, by, tx, ty) - round;
    PAINT(d, p->ear_col, p->outline, OUTLINE);
    /* inner ear: the triangle shrunk towards its centroid, nudged towards the tip */
    float gx = (ax + bx + tx) / 3, gy = (ay + by + ty) / 3 + 0.06f, k = 0.55f;
    float di = sd_triangle(sx, y, gx + (ax - gx) * k, gy + (ay - gy) * k, gx + (bx - gx) * k,
                           gy + (by - gy) * k, gx + (tx - gx) * k, gy + (ty - gy) * k) - round * k;
    if (di < 0) c = p->ear_inner;
    *cp = c;
}

/* A picture point (design units) in the face's frame: head centre at 0, radius 1, tilted. */
static void to_face(const pet *p, float px, float py, float *x, float *y) {
    float dx = px - p->a.cx, dy = py - p->a.cy;
    *x = (p->cosa * dx + p->sina * dy) * p->inv_r;
    *y = (-p->sina * dx + p->cosa * dy) * p->inv_r;
}

static col shade(const pet *p, float px, float py) {
    const dn_pet_attr *a = &p->a;
    col c = mix(p->bg_top, p->bg_bottom, py / DN_PETS_SIDE);
    float x, y;
    to_face(p, px, py, &x, &y);
    if (x * x + y * y > 4.0f) return c; /* nothing is drawn this far from the head */
    int cat = a->species == DN_PET_CAT;
    float s = x < 0 ? -1.0f : 1.0f, sx = s * x; /* features are mirrored; patches are not */

    if (a->ears != DN_PET_EARS_FLOPPY && y < 0.0f) pointed_ears(p, x, y, &c, cat);

    /* head, then its pattern (clipped to the head) */
    float dh = sd_ellipse(x, y, 0, 0, p->hx, p->hy);
    PAINT(dh, p->fur, p->outline, OUTLINE);
    if (dh < 0) {
        if (a->pattern == DN_PET_TABBY) {
            float st = 0.055f;
            float d = fminf(sd_segment(x, y, 0, -0.88f, 0, -0.42f, st),
                            sd_segment(sx, y, 0.22f, -0.84f, 0.18f, -0.48f, st));
            d = fminf(d, sd_segment(sx, y, 1.05f, -0.02f, 0.70f, 0.04f, st));
            d = fminf(d, sd_segment(sx, y, 1.05f, 0.16f, 0.72f, 0.16f, st));
            if (d < 0) c = p->fur_dark;
        }
        for (int i = 0; i < p->npatch; i++)
            if (sd_circle(x, y, p->px[i], p->py[i], p->pr[i]) < 0) c = p->fur2;
        if (p->tuxedo && sd_ellipse(x, y, 0, 0.62f, 0.62f, 0.5f) < 0) c = p->fur2;
        if (p->blaze && sd_segment(x, y, 0, -0.95f, 0, 0.2f, 0.1f) < 0) c = p->fur2;
    }

    if (a->ears == DN_PET_EARS_FLOPPY) {
        float d = sd_ear_ellipse(sx, y, p->flop_tx, p->flop_ty, p->flop_bx, p->flop_by, p->flop_w);
        PAINT(d, p->ear_col, p->outline, OUTLINE);
    }

    if (cat) {
        /* almond eyes, outer corners tilted up, slit pupils */
        float ex = sx - p->eye_x, ey = y - p->eye_y;
        float u = p->eye_cos * ex + p->eye_sin * ey, v = -p->eye_sin * ex + p->eye_cos * ey;
        float de = fabsf(ex) < 0.4f && fabsf(ey) < 0.4f ? sd_almond(u, v, p->eye_w, p->eye_h) : 1.0f;
        PAINT(de, p->eye, rgb(0.08f, 0.07f, 0.06f), 0.05f);
        if (de < 0) {
            if (sd_ellipse(ex, ey, 0, 0, p->pupil_w, p->eye_h * 0.95f) < 0) c = rgb(0.05f, 0.04f, 0.04f);
            if (sd_circle(ex, ey, -0.07f * s, -0.05f, 0.04f) < 0) c = WHITE;
        }
        /* pink nose (a rounded triangle pointing down) and the mouth below it */
        if (sx > 0.3f || y < p->nose_y - 0.2f || y > p->nose_y + 0.4f) goto whiskers;
        float nd = sd_triangle(sx, y, 0, p->nose_y + p->nose_h, p->nose_w, p->nose_y - p->nose_h * 0.4f,
                               0, p->nose_y - p->nose_h * 0.4f) - 0.02f;
        float ny = p->nose_y + p->nose_h;
        float md = fminf(sd_segment(sx, y, 0, ny, 0, ny + 0.08f, 0.022f),
                         sd_segment(sx, y, 0, ny + 0.08f, 0.12f, ny + 0.14f, 0.022f));
        if (md < 0) c = p->line;
        if (a->mouth_open) { /* mewing: a dark open mouth with a pink tongue at its bottom */
            float dm = sd_ellipse(x, y, 0, ny + 0.14f, 0.11f, 0.08f);
            PAINT(dm, rgb(0.30f, 0.08f, 0.10f), p->line, 0.03f);
            if (dm < 0 && sd_ellipse(x, y, 0, ny + 0.20f, 0.07f, 0.04f) < 0) c = PINK;
        }
        if (nd < 0) c = PINK;
    whiskers:; /* three a side, fanning out past the cheeks */
        float wy = p->nose_y + 0.06f;
        if (sx > 0.2f && fabsf(y - wy) < 0.6f)
            for (int k = -1; k <= 1; k++) {
            float d = sd_segment(sx, y, 0.28f, wy + 0.05f * (float)k, p->whisker_len,
                                 wy - 0.05f + p->whisker_fan * 2.0f * (float)k, 0.026f);
            if (d < 0) c = p->whisker;
        }
    } else {
        /* round eyes with a highlight; a light rim on dark fur so they still read */
        float de = sd_circle(sx, y, p->eye_x, p->eye_y, p->eye_w);
        if (luma(p->fur) < 0.3f) PAINT(de, p->eye, rgb(0.85f, 0.75f, 0.6f), 0.06f);
        else if (de < 0) c = p->eye;
        if (sd_circle(x, y, s * p->eye_x - 0.045f, p->eye_y - 0.045f, p->eye_w * 0.35f) < 0) c = WHITE;
        /* muzzle, big black nose, mouth, tongue */
        if (y < p->muzzle_y - p->muzzle_ry - 0.1f) return c;
        float dm = sd_ellipse(x, y, 0, p->muzzle_y, p->muzzle_rx, p->muzzle_ry);
        PAINT(dm, p->muzzle, scale(p->muzzle, 0.6f), 0.05f);
        float ny = p->muzzle_y - p->muzzle_ry * 0.45f;
        float mouth_y = p->muzzle_y + p->muzzle_ry * 0.35f;
        float md = fminf(sd_segment(sx, y, 0, ny, 0, mouth_y, 0.025f),
                         sd_segment(sx, y, 0, mouth_y, 0.2f, mouth_y - 0.05f, 0.025f));
        if (md < 0) c = rgb(0.15f, 0.1f, 0.1f);
        if (a->tongue) {
            float tx = x - p->tongue_x, ty = y - mouth_y;
            float dt = sd_ellipse(tx, ty, 0, p->tongue_h * 0.6f, p->tongue_w, p->tongue_h);
            if (ty < 0.0f) dt = fmaxf(dt, -ty); /* cut flat at the mouth line */
            PAINT(dt, TONGUE, rgb(0.45f, 0.1f, 0.15f), 0.04f);
            if (dt < 0 && fabsf(tx) < 0.018f && ty > 0.05f && ty < p->tongue_h) c = scale(TONGUE, 0.75f);
        }
        float dn = sd_ellipse(x, y, 0, ny, p->nose_w, p->nose_h);
        if (dn < 0) c = NOSE_DOG;
        if (sd_circle(x, y, -0.05f, ny - p->nose_h * 0.35f, p->nose_h * 0.3f) < 0) c = rgb(0.5f, 0.48f, 0.5f);
    }
    return c;
}

/* ---- version 2: light, fur texture, background texture ------------------------------------------ */

/* A smooth random value in [-1, 1] (value noise: hashed lattice values, interpolated). */
static float lattice(uint32_t s, int i, int j) {
    uint32_t h = s ^ ((uint32_t)i * 0x9E3779B1u) ^ ((uint32_t)j * 0x85EBCA77u);
    h ^= h >> 15, h *= 0x2C1B3C6Du, h ^= h >> 12, h *= 0x297A2D39u, h ^= h >> 15;
    return (float)(h >> 8) * (2.0f / 16777216.0f) - 1.0f;
}
static float value_noise(uint32_t s, float x, float y) {
    float fx = floorf(x), fy = floorf(y), u = x - fx, v = y - fy;
    int i = (int)fx, j = (int)fy;
    u = u * u * (3.0f - 2.0f * u), v = v * v * (3.0f - 2.0f * v);
    float a = lattice(s, i, j), b = lattice(s, i + 1, j), c = lattice(s, i, j + 1), d = lattice(s, i + 1, j + 1);
    return (a + (b - a) * u) + ((c + (d - c) * u) - (a + (b - a) * u)) * v;
}

static col textured_background(const pet *p, col c, float px, float py) {
    float k = 1.0f;
    if (p->bg_tex == 1) { /* polka dots on a grid */
        float gx = px / p->bg_period + p->bg_phase, gy = py / p->bg_period + p->bg_phase;
        float dx = gx - floorf(gx) - 0.5f, dy = gy - floorf(gy) - 0.5f;
        if (dx * dx + dy * dy < 0.04f) k = 1.0f - 2.0f * p->bg_amp;
    } else if (p->bg_tex == 2) { /* soft diagonal stripes */
        k = 1.0f + p->bg_amp * sinf(6.2831853f * ((px + py) / (1.6f * p->bg_period) + p->bg_phase));
    } else if (p->bg_tex == 3) { /* clouds */
        k = 1.0f + 1.5f * p->bg_amp * value_noise(p->noise ^ 0x5bd1e995u, px / 5.0f, py / 5.0f);
    }
    if (luma(c) < 0.3f) k = 2.0f - k; /* on a dark background the texture is lighter, not darker */
    return scale(c, k);
}

/* Version 2's look: the version 1 face, lit from the upper left, with a soft fur texture, on a
 * textured background. What shade() leaves as background is exactly the background colour. */
static col shade2(const pet *p, float px, float py) {
    col bg = mix(p->bg_top, p->bg_bottom, py / DN_PETS_SIDE);
    col c = shade(p, px, py);
    if (c.r == bg.r && c.g == bg.g && c.b == bg.b) return textured_background(p, c, px, py);
    float x, y;
    to_face(p, px, py, &x, &y);
    float k = 1.0f + p->light * (-0.55f * x - 0.75f * y);
    k = fminf(fmaxf(k, 0.72f), 1.25f);
    k += p->fur_tex * value_noise(p->noise, x * 7.0f, y * 7.0f);
    return scale(c, k);
}

/* ---- rendering ------------------------------------------------------------------------------------ */

static int clamp_side(int side) {
    return side < DN_PETS_MIN_SIDE ? DN_PETS_MIN_SIDE : side > DN_PETS_MAX_SIDE ? DN_PETS_MAX_SIDE : side;
}

/* From the face's design units (a 32-pixel picture) to pixels of a side x side one. */
static void scale_attr(dn_pet_attr *a, int side) {
    float k = (float)side / DN_PETS_SIDE;
    a->cx *= k, a->cy *= k, a->radius *= k;
}

void dn_pets_draw_attr(dn_pet_attr *attr, int side, int version, uint64_t seed, uint64_t index) {
    pet p;
    choose(&p, version, seed, index);
    *attr = p.a;
    scale_attr(attr, clamp_side(side));
}

void dn_pets_draw(float *out, dn_pet_attr *attr, int side, int version, uint64_t seed, uint64_t index) {
    pet p;
    choose(&p, version, seed, index);
    side = clamp_side(side);
    const int n = side * side;
    /* version 1: 4 x 4 samples a pixel; version 2 is drawn larger, 3 x 3 are enough */
    const int ss = p.v2 ? 3 : 4;
    const float unit = (float)DN_PETS_SIDE / (float)side; /* design units per pixel; 1 at 32 */
    for (int i = 0; i < side; i++)
        for (int j = 0; j < side; j++) {
            float r = 0, g = 0, b = 0;
            for (int a = 0; a < ss; a++)
                for (int bb = 0; bb < ss; bb++) {
                    float x = ((float)j + ((float)bb + 0.5f) / (float)ss) * unit;
                    float y = ((float)i + ((float)a + 0.5f) / (float)ss) * unit;
                    col c = p.v2 ? shade2(&p, x, y) : shade(&p, x, y);
                    r += c.r, g += c.g, b += c.b;
                }
            const float k = 2.0f / (float)(ss * ss); /* mean in [0,1], then to [-1,1] */
            out[i * side + j] = r * k - 1.0f;
            out[n + i * side + j] = g * k - 1.0f;
            out[2 * n + i * side + j] = b * k - 1.0f;
        }
    if (attr) {
        *attr = p.a;
        scale_attr(attr, side);
    }
}

void dn_pets_attr(dn_pet_attr *attr, uint64_t seed, uint64_t index) {
    dn_pets_draw_attr(attr, DN_PETS_SIDE, 1, seed, index);
}

void dn_pets_render(float *out, dn_pet_attr *attr, uint64_t seed, uint64_t index) {
    dn_pets_draw(out, attr, DN_PETS_SIDE, 1, seed, index);
}

const char *dn_pets_describe(const dn_pet_attr *a, char *buf, size_t size) {
    char extra[48] = "";
    if (a->fur2 >= 0)
        snprintf(extra, sizeof extra, " with %s %s", dn_pet_fur_names[a->fur2], dn_pet_pattern_names[a->pattern]);
    snprintf(buf, size, "%s%s %s%s, %s ears, %s eyes%s, on %s", dn_pet_fur_names[a->fur],
             a->pattern == DN_PET_TABBY ? " tabby" : "", dn_pets_class_names[a->species], extra,
             dn_pet_ears_names[a->ears], dn_pet_eyes_names[a->eyes], a->tongue ? ", tongue out" : "",
             dn_pet_background_names[a->background]);
    return buf;
}

/* ---- captions ------------------------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t size, len;
} text;

static void put(text *t, const char *s) {
    int n = snprintf(t->buf + t->len, t->size - t->len, "%s", s);
    if (n > 0) t->len = t->len + (size_t)n < t->size ? t->len + (size_t)n : t->size - 1;
}

/* "a" or "an" before a word */
static const char *article(const char *word) { return strchr("aeiou", word[0]) ? "an" : "a"; }

/* The animal: "[orange] [tabby] cat" or "[white] dog [with black spots]", with `art` an article
 * in front. Which parts are named was drawn by the caller. */
static void animal(text *t, const dn_pet_attr *a, int colour, int pattern, int art) {
    char w[80];
    const char *fur = dn_pet_fur_names[a->fur], *species = dn_pets_class_names[a->species];
    int tabby = pattern && a->pattern == DN_PET_TABBY;
    const char *first = colour ? fur : tabby ? "tabby" : species;
    if (art) put(t, article(first)), put(t, " ");
    snprintf(w, sizeof w, "%s%s%s%s", colour ? fur : "", colour ? " " : "", tabby ? "tabby " : "", species);
    put(t, w);
    if (pattern && a->fur2 >= 0) {
        snprintf(w, sizeof w, " with %s %s", dn_pet_fur_names[a->fur2], dn_pet_pattern_names[a->pattern]);
        put(t, w);
    }
}

const char *dn_pets_caption(const dn_pet_attr *a, uint64_t variant, char *buf, size_t size) {
    dn_rng rr, *r = &rr;
    dn_rng_seed(r, 0xCA9710ull, variant);
    text t = {buf, size, 0};
    if (size == 0) return buf;
    buf[0] = '\0';
    int bare = dn_rng_below(r, 12) == 0; /* "a dog" */
    int colour = !bare && dn_rng_below(r, 5) != 0;
    int pattern = !bare && a->pattern != DN_PET_PLAIN && dn_rng_below(r, 4) != 0;
    int eyes = !bare && dn_rng_below(r, 3) == 0;
    int ears = !bare && dn_rng_below(r, 4) == 0;
    int mouth = !bare && dn_rng_below(r, 3) == 0;
    int background = !bare && dn_rng_below(r, 4) != 0;
    int style = (int)dn_rng_below(r, 4); /* 0, 1 sentence; 2 terse, commas; 3 background first */
    char w[80];
    if (style == 3 && background) {
        snprintf(w, sizeof w, "on %s %s background, ", article(dn_pet_background_names[a->background]),
                 dn_pet_background_names[a->background]);
        put(&t, w);
    }
    animal(&t, a, colour, pattern, style != 2 || bare);
    /* the details: "with green eyes", "with floppy ears"; after "with black spots" or in the
     * terse style they follow a comma */
    int with = style != 2 && !(pattern && a->fur2 >= 0), nd = 0;
    if (eyes) {
        snprintf(w, sizeof w, "%s%s eyes", with ? " with " : ", ", dn_pet_eyes_names[a->eyes]);
        put(&t, w), nd++;
    }
    if (ears) {
        snprintf(w, sizeof w, "%s%s ears", with && !nd ? " with " : ", ", dn_pet_ears_names[a->ears]);
        put(&t, w), nd++;
    }
    if (mouth) {
        const char *m = a->species == DN_PET_DOG ? (a->tongue ? "tongue out" : "mouth closed")
                                                 : (a->mouth_open ? "mouth open" : "mouth closed");
        put(&t, ", "), put(&t, m);
    }
    if (background && style != 3) {
        if (style == 2)
            snprintf(w, sizeof w, ", %s background", dn_pet_background_names[a->background]);
        else
            snprintf(w, sizeof w, "%son %s %s background", nd || mouth ? ", " : " ",
                     article(dn_pet_background_names[a->background]), dn_pet_background_names[a->background]);
        put(&t, w);
    }
    return buf;
}
