/* pets.h — the seed's cats and dogs: a procedural generator of cartoon cat and dog faces, RGB at
 * any size, so the pets models can be trained without downloading photos.
 *
 * Image `index` of data set `seed` is drawn from its own generator stream (dn_rng_seed(seed,
 * index)), so it is the same picture whatever batch or thread asks for it. Each face is drawn as
 * shapes (signed distances in face-local units, head radius 1), sampled 4x4 times per output
 * pixel and averaged, so edges are antialiased. What varies: species, fur colour and pattern,
 * ears, eyes, head size, position, rotation, background colour, and small proportions.
 *   cat: pointed ears with pink insides, almond eyes with slit pupils, small pink nose, whiskers
 *   dog: floppy (or rounded upright) ears, round dark eyes, light muzzle, big black nose, tongue
 * Every image's attributes are returned in a dn_pet_attr so a caption ("orange tabby cat") can be
 * made from words. Classes: 0 cat, 1 dog.
 *
 * Two looks. Version 1 is the 32x32 set "pets" the shipped pets model learned (its pictures never
 * change). Version 2 is "pets64", drawn at 64x64 with the detail that size allows: light from the
 * upper left on the face, a soft fur texture, spotted cats, open mouths, blue- or amber-eyed dogs,
 * wider ranges of head size, position and tilt, background textures (dots, stripes, clouds), and
 * backgrounds that share colour words with the fur (a white cat on black and a black cat on white
 * both exist), so that in a caption which colour belongs to what matters. */
#ifndef DN_PETS_H
#define DN_PETS_H
#include <stddef.h>
#include <stdint.h>

#define DN_PETS_SIDE 32
#define DN_PETS_PIXELS (DN_PETS_SIDE * DN_PETS_SIDE)
#define DN_PETS_CLASSES 2
#define DN_PETS_SEED 20260 /* the data set's seed: the pictures `diffuse data pets` shows */
#define DN_PETS64_SIDE 64
#define DN_PETS64_SEED 20264 /* the seed of "pets64" (version 2) */
#define DN_PETS_MIN_SIDE 8
#define DN_PETS_MAX_SIDE 512

enum { DN_PET_CAT = 0, DN_PET_DOG = 1 };
enum { DN_PET_PLAIN, DN_PET_TABBY, DN_PET_PATCHES, DN_PET_SPOTS, DN_PET_NPATTERNS };
enum { DN_PET_EARS_POINTED, DN_PET_EARS_FLOPPY, DN_PET_EARS_UPRIGHT, DN_PET_NEARS };
#define DN_PET_NFUR 8
#define DN_PET_NBACKGROUND 13   /* version 2 draws from all of them */
#define DN_PET_NBACKGROUND_V1 8 /* version 1 from the first 8 */
#define DN_PET_NEYES 5

/* Names for the attribute values: classes "cat", "dog"; fur "orange", "black", "white", "grey",
 * "brown", "cream", "golden", "tan"; patterns "plain", "tabby", "patches", "spots"; ears
 * "pointed", "floppy", "upright"; backgrounds "blue", "green", "pink", "purple", "yellow", "teal",
 * "peach", "grey", and in version 2 also "black", "white", "orange", "brown", "red"; eyes
 * "green", "yellow", "blue", "amber", "brown". */
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
    int mouth_open; /* version 2: 1 if the mouth is open (a dog's tongue out, a cat mewing) */
    int version;    /* 1 or 2: which look drew it */
    float cx, cy;   /* head centre in pixels of the drawn picture (0..side, y down) */
    float radius;   /* head radius in pixels */
    float angle;    /* head tilt in degrees, positive = clockwise on screen */
} dn_pet_attr;

/* Draw image `index` of data set `seed` in look `version` (1 or 2) at side x side pixels
 * (DN_PETS_MIN_SIDE..DN_PETS_MAX_SIDE): rgb (3, side, side) planar in [-1, 1]; *attr (may be NULL)
 * receives what was drawn. The same face at every side (the shapes are scaled, not redrawn).
 * Deterministic, cannot fail. */
void dn_pets_draw(float *rgb, dn_pet_attr *attr, int side, int version, uint64_t seed, uint64_t index);
/* Only the attributes (cheap: nothing is drawn); equal to what dn_pets_draw returns. */
void dn_pets_draw_attr(dn_pet_attr *attr, int side, int version, uint64_t seed, uint64_t index);

/* Version 1 at 32x32, the "pets" set: dn_pets_draw(rgb, attr, 32, 1, seed, index). */
void dn_pets_render(float *rgb, dn_pet_attr *attr, uint64_t seed, uint64_t index);
void dn_pets_attr(dn_pet_attr *attr, uint64_t seed, uint64_t index);

/* A caption into buf, such as "orange tabby cat, pointed ears, green eyes, on blue" or
 * "white dog with black spots, floppy ears, brown eyes, tongue out, on green". Returns buf. */
const char *dn_pets_describe(const dn_pet_attr *a, char *buf, size_t size);

/* One of many captions of the same picture, in words a person would write: which attributes are
 * named and in what order and phrasing depends on `variant` (any number; the same variant gives
 * the same caption). Examples: "an orange tabby cat with green eyes on a blue background", "a
 * black dog with floppy ears, tongue out", "white cat, yellow background", "a dog". The species
 * is always named; a colour word always says what it belongs to (fur, patches, eyes, background).
 * Returns buf (at most size - 1 characters; 160 is always enough). */
const char *dn_pets_caption(const dn_pet_attr *a, uint64_t variant, char *buf, size_t size);

#endif
