/* view.h — the viewer's state and the only way to change it: actions. No SDL and no drawing here,
 * so every behaviour of the viewer (stepping, exact stepping back, new runs when a setting changes,
 * play mode) is tested without a display; the window maps keys to actions, the renderer
 * (render.h) draws a frame from the state.
 *
 *   dn_view_settings s;  dn_view_settings_default(&s);   s.mode = DN_RUN_REVERSE; ...
 *   dn_view v;  if (dn_view_init(&v, &s) < 0) puts(dn_error());
 *   dn_view_act(&v, DN_ACT(DN_ACT_STEP_NEXT));   // cursor one step on (frames computed ahead)
 *   const dn_run_frame *f = dn_view_frame(&v, &k); // what to draw: frame k <= v.k (the last ready)
 *   dn_view_free(&v);
 *
 * The computation is a dn_run (run.h): all frames of one forward or reverse run, cached, computed
 * ahead by its worker thread, in order, so after a change the frame on screen is the first to be
 * there and the later ones follow. An action that changes what the run computes (class,
 * conditioning, guidance scale, sampler, steps, seed, mode, img2img start) pauses the run, keeps
 * it (the DN_VIEW_CACHE most recent) and switches to the run of the new settings: one kept from
 * before (instant: toggling back and forth costs nothing) or a new one; the cursor stays at the
 * same point of the process where that makes sense. Pressing ] five times starts five runs, but
 * each stops as the next begins, so the presses cost about one run. */
#ifndef DN_VIEW_H
#define DN_VIEW_H
#include "diffusion/model.h"
#include "diffusion/run.h"
#include "diffusion/schedule.h"
#include "nets/autoencoder.h"
#include "nets/unet.h"
#include <stdint.h>

/* Panels the renderer draws (bits of dn_view_settings.panels). */
enum {
    DN_PANEL_NOISE = 1 << 0,    /* the noise: true (forward) or predicted (reverse) */
    DN_PANEL_X0 = 1 << 1,       /* the predicted clean image */
    DN_PANEL_ERROR = 1 << 2,    /* forward: |eps - predicted eps| heat map */
    DN_PANEL_MOVE = 1 << 3,     /* the step's drift and random motion */
    DN_PANEL_TIMELINE = 1 << 4, /* schedule curves and the cursor */
    DN_PANEL_HIST = 1 << 5,     /* histogram of x_t against N(0, 1) */
    DN_PANEL_NUMBERS = 1 << 6,  /* t, beta, alpha-bar, SNR and the settings */
    DN_PANEL_PULL = 1 << 7,     /* reverse, guided: the class's pull, cond - uncond */
    DN_PANEL_ALL = (1 << 8) - 1
};
#define DN_PANEL_KINDS 8 /* bits above; DN_ACT_PANEL_TOGGLE's arg is a bit's index */

/* How a frame is laid out (dn_view.look.layout):
 *   DN_LAYOUT_DASHBOARD  everything at once: x_t, six small panels, numbers, histogram, timeline
 *   DN_LAYOUT_PRESENTER  for a projector: x_t large, the two to four panels the moment needs,
 *                        a short timeline, large type (the default of lessons and --present) */
enum { DN_LAYOUT_DASHBOARD, DN_LAYOUT_PRESENTER };
enum { DN_THEME_DARK, DN_THEME_LIGHT }; /* light: for projectors, which wash out dark screens */

/* How the view is looked at, not what it computes: kept across slides, models and runs. */
typedef struct {
    int layout; /* DN_LAYOUT_* */
    int theme;  /* DN_THEME_* */
    int smooth; /* images upscaled smoothly (bilinear) instead of as crisp squares */
} dn_view_look;

#define DN_VIEW_CACHE 12          /* runs kept (about 4 MB each at 50 steps once finished) */
#define DN_VIEW_AHEAD_STEPS 100   /* runs computed ahead in idle time only up to this many steps */
#define DN_VIEW_CACHE_FRAMES 1500 /* and at most this many frames in all (about 130 MB at 3x32x32) */
#define DN_VIEW_STEP_CHOICES 6 /* what STEPS_NEXT cycles through */
extern const int dn_view_step_choices[DN_VIEW_STEP_CHOICES]; /* 10 25 50 100 250 1000 */
#define DN_VIEW_SPEEDS 7
extern const float dn_view_speeds[DN_VIEW_SPEEDS]; /* steps per second in play mode */

