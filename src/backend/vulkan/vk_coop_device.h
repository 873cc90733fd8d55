/* vk_coop_device.h — what a Vulkan device offers for the cooperative-matrix
 * GEMM (VK_KHR_cooperative_matrix), and the features to enable for it.
 *
 * Debian 12's Vulkan headers (1.3.239) predate the extension (1.3.255): its
 * structures and enum values are declared here as the registry defines them,
 * under our own names so that newer headers do not clash. */
#ifndef I4_VK_COOP_DEVICE_H
#define I4_VK_COOP_DEVICE_H

#include <vulkan/vulkan.h>

#include "backend/vulkan/vk_coop.h"

#define I4_VK_COOP_MAX_SHAPES 64

/* VK_KHR_cooperative_matrix's structure types (the registry's vk.xml). */
#define I4_VK_STYPE_COOP_FEATURES ((VkStructureType)1000506000)
#define I4_VK_STYPE_COOP_PROPERTIES ((VkStructureType)1000506001)

typedef struct {
    VkStructureType sType;
    void *pNext;
    VkBool32 cooperativeMatrix;
    VkBool32 cooperativeMatrixRobustBufferAccess;
} i4_vk_coop_features;

typedef struct {
    int has_extension;  /* VK_KHR_cooperative_matrix is listed */
    int feature;        /* ... and its cooperativeMatrix feature is on */
    int f16;            /* shaderFloat16 (the tiles are f16) */
    int memory_model;   /* vulkanMemoryModel (the coop SPIR-V uses it) */
    int api_1_2;        /* the device speaks Vulkan 1.2 (the feature structs above) */
    uint32_t subgroup_size;            /* the default */
    uint32_t min_subgroup, max_subgroup; /* Vulkan 1.3 subgroup size control, 0 = none */
    int size_control;   /* subgroupSizeControl + computeFullSubgroups features */
    int require_32;     /* the coop pipeline must ask for subgroups of 32 */
    int n_shapes;
    i4_vk_coop_shape shapes[I4_VK_COOP_MAX_SHAPES];
} i4_vk_coop_device;

/* Does device d list extension `name`? */
int i4_vk_has_extension(VkPhysicalDevice d, const char *name);

/* Fill *out for device d of instance inst (an instance of API 1.1 or later). */
void i4_vk_coop_query(VkInstance inst, VkPhysicalDevice d, i4_vk_coop_device *out);

/* Can linear_coop.comp run there: the extension, its feature, f16, the
 * memory model, a 16x16x16 f16/f16/f32 subgroup shape, and subgroups of 32
 * (the default size, or one the device lets a pipeline require)? */
int i4_vk_coop_device_ok(const i4_vk_coop_device *c);

/* Short text for `devices`: "16x16x16 f16*f16+f32, ... (subgroup 32)" or
 * why the path is off ("no f16", ...). */
void i4_vk_coop_describe(const i4_vk_coop_device *c, int shader_built, char *buf, size_t size);

#endif
