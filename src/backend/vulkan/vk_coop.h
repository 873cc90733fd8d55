/* vk_coop.h — when the Vulkan backend's Linears take the cooperative-matrix
 * GEMM (shaders/linear_coop.glsl). Plain C, no Vulkan types: the unit tests
 * call it with made-up device properties. */
#ifndef I4_VK_COOP_H
#define I4_VK_COOP_H

#include <stdint.h>

/* Component types as VkComponentTypeKHR numbers them (F16 = 0, F32 = 1). */
enum { I4_VK_COMP_F16 = 0, I4_VK_COMP_F32 = 1 };
/* VkScopeKHR's subgroup scope. */
enum { I4_VK_SCOPE_SUBGROUP = 3 };

/* One VkCooperativeMatrixPropertiesKHR entry, the fields that matter here. */
typedef struct {
    uint32_t m, n, k;
    int a_type, b_type, c_type, result_type;
    int scope;
} i4_vk_coop_shape;

/* The coop path is usable when the device reports VK_KHR_cooperative_matrix,
 * this build has the coop shader (glslangValidator was there), and one of
 * the n shapes is 16x16x16 with f16 A and B and f32 C and result at
 * subgroup scope (the only one linear_coop.glsl uses). */
int i4_vk_coop_usable(int has_extension, int shader_built, const i4_vk_coop_shape *shapes, int n);

/* The Linear path: 0 the exact f32 GEMM (linear.comp), 1 the coop one. The
 * coop one only in bf16 precision mode (it reproduces that mode's
 * arithmetic: linear_coop.glsl) and for F8 weights; f32 mode stays exact
 * end to end on linear.comp. */
int i4_vk_coop_for_linear(int coop_usable, int bf16_mode, int weight_dtype);

#endif
