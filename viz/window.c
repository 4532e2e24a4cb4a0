/* window.c — see window.h. Sections: keys / trace / the screen / export from the window /
 * lessons / the loop. */
#include "window.h"
#include "base/err.h"
#include "canvas.h"
#include "render.h"

#include <SDL.h>
#include <SDL_syswm.h> /* X11: is a window manager running (fullscreen without one, below) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The window's state besides the view: its options and the command that makes the same run
 * again (for the text chunks of exported PNGs). */
typedef struct {
    dn_window_opts opts;
    char command[2400];
} win_state;

int dn_window_have_display(void) {
    const char *disp = getenv("DISPLAY"), *way = getenv("WAYLAND_DISPLAY");
    return (disp && *disp) || (way && *way);
}

/* ---- keys -------------------------------------------------------------------------------------- */

/* The only place keycodes meet actions. shift: 1 = only with Shift, 0 = only without, -1 = either. */
static const struct {
    SDL_Keycode key;
    int shift;
    dn_act op;
} keymap[] = {
    {SDLK_RIGHT, 0, DN_ACT_STEP_NEXT},     {SDLK_LEFT, 0, DN_ACT_STEP_PREV},
    {SDLK_RIGHT, 1, DN_ACT_STEP_NEXT10},   {SDLK_LEFT, 1, DN_ACT_STEP_PREV10},
    {SDLK_HOME, -1, DN_ACT_FIRST},         {SDLK_END, -1, DN_ACT_LAST},
    {SDLK_SPACE, -1, DN_ACT_PLAY_TOGGLE},  {SDLK_UP, -1, DN_ACT_SPEED_UP},
    {SDLK_DOWN, -1, DN_ACT_SPEED_DOWN},    {SDLK_c, -1, DN_ACT_COND_TOGGLE},
    {SDLK_TAB, -1, DN_ACT_CLASS_NEXT},     {SDLK_RIGHTBRACKET, -1, DN_ACT_CFG_UP},
    {SDLK_LEFTBRACKET, -1, DN_ACT_CFG_DOWN}, {SDLK_g, -1, DN_ACT_GUIDANCE_TOGGLE},
    {SDLK_s, -1, DN_ACT_SAMPLER_NEXT},     {SDLK_n, -1, DN_ACT_STEPS_NEXT},
    {SDLK_r, -1, DN_ACT_NEW_SEED},         {SDLK_o, -1, DN_ACT_OVERLAY_TOGGLE},
    {SDLK_m, -1, DN_ACT_MODE_TOGGLE},      {SDLK_i, -1, DN_ACT_IMG2IMG},
    {SDLK_e, -1, DN_ACT_EXPORT},           {SDLK_f, -1, DN_ACT_FULLSCREEN},
    {SDLK_F11, -1, DN_ACT_FULLSCREEN},     {SDLK_h, -1, DN_ACT_HELP_TOGGLE},
    {SDLK_F1, -1, DN_ACT_HELP_TOGGLE},     {SDLK_q, -1, DN_ACT_QUIT},
    {SDLK_ESCAPE, -1, DN_ACT_ESCAPE},      {SDLK_d, -1, DN_ACT_LAYOUT_TOGGLE},
    {SDLK_l, -1, DN_ACT_THEME_TOGGLE},     {SDLK_v, -1, DN_ACT_SMOOTH_TOGGLE},
    {SDLK_x, -1, DN_ACT_COMPARE_TOGGLE},
};

static dn_action key_action(SDL_Keycode key, Uint16 mod) {
    int shift = (mod & KMOD_SHIFT) != 0;
    if (shift && key >= SDLK_1 && key <= SDLK_8) return (dn_action){DN_ACT_PANEL_TOGGLE, (int)(key - SDLK_1)};
    if (key >= SDLK_0 && key <= SDLK_9) return (dn_action){DN_ACT_CLASS_SET, (int)(key - SDLK_0)};
    if (key >= SDLK_KP_1 && key <= SDLK_KP_9) return (dn_action){DN_ACT_CLASS_SET, (int)(key - SDLK_KP_1) + 1};
    if (key == SDLK_KP_0) return (dn_action){DN_ACT_CLASS_SET, 0};
    for (size_t i = 0; i < sizeof keymap / sizeof keymap[0]; i++)
        if (keymap[i].key == key && (keymap[i].shift < 0 || keymap[i].shift == shift)) return DN_ACT(keymap[i].op);
    return DN_ACT(DN_ACT_NONE);
}

