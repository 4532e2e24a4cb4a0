/* font.c — see font.h. fontconfig turns a family name into a file; SDL2_ttf (FreeType) turns the
 * file and a string into an anti-aliased ARGB surface, which dn_canvas_blend composites. */
#include "font.h"
#include "base/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <SDL.h>
#include <SDL_ttf.h>
#include <fontconfig/fontconfig.h>

/* fontconfig 2.14 (Debian 12) loses 288 bytes while parsing its XML configuration, once per process;
 * the lost pointer is inside fontconfig, so no call of ours can free it. Tell LeakSanitizer (only
 * present in `make asan` builds, which call this hook; otherwise it is never called) to ignore leaks
 * allocated inside libfontconfig (and libdbus, which SDL's window code uses the same way), so the
 * sanitizer runs keep reporting leaks of our own. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\nleak:libdbus-1.so\n"; }
/* ... and not to list the suppression on stderr, which must stay one line on errors. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "print_suppressions=0"; }

int dn_font_find(char *path, int size, const char *family) {
    path[0] = '\0';
    FcPattern *pat = FcNameParse((const FcChar8 *)family);
    if (!pat) return dn_fail("cannot look up font '%s': not a fontconfig pattern", family);
    FcConfigSubstitute(NULL, pat, FcMatchPattern);
    FcDefaultSubstitute(pat);
    FcResult res = FcResultNoMatch;
    FcPattern *match = FcFontMatch(NULL, pat, &res);
    FcPatternDestroy(pat);
    FcChar8 *file = NULL;
    int ok = match && FcPatternGetString(match, FC_FILE, 0, &file) == FcResultMatch && file &&
             access((const char *)file, R_OK) == 0;
    if (ok) snprintf(path, (size_t)size, "%s", (const char *)file);
    if (match) FcPatternDestroy(match);
    if (!ok)
        return dn_fail("no font found for '%s' through fontconfig (install fonts-dejavu-core, or "
                       "set DIFFUSE_FONT to a .ttf file)", family);
    return 0;
}

int dn_font_open(dn_font *f, const char *family, int px) {
    memset(f, 0, sizeof *f);
    if (!family) family = DN_FONT_DEFAULT;
    if (px < 4 || px > 512) return dn_fail("cannot open font '%s' at %d px: use 4 to 512", family, px);
    const char *env = getenv("DIFFUSE_FONT");
    if (env && *env) {
        snprintf(f->path, sizeof f->path, "%s", env);
    } else if (dn_font_find(f->path, sizeof f->path, family) != 0) {
        return -1;
    }
    /* TTF_Init counts its calls (SDL2_ttf >= 2.0.18); each open is paired with a TTF_Quit. */
    if (TTF_Init() != 0) return dn_fail("cannot start SDL2_ttf: %s", TTF_GetError());
    f->ttf = TTF_OpenFont(f->path, px);
    if (!f->ttf) {
        dn_fail("cannot open font file '%s': %s (install fonts-dejavu-core, or set DIFFUSE_FONT to "
                "a .ttf file)", f->path, TTF_GetError());
        TTF_Quit();
        return -1;
    }
    f->px = px;
    f->height = TTF_FontLineSkip(f->ttf);
    f->ascent = TTF_FontAscent(f->ttf);
    return 0;
}

void dn_font_close(dn_font *f) {
    if (!f || !f->ttf) return;
    TTF_CloseFont(f->ttf);
    TTF_Quit();
    memset(f, 0, sizeof *f);
}

int dn_font_measure(dn_font *f, const char *utf8, int *w, int *h) {
    *w = 0;
    *h = f->height;
    if (!utf8[0]) return 0;
    if (TTF_SizeUTF8(f->ttf, utf8, w, h) != 0)
        return dn_fail("cannot measure text '%s': %s", utf8, TTF_GetError());
    return 0;
}

int dn_canvas_text(dn_canvas *cv, dn_font *f, int x, int y, dn_align align, uint32_t color,
                   const char *utf8) {
    if (!utf8[0]) return 0;
    /* Render white-on-transparent at full opacity, then tint with `color` while blending, so the
     * glyph coverage (the surface's alpha) is all that comes from FreeType. */
    SDL_Color white = {255, 255, 255, 255};
    SDL_Surface *s = TTF_RenderUTF8_Blended(f->ttf, utf8, white);
    if (!s) return dn_fail("cannot draw text '%s': %s", utf8, TTF_GetError());
    if (s->format->format != SDL_PIXELFORMAT_ARGB8888) {
        SDL_Surface *conv = SDL_ConvertSurfaceFormat(s, SDL_PIXELFORMAT_ARGB8888, 0);
        SDL_FreeSurface(s);
        if (!conv) return dn_fail("cannot draw text '%s': %s", utf8, SDL_GetError());
        s = conv;
    }
    int w = s->w, h = s->h, pitch = s->pitch / 4;
    uint32_t *tinted = malloc((size_t)w * (size_t)h * sizeof *tinted);
    if (!tinted) {
        SDL_FreeSurface(s);
        return dn_fail("cannot draw text '%s': out of memory", utf8);
    }
    uint32_t ca = color >> 24, rgb = color & 0xffffffu;
    const uint32_t *src = s->pixels;
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            uint32_t a = (src[(long)j * pitch + i] >> 24) * ca / 255;
            tinted[(long)j * w + i] = (a << 24) | rgb;
        }
    SDL_FreeSurface(s);
    int x0 = align == DN_ALIGN_CENTER ? x - w / 2 : align == DN_ALIGN_RIGHT ? x - w : x;
    dn_canvas_blend(cv, x0, y, tinted, w, h, w);
    free(tinted);
    return 0;
}
