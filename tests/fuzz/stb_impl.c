/* stb_impl.c — for fuzzing only: the stb_image / stb_image_write / stb_image_resize
 * implementations compiled from Debian's headers (libstb-dev) into the fuzz programs, so that
 * libFuzzer sees their branches and AddressSanitizer checks their memory accesses. The normal
 * build never compiles this file: it links the same code from Debian's libstb.so, which is not
 * instrumented, so a fuzzer linked against it would be blind inside the decoder. */
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>
#include <stb_image_resize.h>
