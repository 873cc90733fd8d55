/* resample.c — nearest-neighbour 2x upsampling: y[c, y, x] = x[c, y/2, x/2]. */
#include "ops/ops.h"

void i4_upsample_nearest2x(float *y, const float *x, int64_t C, int64_t H, int64_t W) {
#pragma omp parallel for collapse(2) schedule(static) if (C * H * W > 16384)
    for (int64_t c = 0; c < C; c++) {
        for (int64_t iy = 0; iy < H; iy++) {
            const float *xr = x + (c * H + iy) * W;
            float *y0 = y + (c * 2 * H + 2 * iy) * 2 * W;
            for (int64_t ix = 0; ix < W; ix++) y0[2 * ix] = y0[2 * ix + 1] = xr[ix];
            memcpy(y0 + 2 * W, y0, (size_t)(2 * W) * sizeof *y0);
        }
    }
}
