/* data.c — "fashion" and "pets" behind one interface; see data.h. */
#include "data/data.h"
#include "base/err.h"
#include "data/pets.h"
#include <ctype.h>
#include <string.h>

int dn_data_open(dn_data *d, const char *name, int test, const char *fashion_dir) {
    memset(d, 0, sizeof *d);
    test = test ? 1 : 0;
    if (name && !strcmp(name, "fashion")) {
        dn_fashion f;
        if (dn_fashion_load(&f, fashion_dir, test) < 0) return -1;
        d->kind = DN_DATA_FASHION;
        d->name = "fashion";
        d->n = f.n;
        d->channels = 1, d->height = DN_FASHION_SIDE, d->width = DN_FASHION_SIDE;
        d->num_classes = DN_FASHION_CLASSES;
        d->class_names = dn_fashion_class_names;
        d->fashion = f;
    } else if (name && !strcmp(name, "pets")) {
        d->kind = DN_DATA_PETS;
        d->name = "pets";
        d->n = test ? DN_PETS_TEST_N : DN_PETS_TRAIN_N;
        d->channels = 3, d->height = DN_PETS_SIDE, d->width = DN_PETS_SIDE;
        d->num_classes = DN_PETS_CLASSES;
        d->class_names = dn_pets_class_names;
        d->pets_seed = DN_PETS_SEED;
        d->pets_offset = test ? DN_PETS_TEST_OFFSET : 0;
    } else {
        return dn_fail("unknown data set '%s' (known: fashion, pets)", name ? name : "(null)");
    }
    d->test = test;
    return 0;
}

void dn_data_close(dn_data *d) {
    if (!d) return;
    dn_fashion_free(&d->fashion);
    memset(d, 0, sizeof *d);
}

void dn_data_batch(const dn_data *d, float *x, int *y, const long *idx, int n) {
    if (d->kind == DN_DATA_FASHION) {
        dn_fashion_batch(&d->fashion, x, y, idx, n);
        return;
    }
    for (int b = 0; b < n; b++) {
        dn_pet_attr a;
        dn_pets_render(x + (size_t)b * 3 * DN_PETS_PIXELS, &a, d->pets_seed, d->pets_offset + (uint64_t)idx[b]);
        if (y) y[b] = a.species;
    }
}

int dn_data_label(const dn_data *d, long i) {
    if (d->kind == DN_DATA_FASHION) return d->fashion.labels[i];
    dn_pet_attr a;
    dn_pets_attr(&a, d->pets_seed, d->pets_offset + (uint64_t)i);
    return a.species;
}

static int same_nocase(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

int dn_data_class_id(const dn_data *d, const char *name) {
    for (int i = 0; i < d->num_classes; i++)
        if (same_nocase(d->class_names[i], name)) return i;
    return -1;
}

const char *dn_data_short_name(const char *dataset) {
    if (!strncmp(dataset, "fashion", 7)) return "fashion";
    if (!strncmp(dataset, "pets", 4)) return "pets";
    return dataset;
}
