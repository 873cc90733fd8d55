/* vulkan.h — the Vulkan compute backend (vk_backend.c). */
#ifndef I4_VULKAN_H
#define I4_VULKAN_H

#include <stdint.h>
#include <stdio.h>

#include "backend/backend.h"

/* Create the Vulkan backend on device `device` (index in `ideogram4 devices`),
 * or on the best one when device < 0: discrete > integrated > virtual > CPU;
 * devices of type CPU (lavapipe) are taken only when allow_cpu_device is set.
 * Fails (error message says why) when there is no loader, no driver, or no
 * usable device. */
int i4_vulkan_backend_create(int device, int allow_cpu_device, i4_backend **out);

/* The most bytes one op operand may span on this backend's device
 * (maxStorageBufferRange); a Vulkan backend only. */
size_t i4_vulkan_max_binding(i4_backend *be);

/* Counts since creation: dispatches queued, barriers recorded between them,
 * batches recorded into a command buffer, batches replayed from one, copies
 * of streamed weights into device slots queued (--offload). */
typedef struct {
    uint64_t dispatches, barriers, recorded, replayed, stream_copies;
} i4_vulkan_stats;
void i4_vulkan_stats_get(i4_backend *be, i4_vulkan_stats *st);

/* Print the Vulkan devices (name, type, memory, feature support) to f;
 * returns the number listed, or -1 with an error when Vulkan is unavailable. */
int i4_vulkan_list_devices(FILE *f);

#endif
