/* window.h — the SDL2 window a class watches: `diffuse view` and `diffuse lesson` open it. It owns
 * nothing but the window: keys and mouse become actions on a dn_view (view.h), the one renderer
 * (render.h) draws the state into a canvas, and the canvas goes to the screen through a streaming
 * texture.
 *
 * Setup:    SDL with the display that is named (never SDL's invisible drivers), a resizable window,
 *           a canvas and fonts at the window's pixel size.
 * Loop:     wait for events up to one frame; each key is looked up in one table (window.c's keymap)
 *           and applied as an action; in a lesson, Right/Left at a slide's end and PageUp/PageDown
 *           walk the slides; play mode advances by elapsed time; E exports a file at a time between
 *           events; redraw when anything visible changed, including a frame the worker just finished.
 * Teardown: free the view (joins the worker), the texture, renderer, window.
 * This file and window.c are the only ones that include SDL's video API. */
#ifndef DN_WINDOW_H
#define DN_WINDOW_H
#include "lesson.h"
#include "view.h"

typedef struct {
    int w, h;           /* window size in pixels (the canvas follows the window's real size) */
    int fullscreen;     /* start fullscreen */
    int fps;            /* redraw at most this often; 0 = 60 */
    int trace;          /* print every action and the step it leads to on stdout (for tests) */
    const char *out;    /* the folder E exports to */
} dn_window_opts;

/* Is a display named (DISPLAY or WAYLAND_DISPLAY)? Without one, dn_window_run fails. */
int dn_window_have_display(void);

/* Open the window on v (a view made by dn_view_init or dn_lesson_show) and run until the user
 * quits. l: the lesson being shown (its slide 0 is on v), or NULL for a single view. In a lesson
 * the slide titles and speaker notes are printed on stdout as the slides change. Frees v in every
 * case. Returns 0, or -1 with dn_error (no display, no window, a failed draw). */
int dn_window_run(dn_view *v, const dn_window_opts *o, const dn_lesson *l);

#endif
