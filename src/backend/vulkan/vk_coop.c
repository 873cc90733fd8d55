/* vk_coop.c — the cooperative-matrix GEMM's selection (vk_coop.h). */
#include "backend/vulkan/vk_coop.h"

#include "tensor/dtype.h"

int i4_vk_coop_usable(int has_extension, int shader_built, const i4_vk_coop_shape *shapes, int n) {
    if (!has_extension || !shader_built) return 0;
    for (int i = 0; i < n; i++) {
        const i4_vk_coop_shape *s = &shapes[i];
        if (s->m == 16 && s->n == 16 && s->k == 16 && s->a_type == I4_VK_COMP_F16 && s->b_type == I4_VK_COMP_F16 &&
            s->c_type == I4_VK_COMP_F32 && s->result_type == I4_VK_COMP_F32 && s->scope == I4_VK_SCOPE_SUBGROUP)
            return 1;
    }
    return 0;
}

int i4_vk_coop_for_linear(int coop_usable, int bf16_mode, int weight_dtype) {
    return coop_usable && bf16_mode && weight_dtype == I4_DT_F8_E4M3;
}
