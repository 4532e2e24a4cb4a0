/* latent.h — diffusion in latent space (Rombach et al. 2022), the glue between the autoencoder
 * (nets/autoencoder.h) and the unchanged diffusion code: the U-Net is trained on the latents of
 * the training pictures, times the autoencoder's scale factor (so they have about unit variance),
 * and a sample is noise in latent space, the reverse process, then the decoder:
 *
 *   training:  z0 = scale * mean(encode(x))          a data set of latents (kind MEMORY)
 *   sampling:  z_T ~ N(0, I) -> ... -> z_0;  picture = decode(z_0 / scale)
 *
 * A latent model is an ordinary U-Net file whose entry "latent.autoencoder" names its
 * autoencoder file (a path relative to the model's folder, or absolute). */
#ifndef DN_LATENT_H
#define DN_LATENT_H
#include "data/data.h"
#include "nets/unet.h"
#include "nets/autoencoder.h"

#define DN_LATENT_KEY "latent.autoencoder"

/* The first n pictures of the open set src, encoded (the mean) and scaled: a MEMORY set of
 * (n, Z, H/f, W/f) latents with src's labels and class names. 0 or -1 + dn_error(). */
int dn_latent_data(dn_data *out, const dn_autoencoder *ae, const dn_data *src, long n);

/* The first n pictures of the open set src followed by their reconstructions (encode the mean,
 * decode): a MEMORY set of 2n pictures with src's labels, for a classifier that must judge decoded
 * pictures (latent samples) as well as sharp ones. 0 or -1 + dn_error(). */
int dn_latent_with_reconstructions(dn_data *out, const dn_autoencoder *ae, const dn_data *src, long n);

/* The autoencoder the model at model_path names (its entry DN_LATENT_KEY, `name`: pass
 * dn_model_meta_get(&meta, DN_LATENT_KEY)), loaded into *ae: 1; 0 when name is NULL or empty, a
 * pixel-space model (*ae zeroed); -1 + dn_error() when the named file does not load or does not
 * fit the model (latent channels, size). */
int dn_latent_autoencoder(const char *model_path, const char *name, const dn_unet_config *net, dn_autoencoder *ae);

/* n latents z (n, Z, h, w) as the diffusion sees them (scaled) -> n pictures x (n, C, h f, w f). */
int dn_latent_decode(const dn_autoencoder *ae, float *x, const float *z, long n, int h, int w);
/* n pictures -> their scaled latents (the means), e.g. to noise a photo in latent space. */
int dn_latent_encode(const dn_autoencoder *ae, float *z, const float *x, long n, int height, int width);

#endif