/* Everything a lesson slide sets. Plain struct: copy it, change fields, start a view with it. */
typedef struct {
    dn_run_mode mode;          /* forward (noising) or reverse (denoising) */
    char model[1024];          /* model file; "" = none (forward only) */
    char image[1024];          /* photo file; "" = training image number image_index */
    int image_index;           /* which training image when image is "" */
    int class_id;              /* the class to draw (reverse) / to condition on; 0 .. classes-1 */
    int cond;                  /* conditioning on (class_id) or off (the null class) */
    float cfg_scale;           /* guidance scale w */
    dn_sampler_kind sampler;   /* the sampler, which also fixes the forward run's t's */
    int steps;                 /* sampler steps 1 .. T */
    uint64_t seed;             /* the noise */
    int start;                 /* reverse img2img: first sampler step (0 = from pure noise) */
    unsigned panels;           /* DN_PANEL_* bits */
    int overlay;               /* noise drawn over x_t instead of in its own panel */
    int guidance;              /* the guidance breakdown replaces the small panels */
    char caption[512];         /* text for the caption area; "" = the step explained */
    char picture[1024];        /* a picture file shown in place of the small panels (a lesson's
                                  loss curve, a diagram); "" = none */
    struct {                   /* compare mode: a second run (B, on the right) from the same
                                  noise, the same settings but these */
        int on;
        dn_sampler_kind sampler;
        int steps;
        float cfg_scale;
        int cond, class_id;
    } cmp;
} dn_view_settings;

/* B's settings in compare mode: a's with a->cmp's sampler, steps, guidance, conditioning, class. */
void dn_view_compare_settings(const dn_view_settings *a, dn_view_settings *b);

/* Forward, no model, training image 0, class 0, conditioning on, w = 3, DDIM 50 steps, seed 0,
 * all panels, no overlay, no breakdown, no caption. */
void dn_view_settings_default(dn_view_settings *s);

typedef enum {
    DN_ACT_NONE,
    DN_ACT_STEP_NEXT, DN_ACT_STEP_PREV, DN_ACT_STEP_NEXT10, DN_ACT_STEP_PREV10,
    DN_ACT_FIRST, DN_ACT_LAST,
    DN_ACT_SCRUB_TO,      /* arg: frame index (clamped) */
    DN_ACT_PLAY_TOGGLE, DN_ACT_SPEED_UP, DN_ACT_SPEED_DOWN,
    DN_ACT_COND_TOGGLE,
    DN_ACT_CLASS_NEXT,
    DN_ACT_CLASS_SET,     /* arg: class id (ignored if out of range) */
    DN_ACT_CFG_UP, DN_ACT_CFG_DOWN,
    DN_ACT_GUIDANCE_TOGGLE,
    DN_ACT_SAMPLER_NEXT, DN_ACT_STEPS_NEXT,
    DN_ACT_NEW_SEED,
    DN_ACT_OVERLAY_TOGGLE,
    DN_ACT_MODE_TOGGLE,   /* forward <-> reverse from pure noise, same t; from the clean
                             frame of a forward run to the start of the reverse run */
    DN_ACT_IMG2IMG,       /* reverse, starting from the photo noised to the cursor's t */
    DN_ACT_EXPORT,        /* sets export_requested; the program writes the files */
    DN_ACT_FULLSCREEN, DN_ACT_HELP_TOGGLE, DN_ACT_QUIT,
    DN_ACT_ESCAPE,        /* leave fullscreen, else close the help; never quits (Q does) */
    DN_ACT_LAYOUT_TOGGLE, /* presenter <-> dashboard */
    DN_ACT_THEME_TOGGLE,  /* light <-> dark */
    DN_ACT_SMOOTH_TOGGLE, /* crisp pixels <-> smooth upscaling */
    DN_ACT_PANEL_TOGGLE,  /* arg: panel bit index 0 .. DN_PANEL_KINDS-1: show / hide that panel */
    DN_ACT_COMPARE_TOGGLE,/* compare mode on (B = conditioning off, or 10 steps) / off; while on,
                             the settings keys (C, class, [ ], S, N) change B, R both */
    DN_ACT_COUNT
} dn_act;

typedef struct {
    dn_act op;
    int arg;
} dn_action;
#define DN_ACT(op) ((dn_action){(op), 0})

const char *dn_act_name(dn_act op); /* "STEP_NEXT", ... for traces and tests */

typedef struct {
    dn_view_settings set;
    /* what is loaded (set up by dn_view_init) */
    int has_net;
    dn_unet net;               /* valid when has_net */
    dn_model_meta meta;        /* valid when has_net */
    dn_sched sched;            /* the model's training schedule (linear 1000 without a model) */
    int num_classes;           /* 0 without a model or for an unconditional one */
    int channels, height, width; /* the pictures shown (a latent model's: its decoded pictures) */
    float *x0;                 /* (channels, height, width) the clean image in [-1, 1] */
    /* latent diffusion (the model names an autoencoder, latent/latent.h): runs diffuse latents */
    int latent;                /* 1 for a latent model */
    dn_autoencoder ae;         /* valid when latent */
    int lat_channels, lat_height, lat_width; /* the latents' shape (the network's) */
    float *x0_lat;             /* x0's scaled latent (the mean), what a forward or img2img run noises */
    char image_name[128];      /* "pets training image #0", "cat.png" */
    int image_label;           /* the class of a training image of the model's own data set, else -1 */
    char model_name[128];      /* "pets.dfm", or "" */
    /* the run and the cursor */
    dn_run *run;
    dn_run *cache[DN_VIEW_CACHE]; /* runs already seen under other settings, paused, and runs
                                     of the likely next keys computed ahead, newest last: going
                                     back to a setting, or on to a likely one, is instant */
    dn_run *ahead;                /* the cached run being computed ahead, or NULL */
    dn_run *cmp_run;              /* compare mode: B's run (set.cmp.on), else NULL */
    int k;                     /* cursor: frame 0 .. frames-1 */
    int generation;            /* counts runs started: a renderer can tell a new run */
    /* interaction */
    int playing;
    int speed;                 /* index into dn_view_speeds */
    double play_acc;           /* seconds accumulated toward the next play step */
    int help;                  /* help overlay visible */
    int fullscreen;            /* requested window state */
    int quit;
    int export_requested;      /* set by DN_ACT_EXPORT, cleared by the program when done */
    char message[256];         /* the last notice for the screen ("no model: ..."); "" = none */
    unsigned char *pic;        /* set.picture loaded: (pic_h, pic_w, 3) bytes; NULL = none */
    int pic_w, pic_h;
    /* how it is shown, and where in a lesson (kept when a slide reloads the model) */
    dn_view_look look;
    char deck[128];            /* the lesson's title, "" outside a lesson */
    int slide, slides;         /* slide 1 .. slides of the lesson; 0 outside one */
} dn_view;

