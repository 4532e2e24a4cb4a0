/* data.c — "fashion", "pets" and "pets64" behind one interface; see data.h. */
#include "data/data.h"
#include "base/err.h"
#include "data/pets.h"
#include <ctype.h>
#include <stdlib.h>
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
    } else if (name && (!strcmp(name, "pets") || !strcmp(name, "pets64"))) {
        int v2 = !strcmp(name, "pets64");
        d->kind = DN_DATA_PETS;
        d->name = v2 ? "pets64" : "pets";
        d->n = test ? DN_PETS_TEST_N : DN_PETS_TRAIN_N;
        d->channels = 3;
        d->height = d->width = v2 ? DN_PETS64_SIDE : DN_PETS_SIDE;
        d->num_classes = DN_PETS_CLASSES;
        d->class_names = dn_pets_class_names;
        d->pets_seed = v2 ? DN_PETS64_SEED : DN_PETS_SEED;
        d->pets_version = v2 ? 2 : 1;
        d->pets_offset = test ? DN_PETS_TEST_OFFSET : 0;
    } else {
        return dn_fail("unknown data set '%s' (known: fashion, pets, pets64)", name ? name : "(null)");
    }
    d->test = test;
    return 0;
}

int dn_data_from_memory(dn_data *d, float *values, int *labels, long n, int C, int H, int W, const dn_data *like) {
    memset(d, 0, sizeof *d);
    if (!values || !labels || n < 1 || C < 1 || H < 1 || W < 1) {
        free(values), free(labels);
        return dn_fail("an in-memory data set needs values and labels for at least one item");
    }
    d->kind = DN_DATA_MEMORY;
    d->name = like->name;
    d->test = like->test;
    d->n = n;
    d->channels = C, d->height = H, d->width = W;
    d->num_classes = like->num_classes;
    d->class_names = like->class_names;
    d->mem = values, d->mem_labels = labels;
    d->source_seed = like->pets_seed, d->source_version = like->pets_version;
    d->pets_offset = like->pets_offset;
    return 0;
}

void dn_data_close(dn_data *d) {
    if (!d) return;
    dn_fashion_free(&d->fashion);
    free(d->mem);
    free(d->mem_labels);
    memset(d, 0, sizeof *d);
}

void dn_data_batch(const dn_data *d, float *x, int *y, const long *idx, int n) {
    if (d->kind == DN_DATA_FASHION) {
        dn_fashion_batch(&d->fashion, x, y, idx, n);
        return;
    }
    if (d->kind == DN_DATA_MEMORY) {
        size_t m = (size_t)d->channels * (size_t)d->height * (size_t)d->width;
        for (int b = 0; b < n; b++) {
            memcpy(x + (size_t)b * m, d->mem + (size_t)idx[b] * m, m * sizeof(float));
            if (y) y[b] = d->mem_labels[idx[b]];
        }
        return;
    }
    size_t plane = (size_t)3 * (size_t)d->height * (size_t)d->width;
    for (int b = 0; b < n; b++) {
        dn_pet_attr a;
        dn_pets_draw(x + (size_t)b * plane, &a, d->height, d->pets_version, d->pets_seed,
                     d->pets_offset + (uint64_t)idx[b]);
        if (y) y[b] = a.species;
    }
}

int dn_data_pet(const dn_data *d, long i, dn_pet_attr *attr) {
    if (d->kind != DN_DATA_PETS) return -1;
    dn_pets_draw_attr(attr, d->height, d->pets_version, d->pets_seed, d->pets_offset + (uint64_t)i);
    return 0;
}

int dn_data_label(const dn_data *d, long i) {
    if (d->kind == DN_DATA_FASHION) return d->fashion.labels[i];
    if (d->kind == DN_DATA_MEMORY) return d->mem_labels[i];
    dn_pet_attr a;
    dn_data_pet(d, i, &a);
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
    if (!strncmp(dataset, "pets64", 6)) return "pets64";
    if (!strncmp(dataset, "pets", 4)) return "pets";
    return dataset;
}
