/* vk_shaders.h — the SPIR-V modules compiled from shaders/NAME.comp at build
 * time (glslc) and embedded by scripts/embed_spirv.sh. */
#ifndef I4_VK_SHADERS_H
#define I4_VK_SHADERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;      /* file name without .comp */
    const uint32_t *words; /* SPIR-V */
    size_t bytes;
} i4_vk_shader_blob;

extern const i4_vk_shader_blob i4_vk_shader_table[];
extern const size_t i4_vk_shader_count;

#endif