/* Load the model (if any), its schedule and the image, then start the run.
 * Returns 0, or -1 + dn_error() (model or photo unreadable, bad settings); *v is then zeroed. */
int dn_view_init(dn_view *v, const dn_view_settings *s);
void dn_view_free(dn_view *v); /* accepts NULL and a zeroed struct */

/* Switch to new settings (a lesson slide): reloads the model and image if those changed, else only
 * restarts the run, keeping the cursor at the same point of the process. Returns 0, or -1 +
 * dn_error() with the view unchanged if the new run cannot start (a new model or image that fails
 * to load leaves the view zeroed, as dn_view_init). */
int dn_view_apply(dn_view *v, const dn_view_settings *s);

/* Apply one action. Returns 1 if the state changed, 0 if not (e.g. STEP_NEXT at the end),
 * -1 + dn_error() if a new run could not start (the old state is kept). */
int dn_view_act(dn_view *v, dn_action a);

/* While nothing else is going on (the run on screen is finished), compute the run of one of the
 * keys a teacher is likely to press next (], [, C, Tab, R) that is not kept yet, in the
 * background; any change of settings pauses it (kept, it is resumed if its setting is chosen).
 * The window calls this between events. Returns 1 if it started one, else 0. The frames are those
 * the key would compute: bit for bit the same pictures. */
int dn_view_idle(dn_view *v);

/* Play mode: advance the cursor by elapsed time `dt` seconds at the current speed, never past a
 * frame that is not computed yet (play waits for the worker) and stopping at the last frame.
 * Returns 1 if the cursor moved. */
int dn_view_tick(dn_view *v, double dt);

/* The frame to draw: frame v->k if computed, else the last computed one before it (the screen
 * then says "computing"). *shown (may be NULL) gets its index. NULL only if not even frame 0 is
 * ready yet. */
const dn_run_frame *dn_view_frame(const dn_view *v, int *shown);
/* The same for cursor k instead of v->k (the exporter draws every frame without moving v). */
const dn_run_frame *dn_view_frame_at(const dn_view *v, int k, int *shown);

int dn_view_frames(const dn_view *v); /* frames of the current run (K + 1) */

/* Compare mode: B's frame at A's cursor k: the same fraction of the way from noise to picture
 * (B may have other steps), and B's frame to draw (as dn_view_frame_at: NULL if not even its
 * frame 0 is ready; *shown gets its index). */
int dn_view_compare_k(const dn_view *v, int k);
const dn_run_frame *dn_view_compare_frame(const dn_view *v, int k, int *shown);

/* The class name of id (or "class 3"), "none" for the null class / no conditioning. */
const char *dn_view_class_name(const dn_view *v, int id);
/* The class actually given to the network: class_id, or num_classes when conditioning is off. */
int dn_view_run_class(const dn_view *v);

/* One line describing the settings, for PNG text chunks and traces:
 * "mode=forward model=pets.dfm image=... sampler=ddim steps=50 seed=0 class=cat cond=on cfg=3". */
void dn_view_describe(const dn_view *v, char *buf, int size);
/* The `diffuse export` command that makes the same run again ("diffuse export --model '...'
 * --mode reverse --sampler ddim --steps 50 --seed 0 --class 'cat' --cfg-scale 3"), for the text
 * chunks of exported slides; arguments quoted for a POSIX shell. Cut at size - 1 bytes. */
void dn_view_command(const dn_view *v, char *buf, size_t size);

/* The panels drawn: set.panels, except in the presenter layout when a slide chose none (all):
 * then the few that tell the step (forward: the noise; reverse: the predicted noise and x_0), the
 * timeline and the numbers' line. */
unsigned dn_view_panels(const dn_view *v);

/* Every key of the viewer, for the help overlay and `diffuse view --help` (terminated by NULLs). */
typedef struct {
    const char *keys, *what;
} dn_view_key_help;
extern const dn_view_key_help dn_view_help[];

#endif
