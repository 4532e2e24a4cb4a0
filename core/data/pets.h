/* pets.h — the seed's cats and dogs: a procedural generator of cartoon cat and dog faces, 32x32
 * RGB, so the pets model can be trained without downloading photos.
 *
 * Image `index` of data set `seed` is drawn from its own generator stream (dn_rng_seed(seed,
 * index)), so it is the same picture whatever batch or thread asks for it. Each face is drawn as
 * shapes (signed distances in face-local units, head radius 1), sampled 4x4 times per output
 * pixel and averaged, so edges are antialiased. What varies: species, fur colour and pattern,
 * ears, eyes, head size, position, rotation, background colour, and small proportions.
 *   cat: pointed ears with pink insides, almond eyes with slit pupils, small pink nose, whiskers
 *   dog: floppy (or rounded upright) ears, round dark eyes, light muzzle, big black nose, tongue
 * Every image's attributes are returned in a dn_pet_attr so a caption ("orange tabby cat") can be
 * made from words. Classes: 0 cat, 1 dog. */
#ifndef DN_PETS_H
#define DN_PETS_H
#include <stddef.h>
#include <stdint.h>

#define DN_PETS_SIDE 32
#define DN_PETS_PIXELS (DN_PETS_SIDE * DN_PETS_SIDE)
#define DN_PETS_CLASSES 2
#define DN_PETS_SEED 20260 /* the data set's seed: the pictures `diffuse data pets` shows */

enum { DN_PET_CAT = 0, DN_PET_DOG = 1 };
enum { DN_PET_PLAIN, DN_PET_TABBY, DN_PET_PATCHES, DN_PET_SPOTS, DN_PET_NPATTERNS };
enum { DN_PET_EARS_POINTED, DN_PET_EARS_FLOPPY, DN_PET_EARS_UPRIGHT, DN_PET_NEARS };
#define DN_PET_NFUR 8
#define DN_PET_NBACKGROUND 8
#define DN_PET_NEYES 5

/* Names for the attribute values: classes "cat", "dog"; fur "orange", "black", "white", "grey",
 * "brown", "cream", "golden", "tan"; patterns "plain", "tabby", "patches", "spots"; ears
 * "pointed", "floppy", "upright"; backgrounds "blue", "green", "pink", "purple", "yellow", "teal",
 * "peach", "grey"; eyes "green", "yellow", "blue", "amber", "brown". */
extern const char *const dn_pets_class_names[DN_PETS_CLASSES];
extern const char *const dn_pet_fur_names[DN_PET_NFUR];
extern const char *const dn_pet_pattern_names[DN_PET_NPATTERNS];
extern const char *const dn_pet_ears_names[DN_PET_NEARS];
extern const char *const dn_pet_background_names[DN_PET_NBACKGROUND];
extern const char *const dn_pet_eyes_names[DN_PET_NEYES];
/* The colours behind the names, RGB in [0, 1]. Each picture jitters them a little (brightness
 * 0.90..1.08, each channel +-0.03) and the background darkens towards the bottom. */
extern const float dn_pet_fur_rgb[DN_PET_NFUR][3];
extern const float dn_pet_background_rgb[DN_PET_NBACKGROUND][3];
extern const float dn_pet_eyes_rgb[DN_PET_NEYES][3];

/* What one picture shows. Indices into the name tables above. */
typedef struct {
    int species;    /* DN_PET_CAT or DN_PET_DOG; the class label */
    int fur;        /* main fur colour */
    int fur2;       /* second colour (patches/spots), -1 if none */
    int pattern;    /* DN_PET_PLAIN .. DN_PET_SPOTS (cats: plain/tabby/patches; dogs: plain/patches/spots) */
    int ears;       /* cats pointed; dogs floppy or upright */
    int eyes;       /* eye colour (cats green/yellow/blue/amber; dogs brown) */
    int background; /* background colour */
    int tongue;     /* 1 if the tongue shows (most dogs, never cats) */
    float cx, cy;   /* head centre in pixels (0..32, y down) */
    float radius;   /* head radius in pixels */
    float angle;    /* head tilt in degrees, positive = clockwise on screen */
} dn_pet_attr;

/* Draw image `index` of data set `seed`: rgb (3, 32, 32) planar in [-1, 1]; *attr (may be NULL)
 * receives what was drawn. Deterministic, cannot fail. */
void dn_pets_render(float *rgb, dn_pet_attr *attr, uint64_t seed, uint64_t index);

/* Only the attributes of image `index` (cheap: nothing is drawn); equal to what render returns. */
void dn_pets_attr(dn_pet_attr *attr, uint64_t seed, uint64_t index);

/* A caption into buf, such as "orange tabby cat, pointed ears, green eyes, on blue" or
 * "white dog with black spots, floppy ears, brown eyes, tongue out, on green". Returns buf. */
const char *dn_pets_describe(const dn_pet_attr *a, char *buf, size_t size);

#endif
