/* cmd_noise.c — `diffuse noise PHOTO -o DIR`: forward diffusion of a photo as PNG frames. */
#include "cli.h"
#include "commands.h"

int cmd_noise(int argc, char **argv) {
    (void)argc;
    return cli_error(argv[0], EXIT_FAIL, "not implemented yet");
}