/* ---- trace (--trace: one line per action, for tests) ---------------------------------------- */

static void trace(const dn_window_opts *o, const dn_view *v, dn_action a, int rc) {
    if (!o->trace) return;
    float t = dn_run_t(v->run, v->k);
    printf("action=%s arg=%d rc=%d k=%d frames=%d t=%g mode=%s sampler=%s steps=%d seed=%llu class=%d cond=%d cfg=%g "
           "help=%d overlay=%d guidance=%d playing=%d\n",
           dn_act_name(a.op), a.arg, rc, v->k, dn_view_frames(v), (double)t,
           v->set.mode == DN_RUN_FORWARD ? "forward" : "reverse", dn_sampler_kind_name(v->set.sampler), v->set.steps,
           (unsigned long long)v->set.seed, v->set.class_id, v->set.cond, (double)v->set.cfg_scale, v->help,
           v->set.overlay, v->set.guidance, v->playing);
    fflush(stdout);
}

/* ---- fullscreen ------------------------------------------------------------------------------------
 * SDL's desktop fullscreen asks the window manager (_NET_WM_STATE_FULLSCREEN). Under an X server
 * with none (a projector PC started into a bare X session, Xvfb) nothing resizes the window while
 * SDL believes it is the size of the screen: the layout was drawn at 1920x1080 into a 1280x720
 * window, its middle cropped, and F again did not bring it back. So: with a window manager, ask
 * it; without one, place the window over the whole display ourselves (nobody else will), and put
 * it back where it was on the way out. */
typedef struct {
    int manual;          /* fullscreen by hand: the size and place to go back to */
    int x, y, w, h;
} fullscreen_state;

static int x11_window_manager(SDL_Window *win) {
#if defined(SDL_VIDEO_DRIVER_X11)
    SDL_SysWMinfo info;
    SDL_VERSION(&info.version);
    if (!SDL_GetWindowWMInfo(win, &info) || info.subsystem != SDL_SYSWM_X11) return 1; /* not X: ask SDL */
    Display *d = info.info.x11.display;
    Atom check = XInternAtom(d, "_NET_SUPPORTING_WM_CHECK", True);
    if (check == None) return 0;
    Atom type;
    int format;
    unsigned long n = 0, after = 0;
    unsigned char *data = NULL;
    int ok = XGetWindowProperty(d, DefaultRootWindow(d), check, 0, 1, False, AnyPropertyType, &type, &format, &n, &after,
                                &data) == Success && n == 1;
    if (data) XFree(data);
    return ok;
#else
    (void)win;
    return 1;
#endif
}

static void set_fullscreen(SDL_Window *win, fullscreen_state *fs, int on) {
    if (on && !x11_window_manager(win)) {
        SDL_Rect b;
        if (SDL_GetDisplayBounds(SDL_GetWindowDisplayIndex(win), &b) != 0) return;
        SDL_GetWindowPosition(win, &fs->x, &fs->y);
        SDL_GetWindowSize(win, &fs->w, &fs->h);
        fs->manual = 1;
        SDL_SetWindowBordered(win, SDL_FALSE);
        SDL_SetWindowPosition(win, b.x, b.y);
        SDL_SetWindowSize(win, b.w, b.h);
        SDL_RaiseWindow(win);
    } else if (on) {
        SDL_SetWindowFullscreen(win, SDL_WINDOW_FULLSCREEN_DESKTOP);
    } else if (fs->manual) {
        fs->manual = 0;
        SDL_SetWindowSize(win, fs->w, fs->h);
        SDL_SetWindowPosition(win, fs->x, fs->y);
        SDL_SetWindowBordered(win, SDL_TRUE);
    } else {
        SDL_SetWindowFullscreen(win, 0);
    }
}

