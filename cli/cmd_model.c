/* cmd_model.c — `diffuse model M`: what a model file holds (network shape, size, training, classes,
 * metadata), and `--save OUT --dtype f16|f32` to rewrite it, e.g. to halve a file for shipping. */
#include "cli.h"
#include "commands.h"
#include "base/err.h"
#include "diffusion/model.h"
#include "nets/autoencoder.h"
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: diffuse model MODEL [--save OUT --dtype f16|f32 [--cfg-scale W]]\n"
    "       diffuse model AUTOENCODER.dfa\n"
    "\n"
    "Prints what a model file holds: the U-Net's shape and size, the classes, the noise schedule,\n"
    "how it was trained and every metadata entry (for an autoencoder: its shape, the latent, the\n"
    "scale factor and the measured reconstruction PSNR). With --save it writes the same model again,\n"
    "with its weights in float16 (half the size; sampling still computes in float32) or float32,\n"
    "and --cfg-scale W stores W as the guidance scale the viewer and 'diffuse sample' use by default.\n";

int cmd_model(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *save = NULL, *dtype_s = NULL;
    float cfg = -1;
    const cli_opt opts[] = {
        {"--save", NULL, OPT_STR, &save, 0, 0},
        {"--dtype", NULL, OPT_STR, &dtype_s, 0, 0},
        {"--cfg-scale", NULL, OPT_FLOAT, &cfg, 0, 100},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, usage, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &npos);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    if (npos != 1) return cli_error(cmd, EXIT_USAGE, "which model? e.g. 'diffuse model assets/models/pets.dfm'");
    if (!save != !dtype_s) return cli_error(cmd, EXIT_USAGE, "--save and --dtype go together");
    if (cfg >= 0 && !save) return cli_error(cmd, EXIT_USAGE, "--cfg-scale is stored with --save OUT --dtype ...");
    dn_dtype dtype = DN_DTYPE_F32;
    if (dtype_s && !strcmp(dtype_s, "f16")) dtype = DN_DTYPE_F16;
    else if (dtype_s && strcmp(dtype_s, "f32")) return cli_error(cmd, EXIT_USAGE, "unknown --dtype '%s' (use f16 or f32)", dtype_s);
    dn_autoencoder ae;
    if (!save && dn_ae_load(pos[0], &ae) == 0) { /* an autoencoder file */
        const dn_ae_config *a = &ae.cfg;
        int f = dn_ae_factor(a);
        printf("%s\n  network     autoencoder, %ld parameters (%ld encoder, %ld decoder)\n", pos[0], ae.n_params,
               ae.n_enc_params, ae.n_params - ae.n_enc_params);
        printf("  pictures    %d channel%s, %dx%d (trained at)\n", a->in_channels, a->in_channels == 1 ? "" : "s",
               a->width, a->height);
        printf("  latent      %dx%dx%d: %.0fx fewer numbers (factor %d a side)\n", a->width / f, a->height / f,
               a->latent_channels, (double)(a->in_channels * f * f) / a->latent_channels, f);
        printf("  widths     ");
        for (int l = 0; l < a->n_levels; l++) printf(" %d", a->widths[l]);
        printf(" (levels), %d block%s per level, %d groups\n", a->blocks, a->blocks == 1 ? "" : "s", a->groups);
        printf("  cost        %.0f MFLOP to encode, %.0f to decode a %dx%d picture\n",
               dn_ae_encode_flops(a, a->height, a->width) / 1e6, dn_ae_decode_flops(a, a->height, a->width) / 1e6,
               a->width, a->height);
        printf("  scale       %.6g (1 / std of the training latents)\n", (double)ae.scale_factor);
        printf("  held out    PSNR %.2f dB on pets64, %.2f dB on photo crops (0: not measured)\n", (double)ae.psnr_pets,
               (double)ae.psnr_photos);
        printf("  trained on  %s\n", ae.trained_on[0] ? ae.trained_on : "(not recorded)");
        dn_ae_free(&ae);
        return EXIT_OK;
    }
    char ae_err[512];
    snprintf(ae_err, sizeof ae_err, "%s", dn_error());
    dn_unet net;
    dn_model_meta meta;
    if (dn_model_load(pos[0], &net, &meta) < 0) /* an autoencoder file that does not load says why */
        return cli_error(cmd, EXIT_FAIL, "%s", strstr(dn_error(), "'" DN_AE_KIND "' file") ? ae_err : dn_error());
    if (save) {
        rc = cfg >= 0 ? dn_model_set_cfg_scale(&meta, cfg) : 0;
        if (rc == 0) rc = dn_model_save(save, &net, &meta, dtype);
        if (rc < 0) cli_error(cmd, EXIT_FAIL, "%s", dn_error());
        else printf("wrote %s (%s weights)\n", save, dtype == DN_DTYPE_F16 ? "float16" : "float32");
        dn_unet_free(&net);
        return rc < 0 ? EXIT_FAIL : EXIT_OK;
    }
    const dn_unet_config *c = &net.cfg;
    printf("%s\n", pos[0]);
    printf("  network     U-Net, %ld parameters, %.1f MFLOP per image\n", net.n_params, dn_unet_flops(c) / 1e6);
    printf("  images      %d channel%s, %dx%d\n", c->in_channels, c->in_channels == 1 ? "" : "s", c->width, c->height);
    printf("  widths     ");
    for (int l = 0; l < c->n_levels; l++) printf(" %d", c->base_width * c->mults[l]);
    printf(" (levels), %d block%s per level, attention at level", c->blocks, c->blocks == 1 ? "" : "s");
    for (int l = 0; l < c->n_levels; l++)
        if (c->attn_levels >> l & 1) printf(" %d", l);
    printf("\n  predicts    %s\n", dn_pred_type_name((dn_pred_type)c->prediction));
    printf("  classes     %d", c->num_classes);
    for (int k = 0; k < meta.n_class_names; k++) printf("%s%s", k ? ", " : ": ", meta.class_names[k]);
    printf("%s\n", c->num_classes ? " (+ the null class for no condition)" : " (unconditional)");
    printf("  schedule    %s, T = %d", dn_beta_kind_name(meta.schedule), meta.num_train_timesteps);
    if (meta.schedule != DN_BETA_COSINE) printf(", beta %g .. %g", (double)meta.beta_start, (double)meta.beta_end);
    printf("\n  data set    %s\n  trained     %ld steps, seed %llu\n", meta.dataset[0] ? meta.dataset : "(not recorded)",
           meta.train_steps, (unsigned long long)meta.seed);
    for (int i = 0; i < meta.n_extra; i++) printf("  %-22s %s\n", meta.extra_key[i], meta.extra_value[i]);
    dn_unet_free(&net);
    return EXIT_OK;
}
