/* photos.c — see photos.h. */
#include "data/photos.h"
#include "base/err.h"
#include "base/rng.h"
#include "data/image.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_photo(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

static int by_name(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

void dn_photos_close(dn_photos *p) {
    for (int i = 0; i < p->n; i++)
        for (int s = 0; s < DN_PHOTOS_SCALES; s++) free(p->px[i][s]);
    memset(p, 0, sizeof *p);
}

int dn_photos_open(dn_photos *p, const char *dir, int test) {
    memset(p, 0, sizeof *p);
    if (!dir) dir = DN_PHOTOS_DIR;
    DIR *d = opendir(dir);
    if (!d)
        return dn_fail("no photos in '%s': the folder is missing (it comes with Debian's mate-backgrounds: "
                       "apt-get install mate-backgrounds)", dir);
    static char all[DN_PHOTOS_MAX * 4][64];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < DN_PHOTOS_MAX * 4;)
        if (is_photo(e->d_name) && strlen(e->d_name) < sizeof all[0]) snprintf(all[n++], sizeof all[0], "%s", e->d_name);
    closedir(d);
    if (n < 4) return dn_fail("only %d photos in '%s': the split holds out every fourth, so at least 4 are needed", n, dir);
    qsort(all, (size_t)n, sizeof all[0], by_name);
    p->n_total = n;
    for (int i = 0; i < n; i++) {
        if ((i % 4 == 3) != !!test || p->n == DN_PHOTOS_MAX) continue;
        char path[1024];
        snprintf(path, sizeof path, "%.900s/%.63s", dir, all[i]);
        dn_image img;
        if (dn_image_load(&img, path, 3)) {
            dn_photos_close(p);
            return -1;
        }
        int k = p->n++;
        snprintf(p->names[k], sizeof p->names[k], "%.63s", all[i]);
        int shortest = img.w < img.h ? img.w : img.h;
        for (int s = 0; s < DN_PHOTOS_SCALES; s++) {
            int want = 64 << s;
            if (want > shortest) want = shortest;
            int w = (int)((long)img.w * want / shortest), h = (int)((long)img.h * want / shortest);
            dn_image out;
            if (want < 64 || dn_image_resize(&out, &img, 0, 0, img.w, img.h, w, h)) {
                if (want < 64) dn_fail("photo '%s' is %dx%d: its short side must be at least 64 pixels", path, img.w, img.h);
                dn_image_free(&img);
                dn_photos_close(p);
                return -1;
            }
            p->px[k][s] = out.px, p->w[k][s] = w, p->h[k][s] = h;
        }
        dn_image_free(&img);
    }
    return 0;
}

void dn_photos_crop(const dn_photos *p, float *rgb, int side, uint64_t seed, uint64_t index) {
    dn_rng r;
    dn_rng_seed(&r, seed, index);
    int k = (int)dn_rng_below(&r, (uint32_t)p->n), s = (int)dn_rng_below(&r, DN_PHOTOS_SCALES);
    int w = p->w[k][s], h = p->h[k][s];
    int x0 = (int)dn_rng_below(&r, (uint32_t)(w - side + 1)), y0 = (int)dn_rng_below(&r, (uint32_t)(h - side + 1));
    int flip = (int)dn_rng_below(&r, 2);
    const unsigned char *px = p->px[k][s];
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            const unsigned char *q = px + ((size_t)(y0 + y) * w + (size_t)(x0 + (flip ? side - 1 - x : x))) * 3;
            for (int c = 0; c < 3; c++) rgb[(c * side + y) * side + x] = q[c] / 127.5f - 1.0f;
        }
}
