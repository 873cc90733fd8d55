/*
 * debug_vae.c — `ideogram4 debug-forward vae-decoder`: decode packed latent
 * tokens with the VAE (docs/MODEL.md §7).
 *   IN : latents F32 [1, gh*gw, 128]  normalised packed tokens (as the sampler produces them)
 *        grid    I64/I32 [2]          (gh, gw)
 *   OUT: image   F32 [1, 3, H, W]     decoder output after denormalisation and
 *                                     unpatchify, before clamping (H = 16 gh, W = 16 gw)
 */
#include <stdlib.h>

#include "base/error.h"
#include "model/debug_forward.h"
#include "model/vae.h"

int i4_debug_forward_vae(const char *component_dir, i4_precision p, i4_backend *be, const i4_tensor_set *in,
                            i4_st_writer *out) {
    int64_t lshape[3] = {1, -1, -1}, gshape[1] = {2};
    const i4_tensor *lat = i4_debug_input(in, "latents", 'f', 3, lshape);
    if (!lat) return -1;
    const i4_tensor *grid = i4_debug_input(in, "grid", 'i', 1, gshape);
    if (!grid) return -1;
    int64_t g[2];
    i4_tensor_to_i64(grid, g);
    if (g[0] <= 0 || g[1] <= 0 || g[0] > 4096 || g[1] > 4096 || g[0] * g[1] != lshape[1])
        return i4_error("input 'grid' = (%lld, %lld) does not match 'latents' with %lld tokens (need gh*gw == tokens, "
                        "each in 1..4096)", (long long)g[0], (long long)g[1], (long long)lshape[1]);
    i4_vae *m = NULL;
    if (i4_vae_load(&m, component_dir, p, be) != 0) return -1;
    int rc = -1;
    float *z = NULL, *img = NULL;
    if (lshape[2] != i4_vae_token_channels(m)) {
        i4_error("input 'latents' has %lld channels per token, the VAE expects %lld", (long long)lshape[2],
                 (long long)i4_vae_token_channels(m));
        goto done;
    }
    int64_t H, W;
    i4_vae_image_size(m, g[0], g[1], &H, &W);
    z = malloc((size_t)lat->numel * sizeof *z);
    img = malloc((size_t)(3 * H * W) * sizeof *img);
    if (!z || !img) {
        i4_error("out of memory");
        goto done;
    }
    i4_tensor_to_f32(lat, z);
    if (i4_vae_decode_tokens(m, z, g[0], g[1], img) != 0) goto done;
    int64_t ishape[4] = {1, 3, H, W};
    rc = i4_st_writer_add_f32(out, "image", 4, ishape, img);
done:
    free(z);
    free(img);
    i4_vae_free(m);
    return rc;
}
