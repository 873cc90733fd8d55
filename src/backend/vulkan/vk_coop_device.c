/* vk_coop_device.c — the device query behind the cooperative-matrix GEMM
 * (vk_coop_device.h). */
#include "backend/vulkan/vk_coop_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    VkStructureType sType;
    void *pNext;
    uint32_t MSize, NSize, KSize;
    int32_t AType, BType, CType, ResultType; /* VkComponentTypeKHR */
    VkBool32 saturatingAccumulation;
    int32_t scope; /* VkScopeKHR */
} coop_properties;

typedef VkResult(VKAPI_PTR *coop_properties_fn)(VkPhysicalDevice, uint32_t *, coop_properties *);

int i4_vk_has_extension(VkPhysicalDevice d, const char *name) {
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(d, NULL, &n, NULL) != VK_SUCCESS) return 0;
    VkExtensionProperties *e = calloc(n ? n : 1, sizeof *e);
    int found = 0;
    if (e && vkEnumerateDeviceExtensionProperties(d, NULL, &n, e) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = !strcmp(e[i].extensionName, name);
    free(e);
    return found;
}

void i4_vk_coop_query(VkInstance inst, VkPhysicalDevice d, i4_vk_coop_device *out) {
    memset(out, 0, sizeof *out);
    VkPhysicalDeviceProperties pr;
    vkGetPhysicalDeviceProperties(d, &pr);
    out->api_1_2 = pr.apiVersion >= VK_API_VERSION_1_2;
    const int api_1_3 = pr.apiVersion >= VK_API_VERSION_1_3;
    out->has_extension = i4_vk_has_extension(d, "VK_KHR_cooperative_matrix");

    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceVulkan13Properties p13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
    if (api_1_3) sg.pNext = &p13;
    vkGetPhysicalDeviceProperties2(d, &p2);
    out->subgroup_size = sg.subgroupSize;
    if (api_1_3) {
        out->min_subgroup = p13.minSubgroupSize;
        out->max_subgroup = p13.maxSubgroupSize;
    }
    if (!out->api_1_2) return; /* the feature structs below need 1.2 */

    i4_vk_coop_features cf = {.sType = I4_VK_STYPE_COOP_FEATURES};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12};
    void **tail = &f12.pNext;
    if (api_1_3) {
        *tail = &f13;
        tail = &f13.pNext;
    }
    if (out->has_extension) *tail = &cf;
    vkGetPhysicalDeviceFeatures2(d, &f2);
    out->feature = out->has_extension && cf.cooperativeMatrix;
    out->f16 = f12.shaderFloat16 != 0;
    out->memory_model = f12.vulkanMemoryModel != 0;
    out->size_control = api_1_3 && f13.subgroupSizeControl && f13.computeFullSubgroups;
    out->require_32 = out->subgroup_size != 32 && out->size_control && out->min_subgroup <= 32 &&
                      out->max_subgroup >= 32;

    if (!out->feature) return;
    coop_properties_fn get =
        (coop_properties_fn)vkGetInstanceProcAddr(inst, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    uint32_t n = 0;
    if (!get || get(d, &n, NULL) != VK_SUCCESS || n == 0) return;
    coop_properties *cp = calloc(n, sizeof *cp);
    if (!cp) return;
    for (uint32_t i = 0; i < n; i++) cp[i].sType = I4_VK_STYPE_COOP_PROPERTIES;
    if (get(d, &n, cp) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && out->n_shapes < I4_VK_COOP_MAX_SHAPES; i++)
            out->shapes[out->n_shapes++] = (i4_vk_coop_shape){cp[i].MSize,      cp[i].NSize, cp[i].KSize,
                                                              cp[i].AType,      cp[i].BType, cp[i].CType,
                                                              cp[i].ResultType, cp[i].scope};
    free(cp);
}

int i4_vk_coop_device_ok(const i4_vk_coop_device *c) {
    return c->feature && c->f16 && c->memory_model && (c->subgroup_size == 32 || c->require_32) &&
           i4_vk_coop_usable(1, 1, c->shapes, c->n_shapes);
}

static const char *comp_name(int t) {
    switch (t) {
    case I4_VK_COMP_F16: return "f16";
    case I4_VK_COMP_F32: return "f32";
    case 2: return "f64";
    case 3: return "s8";
    case 7: return "u8";
    case 5: return "s32";
    case 9: return "u32";
    default: return "?";
    }
}

void i4_vk_coop_describe(const i4_vk_coop_device *c, int shader_built, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = 0;
    if (!c->has_extension) {
        snprintf(buf, size, "no");
        return;
    }
    for (int i = 0; i < c->n_shapes && len + 1 < size; i++) {
        const i4_vk_coop_shape *s = &c->shapes[i];
        int w = snprintf(buf + len, size - len, "%s%ux%ux%u %s*%s+%s%s", i ? ", " : "", s->m, s->n, s->k,
                         comp_name(s->a_type), comp_name(s->b_type), comp_name(s->c_type),
                         s->scope == I4_VK_SCOPE_SUBGROUP ? "" : " (not subgroup)");
        if (w < 0) break;
        len += (size_t)w < size - len ? (size_t)w : size - len - 1;
    }
    const char *why = !c->feature            ? "feature off"
                      : !c->f16              ? "no shaderFloat16"
                      : !c->memory_model     ? "no vulkanMemoryModel"
                      : !(c->subgroup_size == 32 || c->require_32) ? "no subgroups of 32"
                      : !i4_vk_coop_usable(1, 1, c->shapes, c->n_shapes) ? "no 16x16x16 f16*f16+f32 shape"
                      : !shader_built        ? "shader not built (no glslangValidator >= 13 at build time)"
                                             : NULL;
    if (len + 1 < size)
        snprintf(buf + len, size - len, "%s%s%s", len ? "; " : "", why ? "GEMM path off: " : "GEMM path on",
                 why ? why : (c->require_32 ? " (subgroups of 32 required)" : ""));
}
