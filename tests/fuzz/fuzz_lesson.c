/* fuzz_lesson.c — libFuzzer entry point for the lesson parser (dn_lesson_parse): any text must be
 * parsed or refused with a one-line message, without a crash, a leak or undefined behaviour.
 * fuzz-needs: lesson err fileio sampler schedule rng
 * fuzz-cflags: -Iviz */
#include "base/err.h"
#include "lesson.h"
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The parser only needs the defaults of the viewer's settings, not the viewer. */
void dn_view_settings_default(dn_view_settings *s) {
    memset(s, 0, sizeof *s);
    s->cond = 1;
    s->cfg_scale = 3.0f;
    s->steps = 50;
    s->panels = DN_PANEL_ALL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dn_lesson l;
    if (dn_lesson_parse(&l, (const char *)data, size, "<fuzz>") == 0) {
        if (l.n_slides < 1 || !l.title[0]) __builtin_trap();
        dn_lesson_resolve(&l, "/root", "/dir");
        dn_lesson_free(&l);
    } else if (strchr(dn_error(), '\n')) {
        __builtin_trap(); /* messages are one line */
    }
    return 0;
}