/* ---- the screen ------------------------------------------------------------------------------ */

typedef struct {
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    dn_canvas cv;
    dn_render_fonts fonts;
} screen;

/* Make canvas, texture and fonts match the window's pixel size. 0 or -1 + dn_error. */
static int screen_fit(screen *sc) {
    int w, h;
    if (SDL_GetRendererOutputSize(sc->ren, &w, &h) != 0) return dn_fail("SDL_GetRendererOutputSize: %s", SDL_GetError());
    if (w < 1 || h < 1) return 0;
    if (sc->tex && sc->cv.w == w && sc->cv.h == h) return 0;
    if (sc->tex) SDL_DestroyTexture(sc->tex);
    sc->tex = SDL_CreateTexture(sc->ren, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_STREAMING, w, h);
    if (!sc->tex) return dn_fail("SDL_CreateTexture %dx%d: %s", w, h, SDL_GetError());
    dn_canvas_free(&sc->cv);
    if (dn_canvas_init(&sc->cv, w, h, 0) < 0) return -1;
    return dn_render_fonts_fit(&sc->fonts, w, h);
}

/* Draw v (or, at the end of a lesson, its end slide) and show it. */
static int screen_show(screen *sc, const dn_view *v, const dn_lesson *end) {
    if (end ? dn_lesson_render_end(&sc->cv, &sc->fonts, end, &v->look) < 0 : dn_render(&sc->cv, v, &sc->fonts) < 0) return -1;
    if (SDL_UpdateTexture(sc->tex, NULL, sc->cv.px, sc->cv.w * 4) != 0)
        return dn_fail("SDL_UpdateTexture: %s", SDL_GetError());
    SDL_RenderClear(sc->ren);
    SDL_RenderCopy(sc->ren, sc->tex, NULL, NULL);
    SDL_RenderPresent(sc->ren);
    return 0;
}

/* E: the export runs a file at a time between events, so the window stays live and shows its
 * progress; other keys wait until it is done and then take effect in order, except Esc, which cancels
 * it (and Q, which cancels it and quits). *ex is the export going on. */
static void export_start(dn_export **ex, dn_view *v, win_state *o) {
    v->export_requested = 0;
    dn_view_command(v, o->command, sizeof o->command); /* the settings now, after the keys pressed */
    *ex = dn_export_begin(v, o->opts.out, 1280, 720, o->command, 10); /* slides show the message before E */
    if (!*ex) {
        snprintf(v->message, sizeof v->message, "export failed: %.200s", dn_error());
        if (o->opts.trace) printf("export=-1 dir=%s\n", o->opts.out), fflush(stdout);
    }
}

/* Write files for up to ~40 ms; *ex becomes NULL when the export has ended. */
static void export_continue(dn_export **ex, dn_view *v, win_state *o) {
    Uint64 t0 = SDL_GetPerformanceCounter(), f = SDL_GetPerformanceFrequency();
    int rc;
    do rc = dn_export_step(*ex, v, 0);
    while (rc == 1 && (SDL_GetPerformanceCounter() - t0) * 1000 < 40 * f);
    int done, total;
    dn_export_progress(*ex, &done, &total);
    if (rc == 2 && done == 0) { /* the whole run first (its drift scale), then the files */
        snprintf(v->message, sizeof v->message, "exporting to %.150s/: computing the run first, step %d of %d (Esc cancels)",
                 o->opts.out, dn_run_ready(v->run), dn_view_frames(v));
        return;
    }
    if (rc > 0) {
        snprintf(v->message, sizeof v->message, "exporting to %.200s/: frame %d of %d (Esc cancels)", o->opts.out, done, total);
        return;
    }
    if (rc < 0) snprintf(v->message, sizeof v->message, "export failed: %.200s", dn_error());
    else snprintf(v->message, sizeof v->message, "exported %d frames, contact.png and run.gif to %.150s/", done, o->opts.out);
    if (o->opts.trace) printf("export=%d dir=%s\n", rc < 0 ? -1 : done, o->opts.out), fflush(stdout);
    dn_export_free(*ex);
    *ex = NULL;
}

