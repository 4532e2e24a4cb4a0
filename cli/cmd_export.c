/* cmd_export.c — `diffuse export`: the viewer's run written as slides, headless. The options are
 * those of `diffuse view` (cli/cmd_view.c parses them); the frames are drawn by the same renderer
 * (viz/render.h), so a slide is pixel for pixel what the window shows. */
#include "cli.h"
#include "commands.h"

#include <stddef.h>

static const char usage[] =
    "usage: diffuse export [--model M] [--image PHOTO | --index I] [--mode forward|reverse]\n"
    "                      [--class NAME] [--uncond] [--cfg-scale W] [--sampler S] [--steps N]\n"
    "                      [--seed S] [--start I] [--caption TEXT] [--size WxH] -o DIR\n"
    "\n"
    "Writes what 'diffuse view' shows, without a display: every frame of the run (at most 101,\n"
    "spread evenly, always with the last) as DIR/frame_000.png, ... with the labels burned in and\n"
    "the settings in PNG text chunks, DIR/contact.png (the x_t of up to 10 frames, labelled) and\n"
    "DIR/run.gif (the animation). Each file is written atomically.\n"
    "\n"
    "  --model M        model file (default assets/models/pets.dfm if present; --no-model: none,\n"
    "                   forward only)\n"
    "  --image PHOTO    your own photo; --index I: training image I (default 0)\n"
    "  --mode M         forward (default) or reverse\n"
    "  --start I        reverse from the photo noised to sampler step I (img2img)\n"
    "  --class NAME     class name or number; --uncond: conditioning off\n"
    "  --cfg-scale W    guidance scale (default: the model's recommendation, else 3)\n"
    "  --sampler S      ddpm, ddim (default), euler, dpm++2m;  --steps N (default 50)\n"
    "  --seed S         seed of the noise (default 0)\n"
    "  --caption TEXT   text for the caption area\n"
    "  --overlay        the noise drawn over x_t; --guidance: the guidance breakdown panels\n"
    "  --size WxH       frame size (default 1280x720; 1920x1080 for full HD)\n"
    "  -o, --out DIR    output folder (default slides)\n"
    "  --threads N      threads for the U-Net (default: all cores)\n"
    "\n"
    "example: diffuse export --model assets/models/pets.dfm --mode reverse --class cat -o slides\n";

int cmd_export(int argc, char **argv) {
    return view_command(argc, argv, usage, 1);
}