static void export_cancel(dn_export **ex, dn_view *v, win_state *o) {
    int done, total;
    dn_export_progress(*ex, &done, &total);
    dn_export_free(*ex);
    *ex = NULL;
    snprintf(v->message, sizeof v->message, "export cancelled: %d of %d frames written to %.150s/ (no contact sheet, no GIF)",
             done, total, o->opts.out);
    if (o->opts.trace) printf("export=cancelled dir=%s\n", o->opts.out), fflush(stdout);
}

/* ---- lessons: the same window, with Right/Left crossing slides and PageUp/PageDown -------------- */

static void lesson_notice(dn_view *v, const dn_lesson *l, int slide, int trace_on) {
    v->message[0] = 0; /* "slide N of M" is on screen throughout (the caption area), PageDown in the header hint */
    const dn_slide *s = &l->slides[slide];
    printf("-- slide %d of %d: %s\n", slide + 1, l->n_slides, s->title);
    if (s->notes[0]) printf("   notes: %s\n", s->notes);
    if (trace_on) printf("slide=%d\n", slide + 1);
    fflush(stdout);
}

/* ---- the loop ---------------------------------------------------------------------------------- */

int dn_window_run(dn_view *v, const dn_window_opts *opts, const dn_lesson *l) {
    win_state o = {.opts = *opts};
    if (!o.opts.out) o.opts.out = "slides";
    dn_view_command(v, o.command, sizeof o.command);
    int slide = 0;
    if (l) lesson_notice(v, l, 0, o.opts.trace);
    const char *disp = getenv("DISPLAY"), *way = getenv("WAYLAND_DISPLAY");
    int status = -1;
    dn_export *ex = NULL; /* an export going on (E) */
    SDL_Event waiting[64];  /* keys pressed during it */
    int n_waiting = 0;
    screen sc;
    memset(&sc, 0, sizeof sc);
    /* SDL falls back to its invisible "offscreen" and "dummy" drivers when the display named in
     * DISPLAY cannot be reached: a window nobody sees. Ask for the display that is named, and
     * refuse the invisible drivers unless SDL_VIDEODRIVER asks for them. */
    const char *asked = getenv("SDL_VIDEODRIVER");
    if (!asked || !*asked) {
        if (disp && *disp && (!way || !*way)) SDL_setenv("SDL_VIDEODRIVER", "x11", 1);
        else if (way && *way && (!disp || !*disp)) SDL_setenv("SDL_VIDEODRIVER", "wayland", 1);
    }
    const char *drv = NULL;
    if (SDL_Init(SDL_INIT_VIDEO) != 0 || !(drv = SDL_GetCurrentVideoDriver()) ||
        ((!asked || !*asked) && (!strcmp(drv, "offscreen") || !strcmp(drv, "dummy")))) {
        dn_fail("no display (%s%s%s); use 'diffuse export ... -o DIR' to write the slides instead",
                drv ? "only SDL's invisible driver " : SDL_GetError(), drv ? drv : "", drv ? " works" : "");
        SDL_Quit();
        dn_view_free(v);
        return -1;
    }
    Uint32 flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI;
    sc.win = SDL_CreateWindow("diffuse view", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, o.opts.w, o.opts.h, flags);
    if (!sc.win) {
        dn_fail("cannot open a window (%s); use 'diffuse export' to write the slides instead", SDL_GetError());
        goto done;
    }
    v->fullscreen = o.opts.fullscreen;
    sc.ren = SDL_CreateRenderer(sc.win, -1, SDL_RENDERER_PRESENTVSYNC);
    if (!sc.ren) sc.ren = SDL_CreateRenderer(sc.win, -1, SDL_RENDERER_SOFTWARE);
    if (!sc.ren) {
        dn_fail("SDL_CreateRenderer: %s", SDL_GetError());
        goto done;
    }
    if (screen_fit(&sc) < 0) {
        goto done;
    }
    if (o.opts.trace) {
        trace(&o.opts, v, DN_ACT(DN_ACT_NONE), 0);
    }
    Uint64 last = SDL_GetPerformanceCounter();
    long sig = -1;
    int dragging = 0, dirty = 1, fullscreen = 0, at_end = 0; /* at_end: a lesson's end slide is on screen */
    fullscreen_state fs = {0};
    Uint32 frame_ms = 1000 / (Uint32)(o.opts.fps ? o.opts.fps : 60);
    while (!v->quit) {
        SDL_Event e;
        int got = SDL_WaitEventTimeout(&e, ex ? 1 : (int)frame_ms); /* an export works between events */
        while (got) {
            dn_action a = DN_ACT(DN_ACT_NONE);
            if (ex && (e.type == SDL_KEYDOWN || e.type == SDL_QUIT || e.type == SDL_MOUSEBUTTONDOWN)) {
                /* exporting: Esc cancels, Q or closing the window cancels and quits, other keys wait
                 * for the export's end and then take effect in order */
                int quit = e.type == SDL_QUIT || (e.type == SDL_KEYDOWN && e.key.keysym.sym == SDLK_q);
                int esc = e.type == SDL_KEYDOWN && e.key.keysym.sym == SDLK_ESCAPE;
                if (quit || esc) export_cancel(&ex, v, &o);
                else if (e.type == SDL_KEYDOWN && n_waiting < (int)(sizeof waiting / sizeof waiting[0]))
                    waiting[n_waiting++] = e;
                if (quit) v->quit = 1, n_waiting = 0;
                dirty = 1;
                got = SDL_PollEvent(&e);
                continue;
            }
            switch (e.type) {
            case SDL_QUIT: a = DN_ACT(DN_ACT_QUIT); break;
            case SDL_KEYDOWN: a = key_action(e.key.keysym.sym, e.key.keysym.mod); break;
            case SDL_MOUSEBUTTONDOWN:
            case SDL_MOUSEMOTION: {
                if (e.type == SDL_MOUSEMOTION && !dragging) break;
                int wx = e.type == SDL_MOUSEMOTION ? e.motion.x : e.button.x;
                int wy = e.type == SDL_MOUSEMOTION ? e.motion.y : e.button.y;
                int ww, wh;
                SDL_GetWindowSize(sc.win, &ww, &wh);
                int px = ww ? wx * sc.cv.w / ww : wx, py = wh ? wy * sc.cv.h / wh : wy;
                int k = dn_render_timeline_pick(v, sc.cv.w, sc.cv.h, px, py);
                if (e.type == SDL_MOUSEBUTTONDOWN && e.button.button == SDL_BUTTON_LEFT) dragging = k >= 0;
                if (k >= 0 && dragging) a = (dn_action){DN_ACT_SCRUB_TO, k};
                break;
            }
            case SDL_MOUSEBUTTONUP: dragging = 0; break;
            case SDL_WINDOWEVENT: dirty = 1; break;
            default: break;
            }
            if (l && e.type == SDL_KEYDOWN) { /* in a lesson these keys walk the slides */
                SDL_Keycode key = e.key.keysym.sym;
                int dir = key == SDLK_PAGEDOWN ? 2 : key == SDLK_PAGEUP ? -2 : 0;
                if (!(e.key.keysym.mod & KMOD_SHIFT)) dir = key == SDLK_RIGHT ? 1 : key == SDLK_LEFT ? -1 : dir;
                if (at_end) { /* the end slide: back, or the window's own keys (quit, fullscreen, look) */
                    if (dir < 0) at_end = 0, dirty = 1;
                    if (dir < 0 && o.opts.trace) printf("slide=%d\n", slide + 1), fflush(stdout);
                    dn_act op = a.op;
                    if (op != DN_ACT_QUIT && op != DN_ACT_ESCAPE && op != DN_ACT_FULLSCREEN && op != DN_ACT_THEME_TOGGLE)
                        a = DN_ACT(DN_ACT_NONE);
                    dir = 0;
                    dirty = 1;
                }
                if (dir > 0 && slide == l->n_slides - 1) { /* past the last slide's last step: the end */
                    int from, to;
                    dn_lesson_range(v, &l->slides[slide], &from, &to);
                    if (dir == 2 || v->k >= to) {
                        at_end = 1, dirty = 1, dir = 0, a = DN_ACT(DN_ACT_NONE);
                        v->playing = 0;
                        printf("-- the end of '%s'\n", l->title);
                        if (o.opts.trace) printf("slide=end\n");
                        fflush(stdout);
                    }
                }
                if (dir) {
                    int before = slide, r;
                    if (dir == 1 || dir == -1) r = dn_lesson_step(v, l, &slide, dir);
                    else {
                        int next = slide + dir / 2;
                        r = next >= 0 && next < l->n_slides ? dn_lesson_show(v, l, next) : 0;
                        if (r == 0 && next >= 0 && next < l->n_slides) slide = next, r = 1;
                    }
                    if (r < 0) snprintf(v->message, sizeof v->message, "%.250s", dn_error());
                    if (slide != before) lesson_notice(v, l, slide, o.opts.trace);
                    trace(&o.opts, v, DN_ACT(dir > 0 ? DN_ACT_STEP_NEXT : DN_ACT_STEP_PREV), r);
                    dirty = 1;
                    a = DN_ACT(DN_ACT_NONE);
                }
            }
            if (at_end && a.op == DN_ACT_SCRUB_TO) a = DN_ACT(DN_ACT_NONE); /* no timeline on the end slide */
            if (a.op != DN_ACT_NONE) {
                int r = dn_view_act(v, a);
                trace(&o.opts, v, a, r);
                dirty = 1;
            }
            got = SDL_PollEvent(&e);
        }
        if (v->fullscreen != fullscreen) {
            fullscreen = v->fullscreen;
            set_fullscreen(sc.win, &fs, fullscreen);
            dirty = 1;
        }
        Uint64 now = SDL_GetPerformanceCounter();
        double dt = (double)(now - last) / (double)SDL_GetPerformanceFrequency();
        last = now;
        if (dn_view_tick(v, dt)) {
            dirty = 1;
            if (l) { /* a playing slide stops at its last frame */
                int from, to;
                dn_lesson_range(v, &l->slides[slide], &from, &to);
                if (v->k >= to) {
                    if (v->k > to) dn_view_act(v, (dn_action){DN_ACT_SCRUB_TO, to});
                    v->playing = 0;
                }
            }
            if (o.opts.trace) trace(&o.opts, v, DN_ACT(DN_ACT_NONE), 1);
        }
        if (v->export_requested && !ex) export_start(&ex, v, &o), dirty = 1;
        if (ex) {
            export_continue(&ex, v, &o);
            dirty = 1;
        }
        if (!ex) dn_view_idle(v); /* nothing to do: compute the likely next keys' runs ahead */
        if (!ex && n_waiting) { /* the keys pressed during the export, now, in order */
            for (int i = 0; i < n_waiting; i++) SDL_PushEvent(&waiting[i]);
            n_waiting = 0;
        }
        /* redraw when the frame on screen would differ: a new computed frame, a new run */
        int shown = -1;
        dn_view_frame(v, &shown);
        long s2 = ((long)v->generation * 100003L + v->k) * 100003L + shown * 7L + (dn_run_ready(v->run) > v->k);
        if (s2 != sig) dirty = 1, sig = s2;
        if (dirty) {
            if (screen_fit(&sc) < 0 || screen_show(&sc, v, at_end ? l : NULL) < 0) {
                goto done;
            }
            dirty = 0;
        }
    }
    status = 0;
done:
    dn_export_free(ex);
    dn_view_free(v);
    dn_render_fonts_close(&sc.fonts);
    dn_canvas_free(&sc.cv);
    if (sc.tex) SDL_DestroyTexture(sc.tex);
    if (sc.ren) SDL_DestroyRenderer(sc.ren);
    if (sc.win) SDL_DestroyWindow(sc.win);
    SDL_Quit();
    return status;
}
