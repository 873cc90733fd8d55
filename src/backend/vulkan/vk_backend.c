/*
 * vk_backend.c — the Vulkan compute backend: device memory in VkBuffers, the
 * ops as GLSL compute shaders (shaders/NAME.comp, compiled to SPIR-V at build
 * time and embedded, see vk_shaders.h).
 *
 *   device    one compute queue of one physical device; shaderFloat64 is
 *             required (the norms' statistics and the correctly rounded
 *             1/sqrt are in double, as on the CPU).
 *   buffers   device-local VkBuffers (storage + transfer); upload/download go
 *             through one host-visible staging buffer in chunks and wait for
 *             the copy; `wrap` is alloc + upload, once at load.
 *   ops       queued as records (pipeline, 8 storage-buffer bindings — one
 *             layout for every shader —, grid) with their parameter block in
 *             a slot of a host-visible param buffer (binding 8, a dynamic
 *             offset); flush (sync, download, upload, MAX_BATCH ops) records
 *             the batch into a command buffer, or replays the one recorded
 *             for the same batch before (a sampling step is recorded once per
 *             shape), and waits on a fence. Barriers only between dependent
 *             dispatches (read/write byte ranges tracked per dispatch).
 *   views     a binding is made at the view's offset rounded down to
 *             minStorageBufferOffsetAlignment; the remainder in bytes goes to
 *             the shader as pc.off[i] (the first 8 push-constant words), so any
 *             f32 view (q|k|v column slices) and any weight byte offset works.
 *   errors    a failing Vulkan call in an op is remembered (first one wins) and
 *             returned by every later sync, download and upload.
 *   memory    weights (`wrap`) are sub-allocated from 64 MiB VkDeviceMemory
 *             blocks (the real model has ~900 tensors per transformer; many
 *             drivers allow 4096 allocations); larger ones and every `alloc`
 *             get their own. Bytes of device memory held now and at peak are
 *             counted; an allocation past the device-local heap (or the
 *             VK_EXT_memory_budget budget) is refused with a message saying
 *             what is held, what was asked and what the device has.
 *   offload   streamed weights (--offload): a group (one transformer layer)
 *             lives in a host-visible buffer of its own (host memory, not
 *             charged to the device) and is copied into one of a ring of
 *             N_SLOTS device-local slots (charged) when a dispatch binds it
 *             or prefetch asks. The copy is a vkCmdCopyBuffer queued in the
 *             batch like a dispatch (recorded once, replayed): its write to
 *             the slot waits (barrier) for the dispatches that read the slot
 *             before; dispatches between compute barriers do not wait for it
 *             (those barriers are compute-to-compute only), so the copy of
 *             layer i+1 runs while layer i computes where the device overlaps
 *             a queue's copies and dispatches (one queue; on lavapipe every
 *             command runs in turn on the CPU: nothing overlaps there).
 *   ranges    a binding spans at most maxStorageBufferRange bytes (128 MiB on
 *             some drivers): each op states how far from its view it reads and
 *             writes, and an op that needs more fails with a clear error
 *             instead of reading past the bound range.
 */
#include "backend/vulkan/vulkan.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vulkan/vulkan.h>

#include "backend/vulkan/vk_coop.h"
#include "backend/vulkan/vk_coop_device.h"
#include "backend/vulkan/vk_shaders.h"
#include "base/error.h"

#define N_BINDINGS 8
#define STAGING_BYTES ((size_t)8 << 20)
#define BLOCK_BYTES ((size_t)64 << 20)
#define MAX_BATCH 1024   /* dispatches per submission */
#define PC_BYTES 128     /* the largest parameter block of a shader */
#define MAX_PENDING 128  /* ranges tracked between barriers (more: a barrier) */
#define N_REC 8          /* recorded batches kept for replay */
#define N_SLOTS 2        /* device slots of streamed weights (--offload) */
#define OP_COPY UINT32_MAX /* vk_op.pipe of a copy: buf[0] at base[0] -> buf[1] at base[1], range[0] bytes */
#define BARRIER_ALL 1    /* vk_op.barrier: after everything before (copies too) */
#define BARRIER_COMPUTE 2 /* after the dispatches before only */

/* One queued dispatch as it is recorded: everything a command buffer holds
 * of it (the parameters live in the param buffer, outside the recording). */
typedef struct {
    uint32_t pipe, barrier, gx, gy, gz;
    VkBuffer buf[N_BINDINGS];
    VkDeviceSize base[N_BINDINGS], range[N_BINDINGS];
} vk_op;

typedef struct {
    VkBuffer buf;
    size_t lo, hi;
    int copy; /* touched by a copy (a compute barrier does not order it) */
} vk_range;

/* A recorded batch: its command buffer, the descriptor sets it binds (from
 * its own pool) and the ops it was recorded from (the key). */
typedef struct {
    VkCommandBuffer cb;
    VkDescriptorPool pool;
    vk_op *ops;
    uint32_t n;
    uint64_t hash, used;
} vk_rec;

/* A VkDeviceMemory that weights are sub-allocated from (bump; freed when the
 * last buffer in it is released — weights are released together). */
typedef struct {
    VkDeviceMemory mem;
    uint32_t type;
    size_t size, used;
    int refs;
} vk_block;

struct i4_buf {
    VkBuffer buf;
    VkDeviceMemory mem; /* own memory, or NULL when in a block */
    vk_block *block;
    size_t bytes;   /* as asked */
    size_t size;    /* the VkBuffer's size (rounded up) */
    size_t charged; /* bytes of device memory counted for it (own memory only) */
    /* A streamed group: no VkBuffer of its own; its bytes in `host`, copied
     * into slot `slot` (-1 = in none) of the ring. */
    int streamed, slot;
    struct i4_buf *host;
};

typedef struct {
    i4_backend base;
    VkInstance inst;
    VkPhysicalDevice pdev;
    VkDevice dev;
    VkQueue queue;
    uint32_t qfam;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memp;
    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    VkPipeline *pipes; /* [i4_vk_shader_count], made on first use */
    VkCommandPool cpool;
    VkCommandBuffer tcb; /* copies (upload, download), recorded each time */
    VkFence fence;
    /* The batch of queued dispatches (flushed at MAX_BATCH, sync, copies)
     * and the parameters of each in its slot of the param buffer. */
    vk_op *q;
    uint32_t nq;
    i4_buf *params;
    unsigned char *params_map;
    size_t slot;
    /* Byte ranges read and written since the last barrier of the batch. */
    vk_range rd[MAX_PENDING], wr[MAX_PENDING];
    int nrd, nwr;
    /* Recorded command buffers of earlier batches, replayed when a batch is
     * the same again (the same ops on the same views: a sampling step). */
    vk_rec rec[N_REC];
    uint64_t tick;
    uint64_t n_replayed, n_recorded, n_barriers, n_dispatches;
    uint64_t n_coop; /* Linears queued on the cooperative-matrix GEMM (or its emulation) */
    /* Linears in bf16 mode on cooperative matrices (vk_coop.h): 1 the coop
     * shader, 2 its emulation (IDEOGRAM4_VULKAN_COOPMAT=emulate: the same
     * tiles as plain loops, for the tests on devices without the extension). */
    int coop;
    i4_vk_coop_device coopdev; /* what the device offers for it */
    i4_buf *staging;
    void *staging_map;
    i4_buf *dummy; /* bound where an op has no buffer */
    size_t align, max_range;
    uint32_t fma_emulate; /* specialization constant 0 of every shader (common.glsl) */
    /* No shaderFloat64 (or IDEOGRAM4_VULKAN_NO_F64=1): the NAME_nof64 builds
     * of the shaders, f32-pair sums instead of double (norm.comp). */
    int no_f64;
    vk_block *wblock;     /* the block weights are bump-allocated from now */
    size_t next_block;    /* size of the next block: 1 MiB, doubling to BLOCK_BYTES */
    size_t mem_now, mem_peak, capacity; /* device memory held by buffers, its peak, the heap (budget) */
    uint32_t n_allocs;    /* live vkAllocateMemory allocations */
    int budget_ext;       /* VK_EXT_memory_budget gave the capacity */
    /* The ring of device slots streamed groups are copied into (--offload). */
    i4_buf *ring[N_SLOTS], *ring_owner[N_SLOTS];
    uint64_t ring_used[N_SLOTS];
    int slot_read[N_SLOTS]; /* a dispatch read the slot since the last full barrier */
    size_t ring_bytes;
    int n_groups;
    uint64_t n_stream_copies;
    size_t ext[N_BINDINGS]; /* bytes the next dispatch touches from each view (0 = to the buffer's end) */
    int err;
    char msg[256];
    char desc[320];
} vkb;

static vkb *V(i4_backend *be) { return (vkb *)be; }

static const char *vk_result_name(VkResult r) {
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_INVALID_SHADER_NV: return "VK_ERROR_INVALID_SHADER_NV";
    default: return "VK_ERROR (other)";
    }
}

/* Remember the first failure of a queued op; sync/download return it. */
static void fail(vkb *b, const char *what, VkResult r) {
    if (b->err) return;
    b->err = 1;
    snprintf(b->msg, sizeof b->msg, "vulkan: %s failed (%s)", what, vk_result_name(r));
}
static void fail_msg(vkb *b, const char *msg) {
    if (b->err) return;
    b->err = 1;
    snprintf(b->msg, sizeof b->msg, "vulkan: %s", msg);
}
static int report(vkb *b) { return b->err ? i4_error("%s", b->msg) : 0; }

/* ---- memory */

static int find_memory(vkb *b, uint32_t type_bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags need) {
    for (int pass = 0; pass < 2; pass++) {
        VkMemoryPropertyFlags f = pass == 0 ? want | need : need;
        for (uint32_t i = 0; i < b->memp.memoryTypeCount; i++)
            if ((type_bits & (1u << i)) && (b->memp.memoryTypes[i].propertyFlags & f) == f) return (int)i;
    }
    return -1;
}

static double mib(size_t n) { return (double)n / (1 << 20); }

/* One vkAllocateMemory of `size` bytes of type `type`; `count` charges it to
 * the device-memory totals (the host-side staging buffer is not charged). */
static VkResult allocate(vkb *b, size_t size, uint32_t type, int count, VkDeviceMemory *mem) {
    *mem = VK_NULL_HANDLE;
    if (b->n_allocs >= b->props.limits.maxMemoryAllocationCount) {
        i4_error("vulkan: %u device-memory allocations, the most %s allows", b->n_allocs, b->props.deviceName);
        return VK_ERROR_TOO_MANY_OBJECTS;
    }
    if (count && b->capacity && b->mem_now + size > b->capacity) {
        i4_error("vulkan: %.1f MiB more device memory does not fit: %.1f MiB held, %.1f MiB on %s%s; use a smaller "
                 "size or --backend cpu",
                 mib(size), mib(b->mem_now), mib(b->capacity), b->props.deviceName,
                 b->budget_ext ? " (its memory budget)" : "");
        return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.allocationSize = size;
    ai.memoryTypeIndex = type;
    VkResult r = vkAllocateMemory(b->dev, &ai, NULL, mem);
    if (r != VK_SUCCESS) {
        i4_error("vulkan: cannot allocate %.1f MiB of device memory (%s; %.1f MiB held)", mib(size),
                 vk_result_name(r), mib(b->mem_now));
        return r;
    }
    b->n_allocs++;
    if (count) {
        b->mem_now += size;
        if (b->mem_now > b->mem_peak) b->mem_peak = b->mem_now;
    }
    return VK_SUCCESS;
}

static void deallocate(vkb *b, VkDeviceMemory mem, size_t charged) {
    if (!mem) return;
    vkFreeMemory(b->dev, mem, NULL);
    b->n_allocs--;
    b->mem_now -= charged;
}

/* The open block holds a reference of its own: it goes when it is replaced,
 * or when its last buffer goes (then it is closed too). */
static void block_unref(vkb *b, vk_block *k) {
    if (--k->refs > (b->wblock == k ? 1 : 0)) return;
    if (b->wblock == k) b->wblock = NULL;
    deallocate(b, k->mem, k->size);
    free(k);
}

/* A buffer of `bytes`; sub = from the weight blocks when small enough;
 * count = charge its memory to the device totals. */
static i4_buf *make_buffer_ex(vkb *b, size_t bytes, VkMemoryPropertyFlags want, VkMemoryPropertyFlags need, int sub,
                              int count) {
    i4_buf *x = calloc(1, sizeof *x);
    if (!x) {
        i4_error("out of memory");
        return NULL;
    }
    x->bytes = bytes;
    x->size = bytes ? (bytes + 15) & ~(size_t)15 : 16;
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = x->size;
    bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkResult r = vkCreateBuffer(b->dev, &bi, NULL, &x->buf);
    if (r != VK_SUCCESS) {
        free(x);
        i4_error("vulkan: vkCreateBuffer of %.1f MiB failed (%s)", mib(bytes), vk_result_name(r));
        return NULL;
    }
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(b->dev, x->buf, &req);
    int type = find_memory(b, req.memoryTypeBits, want, need);
    if (type < 0) {
        vkDestroyBuffer(b->dev, x->buf, NULL);
        free(x);
        i4_error("vulkan: no memory type for a buffer on %s", b->props.deviceName);
        return NULL;
    }
    if (sub && req.size <= BLOCK_BYTES / 2) {
        vk_block *k = b->wblock;
        size_t at = k ? (k->used + req.alignment - 1) / req.alignment * req.alignment : 0;
        if (!k || k->type != (uint32_t)type || at + req.size > k->size) {
            /* Blocks grow from 1 MiB so that a small model holds little. */
            size_t bsize = b->next_block < ((size_t)1 << 20) ? (size_t)1 << 20 : b->next_block;
            while (bsize < req.size) bsize *= 2;
            if (bsize > BLOCK_BYTES) bsize = BLOCK_BYTES;
            b->next_block = bsize * 2 < BLOCK_BYTES ? bsize * 2 : BLOCK_BYTES;
            k = calloc(1, sizeof *k);
            r = k ? allocate(b, bsize, (uint32_t)type, count, &k->mem) : VK_ERROR_OUT_OF_HOST_MEMORY;
            if (r != VK_SUCCESS) {
                free(k);
                vkDestroyBuffer(b->dev, x->buf, NULL);
                free(x);
                return NULL;
            }
            k->type = (uint32_t)type;
            k->size = bsize;
            k->refs = 1; /* the open block's own reference, dropped when it is replaced */
            vk_block *old = b->wblock;
            b->wblock = k;
            if (old) block_unref(b, old);
            at = 0;
        }
        r = vkBindBufferMemory(b->dev, x->buf, k->mem, at);
        if (r != VK_SUCCESS) {
            vkDestroyBuffer(b->dev, x->buf, NULL);
            free(x);
            i4_error("vulkan: vkBindBufferMemory failed (%s)", vk_result_name(r));
            return NULL;
        }
        k->used = at + req.size;
        k->refs++;
        x->block = k;
        return x;
    }
    r = allocate(b, req.size, (uint32_t)type, count, &x->mem);
    if (r == VK_SUCCESS) {
        x->charged = count ? req.size : 0;
        r = vkBindBufferMemory(b->dev, x->buf, x->mem, 0);
        if (r != VK_SUCCESS) i4_error("vulkan: vkBindBufferMemory failed (%s)", vk_result_name(r));
    }
    if (r != VK_SUCCESS) {
        deallocate(b, x->mem, x->charged);
        vkDestroyBuffer(b->dev, x->buf, NULL);
        free(x);
        return NULL;
    }
    return x;
}

static i4_buf *make_buffer(vkb *b, size_t bytes, VkMemoryPropertyFlags want, VkMemoryPropertyFlags need) {
    return make_buffer_ex(b, bytes, want, need, 0, 1);
}

static void rec_forget(vkb *b, VkBuffer buf);

static void free_ring(vkb *b);

static void free_buffer(vkb *b, i4_buf *x) {
    if (!x) return;
    if (x->streamed) {
        if (x->slot >= 0) b->ring_owner[x->slot] = NULL;
        free_buffer(b, x->host);
        free(x);
        if (--b->n_groups == 0) free_ring(b);
        return;
    }
    rec_forget(b, x->buf);
    vkDestroyBuffer(b->dev, x->buf, NULL);
    if (x->block) block_unref(b, x->block);
    else deallocate(b, x->mem, x->charged);
    free(x);
}

/* ---- command recording and submission
 *
 * Ops are queued as vk_op records (pipeline, bound ranges, grid) with their
 * parameter block in the param buffer (binding 8, a dynamic storage buffer:
 * one slot per dispatch of the batch). flush() records the batch into a
 * command buffer — or finds the same batch recorded before and submits that
 * again, having written only the new parameters: the ops of a sampling step
 * are the same every step, so a step is recorded once per shape. A batch is
 * also split at MAX_BATCH dispatches, always at the same places.
 *
 * Barriers: each dispatch's read and write ranges (the byte ranges of its
 * views; which bindings a shader writes is in shader_writes) are compared
 * with those since the last barrier: a barrier only before a dispatch that
 * reads what an earlier one wrote, or writes what an earlier one read or
 * wrote; dispatches on disjoint ranges run without one. */

/* The writes of the dispatches before are visible to the dispatches after
 * (copies in flight are not waited for). */
static void barrier_compute_cmd(VkCommandBuffer cb) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0,
                         NULL, 0, NULL);
}

/* Everything written before is visible to every later shader, copy and host read. */
static void barrier_cmd(VkCommandBuffer cb) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cb,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT |
                             VK_PIPELINE_STAGE_HOST_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT |
                             VK_PIPELINE_STAGE_HOST_BIT,
                         0, 1, &mb, 0, NULL, 0, NULL);
}

static uint64_t hash_ops(const vk_op *o, uint32_t n) {
    const unsigned char *p = (const unsigned char *)o;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < (size_t)n * sizeof *o; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void rec_drop(vkb *b, vk_rec *r) {
    if (r->pool) vkDestroyDescriptorPool(b->dev, r->pool, NULL);
    if (r->cb) vkFreeCommandBuffers(b->dev, b->cpool, 1, &r->cb);
    free(r->ops);
    memset(r, 0, sizeof *r);
}

/* Forget the recorded batches that bind `buf` (it is being destroyed; a new
 * buffer may get its handle), or all of them (buf NULL). */
static void rec_forget(vkb *b, VkBuffer buf) {
    for (int i = 0; i < N_REC; i++) {
        vk_rec *r = &b->rec[i];
        int hit = r->ops && !buf;
        for (uint32_t j = 0; r->ops && !hit && j < r->n; j++)
            for (int k = 0; k < N_BINDINGS && !hit; k++) hit = r->ops[j].buf[k] == buf;
        if (hit) rec_drop(b, r);
    }
}

/* Record the queued batch into r (its pool sized for it). */
static VkResult rec_record(vkb *b, vk_rec *r) {
    const uint32_t n = b->nq;
    VkDescriptorPoolSize ps[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, n * N_BINDINGS},
                                  {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER_DYNAMIC, n}};
    VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dpi.maxSets = n;
    dpi.poolSizeCount = 2;
    dpi.pPoolSizes = ps;
    VkResult res = vkCreateDescriptorPool(b->dev, &dpi, NULL, &r->pool);
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cai.commandPool = b->cpool;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    if (res == VK_SUCCESS) res = vkAllocateCommandBuffers(b->dev, &cai, &r->cb);
    r->ops = malloc((size_t)n * sizeof *r->ops);
    if (res == VK_SUCCESS && !r->ops) res = VK_ERROR_OUT_OF_HOST_MEMORY;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    if (res == VK_SUCCESS) res = vkBeginCommandBuffer(r->cb, &bi);
    if (res != VK_SUCCESS) return res;
    memcpy(r->ops, b->q, (size_t)n * sizeof *r->ops);
    r->n = n;
    barrier_cmd(r->cb); /* the uploads and host writes before this batch */
    uint32_t bound = UINT32_MAX;
    for (uint32_t i = 0; i < n && res == VK_SUCCESS; i++) {
        const vk_op *o = &b->q[i];
        if (o->pipe == OP_COPY) {
            if (o->barrier) barrier_cmd(r->cb);
            VkBufferCopy c = {o->base[0], o->base[1], o->range[0]};
            vkCmdCopyBuffer(r->cb, o->buf[0], o->buf[1], 1, &c);
            continue;
        }
        VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
        ai.descriptorPool = r->pool;
        ai.descriptorSetCount = 1;
        ai.pSetLayouts = &b->dsl;
        VkDescriptorSet set;
        res = vkAllocateDescriptorSets(b->dev, &ai, &set);
        if (res != VK_SUCCESS) break;
        VkDescriptorBufferInfo info[N_BINDINGS + 1];
        VkWriteDescriptorSet w[N_BINDINGS + 1];
        for (int k = 0; k <= N_BINDINGS; k++) {
            if (k < N_BINDINGS) {
                info[k].buffer = o->buf[k];
                info[k].offset = o->base[k];
                info[k].range = o->range[k];
            } else {
                info[k].buffer = b->params->buf;
                info[k].offset = 0;
                info[k].range = PC_BYTES;
            }
            memset(&w[k], 0, sizeof w[k]);
            w[k].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
            w[k].dstSet = set;
            w[k].dstBinding = (uint32_t)k;
            w[k].descriptorCount = 1;
            w[k].descriptorType =
                k < N_BINDINGS ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER_DYNAMIC;
            w[k].pBufferInfo = &info[k];
        }
        vkUpdateDescriptorSets(b->dev, N_BINDINGS + 1, w, 0, NULL);
        if (o->barrier == BARRIER_ALL) barrier_cmd(r->cb);
        else if (o->barrier == BARRIER_COMPUTE) barrier_compute_cmd(r->cb);
        if (o->pipe != bound) {
            vkCmdBindPipeline(r->cb, VK_PIPELINE_BIND_POINT_COMPUTE, b->pipes[o->pipe]);
            bound = o->pipe;
        }
        const uint32_t dyn = (uint32_t)(i * b->slot);
        vkCmdBindDescriptorSets(r->cb, VK_PIPELINE_BIND_POINT_COMPUTE, b->layout, 0, 1, &set, 1, &dyn);
        vkCmdDispatch(r->cb, o->gx, o->gy, o->gz);
    }
    barrier_cmd(r->cb); /* for the copies and host reads after it */
    if (res == VK_SUCCESS) res = vkEndCommandBuffer(r->cb);
    return res;
}

static void submit_wait(vkb *b, VkCommandBuffer cb) {
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cb;
    VkResult r = vkQueueSubmit(b->queue, 1, &si, b->fence);
    if (r != VK_SUCCESS) {
        fail(b, "vkQueueSubmit", r);
        return;
    }
    r = vkWaitForFences(b->dev, 1, &b->fence, VK_TRUE, UINT64_MAX);
    if (r != VK_SUCCESS) fail(b, "vkWaitForFences", r);
    vkResetFences(b->dev, 1, &b->fence);
}

/* Submit the queued batch (recorded now, or replayed) and wait for it. */
static int flush(vkb *b) {
    if (b->nq && !b->err) {
        const uint64_t h = hash_ops(b->q, b->nq);
        vk_rec *r = NULL, *lru = &b->rec[0];
        for (int i = 0; i < N_REC && !r; i++) {
            vk_rec *c = &b->rec[i];
            if (c->ops && c->n == b->nq && c->hash == h && !memcmp(c->ops, b->q, (size_t)b->nq * sizeof *b->q))
                r = c;
            if (!c->ops || (lru->ops && c->used < lru->used)) lru = c;
        }
        if (r) b->n_replayed++;
        else {
            rec_drop(b, lru);
            VkResult res = rec_record(b, lru);
            if (res != VK_SUCCESS) {
                rec_drop(b, lru);
                fail(b, "recording a command buffer", res);
            } else {
                lru->hash = h;
                r = lru;
                b->n_recorded++;
            }
        }
        if (r) {
            r->used = ++b->tick;
            submit_wait(b, r->cb);
        }
    }
    b->nq = 0;
    b->nrd = b->nwr = 0;
    memset(b->slot_read, 0, sizeof b->slot_read);
    return report(b);
}

/* Is shader `name` in this build (the coop ones need glslangValidator)? */
static size_t shader_index(const char *name) { /* i4_vk_shader_count when absent */
    size_t i = 0;
    while (i < i4_vk_shader_count && strcmp(i4_vk_shader_table[i].name, name)) i++;
    return i;
}
static int shader_built(const char *name) { return shader_index(name) < i4_vk_shader_count; }

static int pipeline_index(vkb *b, const char *name) {
    size_t i = i4_vk_shader_count;
    if (b->no_f64) { /* its double-free build, where there is one */
        char alt[64];
        snprintf(alt, sizeof alt, "%s_nof64", name);
        i = shader_index(alt);
    }
    if (i == i4_vk_shader_count) i = shader_index(name);
    if (i == i4_vk_shader_count) {
        fail_msg(b, "internal error: no shader of that name");
        return -1;
    }
    if (b->pipes[i]) return (int)i;
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mi.codeSize = i4_vk_shader_table[i].bytes;
    mi.pCode = i4_vk_shader_table[i].words;
    VkShaderModule mod;
    VkResult r = vkCreateShaderModule(b->dev, &mi, NULL, &mod);
    if (r != VK_SUCCESS) {
        fail(b, "vkCreateShaderModule", r);
        return -1;
    }
    VkComputePipelineCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = mod;
    ci.stage.pName = "main";
    VkSpecializationMapEntry me = {0, 0, sizeof(uint32_t)};
    VkSpecializationInfo spec = {1, &me, sizeof b->fma_emulate, &b->fma_emulate};
    ci.stage.pSpecializationInfo = &spec;
    /* The coop GEMM's rows are subgroups of 32: asked for where the device
     * picks the size per pipeline (vk_coop_device.h). */
    VkPipelineShaderStageRequiredSubgroupSizeCreateInfo rss = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO, .requiredSubgroupSize = 32};
    if (!strcmp(name, "linear_coop") && b->coopdev.require_32) {
        ci.stage.pNext = &rss;
        ci.stage.flags |= VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT;
    }
    ci.layout = b->layout;
    r = vkCreateComputePipelines(b->dev, VK_NULL_HANDLE, 1, &ci, NULL, &b->pipes[i]);
    vkDestroyShaderModule(b->dev, mod, NULL);
    if (r != VK_SUCCESS) {
        b->pipes[i] = VK_NULL_HANDLE;
        fail(b, "vkCreateComputePipelines", r);
        return -1;
    }
    return (int)i;
}

/* The bindings a shader writes (bit i = binding i); the others it only reads. */
static unsigned shader_writes(const char *name) {
    if (!strcmp(name, "linear") || !strncmp(name, "linear_", 7) || !strncmp(name, "conv2d", 6)) return 1u << 1;
    return 1u << 0; /* ew, move, norm, rope, attention: binding 0 */
}

/* 0: no range of set overlaps x; 1: a dispatch's does; 2: a copy's does. */
static int overlaps(const vk_range *set, int n, const vk_range *x) {
    int hit = 0;
    for (int i = 0; i < n && hit < 2; i++)
        if (set[i].buf == x->buf && set[i].lo < x->hi && x->lo < set[i].hi) hit = set[i].copy ? 2 : 1;
    return hit;
}

static int max_i(int a, int b) { return a > b ? a : b; }

/* Drop the pending ranges a barrier of this kind orders (a compute barrier:
 * the dispatches' only). */
static int keep_copies(vk_range *set, int n) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (set[i].copy) set[k++] = set[i];
    return k;
}

/* Decide the barrier before op (reading rd, writing wr; a copy when
 * is_copy) against the ranges pending since the last one, and add its own. */
static void track(vkb *b, vk_op *op, const vk_range *rd, int nrd, const vk_range *wr, int nwr, int is_copy,
                  int force_all) {
    int need = force_all || b->nrd + nrd > MAX_PENDING || b->nwr + nwr > MAX_PENDING ? 2 : 0;
    for (int i = 0; i < nrd; i++) need = max_i(need, overlaps(b->wr, b->nwr, &rd[i]));
    for (int i = 0; i < nwr; i++)
        need = max_i(need, max_i(overlaps(b->wr, b->nwr, &wr[i]), overlaps(b->rd, b->nrd, &wr[i])));
    if (need && is_copy) need = 2; /* a copy waits at the transfer stage */
    if (need == 2) {
        op->barrier = BARRIER_ALL;
        b->nrd = b->nwr = 0;
        memset(b->slot_read, 0, sizeof b->slot_read);
    } else if (need == 1) {
        op->barrier = BARRIER_COMPUTE;
        b->nrd = keep_copies(b->rd, b->nrd);
        b->nwr = keep_copies(b->wr, b->nwr);
    }
    if (need) b->n_barriers++;
    memcpy(b->rd + b->nrd, rd, (size_t)nrd * sizeof *rd);
    memcpy(b->wr + b->nwr, wr, (size_t)nwr * sizeof *wr);
    b->nrd += nrd;
    b->nwr += nwr;
}

/* The slot holding streamed group g: copied there now (a copy queued in the
 * batch) when it is in none, into the slot used least recently. -1 on error. */
static int page_in(vkb *b, i4_buf *g) {
    if (g->slot >= 0) {
        b->ring_used[g->slot] = ++b->tick;
        return g->slot;
    }
    if (!g->host || !b->ring[0] || g->bytes > b->ring_bytes) {
        fail_msg(b, "internal error: a streamed weight group used before it was filled");
        return -1;
    }
    if (b->nq == MAX_BATCH && flush(b) != 0) return -1;
    int s = 0;
    for (int i = 1; i < N_SLOTS; i++)
        if (b->ring_used[i] < b->ring_used[s]) s = i;
    if (b->ring_owner[s]) b->ring_owner[s]->slot = -1;
    vk_op *op = &b->q[b->nq];
    memset(op, 0, sizeof *op);
    op->pipe = OP_COPY;
    op->buf[0] = g->host->buf;
    op->buf[1] = b->ring[s]->buf;
    op->range[0] = g->bytes;
    const vk_range rd = {g->host->buf, 0, g->bytes, 1}, wr = {b->ring[s]->buf, 0, g->bytes, 1};
    /* A compute barrier since the dispatches that read the slot does not
     * order this write after them: a full barrier then. */
    track(b, op, &rd, 1, &wr, 1, 1, b->slot_read[s]);
    b->nq++;
    b->n_stream_copies++;
    b->ring_owner[s] = g;
    g->slot = s;
    b->ring_used[s] = ++b->tick;
    return s;
}

/* Queue one dispatch of shader `name` on the views v[0..nv) (none = the
 * dummy buffer); pc (pc_bytes, <= PC_BYTES) starts with the 8 offset words,
* filled in here. */
static void dispatch(vkb *b, const char *name, const i4_dv *v, int nv, void *pc, size_t pc_bytes, uint32_t gx,
                     uint32_t gy, uint32_t gz) {
    size_t ext[N_BINDINGS];
    memcpy(ext, b->ext, sizeof ext);
    memset(b->ext, 0, sizeof b->ext);
    if (b->err || gx == 0 || gy == 0 || gz == 0) return;
    const int pi = pipeline_index(b, name);
    if (pi < 0) return;
    /* Streamed weights into their slots first (copies queued before it). */
    for (int i = 0; i < nv && i < N_BINDINGS; i++)
        if (v[i].buf && v[i].buf->streamed && page_in(b, v[i].buf) < 0) return;
    if (b->nq == MAX_BATCH && flush(b) != 0) return;
    for (int i = 0; i < nv && i < N_BINDINGS; i++)
        if (v[i].buf && v[i].buf->streamed && v[i].buf->slot < 0) {
            fail_msg(b, "an op binds more streamed weight groups than there are device slots");
            return;
        }
    vk_op *op = &b->q[b->nq];
    memset(op, 0, sizeof *op); /* padding too: ops are hashed and compared as bytes */
    op->pipe = (uint32_t)pi;
    op->gx = gx, op->gy = gy, op->gz = gz;
    uint32_t *off = pc;
    const unsigned writes = shader_writes(name);
    vk_range rd[N_BINDINGS], wr[N_BINDINGS];
    int nrd = 0, nwr = 0;
    unsigned slots = 0; /* ring slots it reads */
    for (int i = 0; i < N_BINDINGS; i++) {
        const i4_buf *x = i < nv && v[i].buf ? v[i].buf : b->dummy;
        const size_t o = i < nv && v[i].buf ? v[i].off : 0;
        if (x->streamed) { /* its slot; offsets within the group are offsets in the slot */
            slots |= 1u << x->slot;
            x = b->ring[x->slot];
        }
        const size_t base = o / b->align * b->align;
        size_t range = x->size - base;
        if (range > b->max_range) {
            /* The binding cannot reach the buffer's end: the op must say it
             * stays inside what can be bound, or it is refused. */
            range = b->max_range / 4 * 4;
            const size_t need = ext[i] ? o - base + ext[i] : x->size - base;
            if (need > range) {
                char m[200];
                snprintf(m, sizeof m,
                         "%s: operand %d spans %.1f MiB of one buffer, more than %s binds (maxStorageBufferRange "
                         "%.1f MiB); not supported on this device yet (use --backend cpu)",
                         name, i, mib(need), b->props.deviceName, mib(b->max_range));
                fail_msg(b, m);
                return;
            }
        }
        op->buf[i] = x->buf;
        op->base[i] = base;
        op->range[i] = range;
        off[i] = (uint32_t)(o - base);
        if (x != b->dummy) {
            vk_range g = {x->buf, o, ext[i] ? o + ext[i] : x->size, 0};
            if (writes & (1u << i)) wr[nwr++] = g;
            else rd[nrd++] = g;
        }
    }
    /* A barrier before it when it reads what was written, or writes what was
     * read or written, since the last one. */
    track(b, op, rd, nrd, wr, nwr, 0, 0);
    for (int s = 0; s < N_SLOTS; s++)
        if (slots & (1u << s)) b->slot_read[s] = 1;
    memcpy(b->params_map + (size_t)b->nq * b->slot, pc, pc_bytes);
    b->nq++;
    b->n_dispatches++;
}

/* The bytes the next dispatch reads or writes from each of its views, in
 * binding order (0 = up to the buffer's end); checked against
 * maxStorageBufferRange there. */
static void extents(vkb *b, int n, const size_t *e) {
    for (int i = 0; i < n && i < N_BINDINGS; i++) b->ext[i] = e[i];
}
#define EXTENTS(b, ...)                                                                                               \
    extents((b), (int)(sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t)), (const size_t[]){__VA_ARGS__})
/* Bytes of `rows` rows of `cols` f32 at a row stride of `stride` elements. */
static size_t span(int64_t rows, int64_t stride, int64_t cols) {
    return rows > 0 && cols > 0 ? (size_t)((rows - 1) * stride + cols) * sizeof(float) : 0;
}

/* A 1-D job of n invocations in workgroups of wg, as a 2-D grid (x <= 65535). */
static void grid(int64_t n, uint32_t wg, uint32_t *gx, uint32_t *gy) {
    int64_t groups = (n + wg - 1) / wg;
    *gx = (uint32_t)(groups < 65535 ? groups : 65535);
    *gy = *gx ? (uint32_t)((groups + *gx - 1) / *gx) : 0;
}

/* Element counts and strides are 32-bit in the shaders. */
static int too_big(vkb *b, int64_t n) {
    if (n >= 0 && n <= 0x7fffffff) return 0;
    fail_msg(b, "an op of more than 2^31 elements (not supported by the shaders yet)");
    return 1;
}

/* One copy between buffers, submitted and waited for (queued ops first). */
static int copy_now(vkb *b, VkBuffer src, size_t so, VkBuffer dst, size_t dof, size_t n) {
    if (flush(b) != 0) return -1;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VkResult r = vkBeginCommandBuffer(b->tcb, &bi);
    if (r != VK_SUCCESS) {
        fail(b, "vkBeginCommandBuffer", r);
        return report(b);
    }
    barrier_cmd(b->tcb);
    VkBufferCopy c = {so, dof, n};
    vkCmdCopyBuffer(b->tcb, src, dst, 1, &c);
    barrier_cmd(b->tcb);
    r = vkEndCommandBuffer(b->tcb);
    if (r != VK_SUCCESS) fail(b, "vkEndCommandBuffer", r);
    else submit_wait(b, b->tcb);
    vkResetCommandBuffer(b->tcb, 0);
    return report(b);
}

/* ---- the buffer interface */

static void vk_destroy(i4_backend *be) {
    vkb *b = V(be);
    const char *st = getenv("IDEOGRAM4_VULKAN_STATS");
    if (st && *st && strcmp(st, "0") && b->n_dispatches)
        fprintf(stderr, "vulkan: %llu dispatches, %llu barriers between them; %llu batches recorded, %llu replayed; %llu streamed-weight copies; %llu cooperative-matrix GEMMs\n",
                (unsigned long long)b->n_dispatches, (unsigned long long)b->n_barriers,
                (unsigned long long)b->n_recorded, (unsigned long long)b->n_replayed,
                (unsigned long long)b->n_stream_copies, (unsigned long long)b->n_coop);
    if (b->dev) {
        vkDeviceWaitIdle(b->dev);
        for (size_t i = 0; b->pipes && i < i4_vk_shader_count; i++)
            if (b->pipes[i]) vkDestroyPipeline(b->dev, b->pipes[i], NULL);
        rec_forget(b, VK_NULL_HANDLE);
        free_ring(b);
        if (b->staging_map) vkUnmapMemory(b->dev, b->staging->mem);
        if (b->params_map) vkUnmapMemory(b->dev, b->params->mem);
        free_buffer(b, b->params);
        free_buffer(b, b->staging);
        free_buffer(b, b->dummy);
        if (b->wblock && b->wblock->refs == 1) {
            vk_block *k = b->wblock;
            b->wblock = NULL;
            block_unref(b, k);
        }
        if (b->fence) vkDestroyFence(b->dev, b->fence, NULL);
        if (b->cpool) vkDestroyCommandPool(b->dev, b->cpool, NULL);
        if (b->layout) vkDestroyPipelineLayout(b->dev, b->layout, NULL);
        if (b->dsl) vkDestroyDescriptorSetLayout(b->dev, b->dsl, NULL);
        vkDestroyDevice(b->dev, NULL);
    }
    if (b->inst) vkDestroyInstance(b->inst, NULL);
    free(b->pipes);
    free(b->q);
    free(b);
}

static i4_buf *vk_alloc(i4_backend *be, size_t bytes) {
    return make_buffer(V(be), bytes, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
}

static int vk_upload(i4_backend *be, i4_dv dst, const void *src, size_t bytes) {
    vkb *b = V(be);
    if (dst.buf->streamed) return i4_error("vulkan: streamed weights are written at load only");
    if (dst.off + bytes > dst.buf->bytes) return i4_error("upload of %zu bytes past the end of a buffer", bytes);
    if (b->err) return report(b);
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < STAGING_BYTES ? bytes - done : STAGING_BYTES;
        if (flush(b) != 0) return -1; /* the staging buffer is free once queued work is done */
        memcpy(b->staging_map, (const char *)src + done, n);
        if (copy_now(b, b->staging->buf, 0, dst.buf->buf, dst.off + done, n) != 0) return -1;
        done += n;
    }
    return 0;
}

static i4_buf *vk_wrap(i4_backend *be, const void *host, size_t bytes) {
    i4_buf *x = make_buffer_ex(V(be), bytes, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, 1, 1);
    if (x && vk_upload(be, i4_dv_of(x), host, bytes) != 0) {
        free_buffer(V(be), x);
        return NULL;
    }
    return x;
}

static void vk_release(i4_backend *be, i4_buf *x) {
    vkb *b = V(be);
    flush(b); /* queued ops may still use it */
    free_buffer(b, x);
}

static int vk_download(i4_backend *be, void *dst, i4_dv src, size_t bytes) {
    vkb *b = V(be);
    if (src.buf->streamed) return i4_error("vulkan: streamed weights cannot be downloaded");
    if (src.off + bytes > src.buf->bytes) return i4_error("download of %zu bytes past the end of a buffer", bytes);
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < STAGING_BYTES ? bytes - done : STAGING_BYTES;
        if (copy_now(b, src.buf->buf, src.off + done, b->staging->buf, 0, n) != 0) return -1;
        memcpy((char *)dst + done, b->staging_map, n);
        done += n;
    }
    return report(b);
}

static int vk_sync(i4_backend *be) { return flush(V(be)); }

/* ---- streamed weights (--offload) */

static void free_ring(vkb *b) {
    for (int i = 0; i < N_SLOTS; i++) {
        if (b->ring_owner[i]) b->ring_owner[i]->slot = -1;
        b->ring_owner[i] = NULL;
        b->ring_used[i] = 0;
        free_buffer(b, b->ring[i]);
        b->ring[i] = NULL;
    }
    b->ring_bytes = 0;
}

static i4_buf *vk_stream_new(i4_backend *be) {
    i4_buf *g = calloc(1, sizeof *g);
    if (!g) {
        i4_error("out of memory");
        return NULL;
    }
    g->streamed = 1;
    g->slot = -1;
    V(be)->n_groups++;
    return g;
}

static int vk_stream_fill(i4_backend *be, i4_buf *g, const void *const *parts, const size_t *offs,
                          const size_t *bytes, size_t n, size_t total) {
    vkb *b = V(be);
    if (!g->streamed || g->host) return i4_error("vulkan: internal error: a streamed group filled twice");
    /* Host memory the device copies from: not charged to the device. */
    g->host = make_buffer_ex(b, total, 0, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                             0, 0);
    if (!g->host) return i4_error_prefix("vulkan: host memory for streamed weights");
    void *map = NULL;
    VkResult r = vkMapMemory(b->dev, g->host->mem, 0, VK_WHOLE_SIZE, 0, &map);
    if (r != VK_SUCCESS) return i4_error("vulkan: vkMapMemory of streamed weights failed (%s)", vk_result_name(r));
    memset(map, 0, total);
    for (size_t i = 0; i < n; i++) memcpy((char *)map + offs[i], parts[i], bytes[i]);
    vkUnmapMemory(b->dev, g->host->mem);
    g->bytes = total;
    g->size = g->host->size;
    if (total <= b->ring_bytes) return 0;
    /* A larger group: a new ring of slots its size (the device memory of
     * --offload: N_SLOTS of the largest layer). */
    if (flush(b) != 0) return -1;
    free_ring(b);
    for (int i = 0; i < N_SLOTS; i++)
        if (!(b->ring[i] = make_buffer(b, g->size, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0))) {
            free_ring(b);
            return i4_error_prefix("vulkan: device slots for streamed weights (--offload)");
        }
    b->ring_bytes = g->size;
    return 0;
}

static void vk_prefetch(i4_backend *be, i4_buf *g) {
    vkb *b = V(be);
    if (!b->err && g && g->streamed) page_in(b, g);
}

static const char *device_type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

static const char *vk_describe(i4_backend *be) {
    vkb *b = V(be);
    snprintf(b->desc, sizeof b->desc, "vulkan (%s, %s%s%s%s)", b->props.deviceName,
             device_type_name(b->props.deviceType), b->fma_emulate ? ", fma emulated" : "",
             b->no_f64 ? ", no f64" : "",
             b->coop == 1 ? ", cooperative matrix" : b->coop == 2 ? ", cooperative matrix emulated" : "");
    return b->desc;
}

static const char *vk_kernels(i4_backend *be) { return V(be)->props.deviceName; }

size_t i4_vulkan_max_binding(i4_backend *be) { return V(be)->max_range; }

void i4_vulkan_stats_get(i4_backend *be, i4_vulkan_stats *st) {
    vkb *b = V(be);
    st->dispatches = b->n_dispatches;
    st->barriers = b->n_barriers;
    st->recorded = b->n_recorded;
    st->replayed = b->n_replayed;
    st->stream_copies = b->n_stream_copies;
}

static void vk_memory(i4_backend *be, i4_be_memory *m) {
    vkb *b = V(be);
    m->now = b->mem_now;
    m->peak = b->mem_peak;
    m->capacity = b->capacity;
    snprintf(m->where, sizeof m->where, "%s", b->props.deviceName);
}

/* Host threads for the work around the device (the host's CPUs). */
static int vk_threads(i4_backend *be) {
    (void)be;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? (int)cpus : 1;
}

/* ---- ops: push-constant blocks mirror the shaders' (8 offset words first) */

#define ARGS(...) ((const i4_dv[]){__VA_ARGS__}), (int)(sizeof((const i4_dv[]){__VA_ARGS__}) / sizeof(i4_dv))
static const i4_dv NONE = {NULL, 0};

enum { EW_ADD, EW_MUL, EW_ADDS, EW_MULROWS, EW_GATED, EW_ADDIDX, EW_FILL, EW_SILU, EW_TANH, EW_GUIDE };
typedef struct {
    uint32_t off[8];
    uint32_t op, n, dim, bf;
    float c, gs, dt;
} ew_pc;

static void ew(vkb *b, int op, i4_dv x, i4_dv y, i4_dv g, i4_dv sel, int64_t n, int64_t dim, float c, float gs,
               float dt, i4_precision p) {
    if (too_big(b, n)) return;
    ew_pc pc = {{0}, (uint32_t)op, (uint32_t)n, (uint32_t)(dim > 0 ? dim : 1), p == I4_PRECISION_BF16, c, gs, dt};
    const size_t all = (size_t)n * 4, row = (size_t)(dim > 0 ? dim : 1) * 4;
    /* y: a row (mul_rows), the whole table (add_rows_indexed), else n; g: a row (gated) or n (guidance) */
    EXTENTS(b, all, op == EW_MULROWS ? row : op == EW_ADDIDX ? 0 : all, op == EW_GATED ? row : all,
            (size_t)(n / (dim > 0 ? dim : 1)) * 8);
    uint32_t gx, gy;
    grid(n, 256, &gx, &gy);
    dispatch(b, "ew", ARGS(x, y, g, sel), &pc, sizeof pc, gx, gy, 1);
}

static void vk_add(i4_backend *be, i4_dv x, i4_dv y, int64_t n, i4_precision p) {
    ew(V(be), EW_ADD, x, y, NONE, NONE, n, 1, 0, 0, 0, p);
}
static void vk_mul(i4_backend *be, i4_dv x, i4_dv y, int64_t n, i4_precision p) {
    ew(V(be), EW_MUL, x, y, NONE, NONE, n, 1, 0, 0, 0, p);
}
static void vk_add_scalar(i4_backend *be, i4_dv x, int64_t n, float c, i4_precision p) {
    ew(V(be), EW_ADDS, x, NONE, NONE, NONE, n, 1, c, 0, 0, p);
}
static void vk_mul_rows(i4_backend *be, i4_dv x, i4_dv s, int64_t rows, int64_t dim, i4_precision p) {
    ew(V(be), EW_MULROWS, x, s, NONE, NONE, rows * dim, dim, 0, 0, 0, p);
}
static void vk_gated_add(i4_backend *be, i4_dv h, i4_dv a, i4_dv g, int64_t rows, int64_t dim, i4_precision p) {
    ew(V(be), EW_GATED, h, a, g, NONE, rows * dim, dim, 0, 0, 0, p);
}
static void vk_add_rows_indexed(i4_backend *be, i4_dv h, i4_dv table, i4_dv sel, int64_t rows, int64_t dim,
                                i4_precision p) {
    ew(V(be), EW_ADDIDX, h, table, NONE, sel, rows * dim, dim, 0, 0, 0, p);
}
static void vk_fill(i4_backend *be, i4_dv x, int64_t n, float value) {
    ew(V(be), EW_FILL, x, NONE, NONE, NONE, n, 1, value, 0, 0, I4_PRECISION_F32);
}
static void vk_act(i4_backend *be, i4_act_kind kind, i4_dv x, int64_t n, i4_precision p) {
    ew(V(be), kind == I4_ACT_SILU ? EW_SILU : EW_TANH, x, NONE, NONE, NONE, n, 1, 0, 0, 0, p);
}
/* Device memory stays allocated: nothing to give back between stages. */
static void vk_discard(i4_backend *be, i4_dv v, size_t bytes) {
    (void)be;
    (void)v;
    (void)bytes;
}

static void vk_guidance_step(i4_backend *be, i4_dv z, i4_dv vc, i4_dv vu, int64_t n, float g, float dt) {
    ew(V(be), EW_GUIDE, z, vc, vu, NONE, n, 1, 0, g, dt, I4_PRECISION_F32);
}

enum { MV_GATHER, MV_SCATTER, MV_COPY2D, MV_UPS2X, MV_UNPACK };
typedef struct {
    uint32_t off[8];
    uint32_t op, n, bf;
    uint32_t a[6];
} mv_pc;

static void move(vkb *b, int op, const i4_dv *v, int nv, int64_t n, int bf, const int64_t a[6]) {
    if (too_big(b, n)) {
        memset(b->ext, 0, sizeof b->ext); /* the caller's extents were for this op */
        return;
    }
    mv_pc pc = {{0}, (uint32_t)op, (uint32_t)n, (uint32_t)(bf != 0), {0}};
    for (int i = 0; i < 6; i++) {
        if (too_big(b, a[i])) {
            memset(b->ext, 0, sizeof b->ext);
            return;
        }
        pc.a[i] = (uint32_t)a[i];
    }
    uint32_t gx, gy;
    grid(n, 256, &gx, &gy);
    dispatch(b, "move", v, nv, &pc, sizeof pc, gx, gy, 1);
}

static void vk_gather_rows(i4_backend *be, i4_dv dst, i4_dv src, int64_t ld, i4_dv idx, int64_t n, int round_bf16) {
    const int64_t a[6] = {ld};
    EXTENTS(V(be), span(n, ld, ld), 0, (size_t)n * 8);
    move(V(be), MV_GATHER, ARGS(dst, src, idx), n * ld, round_bf16, a);
}
static void vk_scatter_rows(i4_backend *be, i4_dv dst, i4_dv src, int64_t src_stride, int64_t ld, i4_dv idx,
                            int64_t n) {
    const int64_t a[6] = {ld, src_stride};
    EXTENTS(V(be), 0, span(n, src_stride, ld), (size_t)n * 8);
    move(V(be), MV_SCATTER, ARGS(dst, src, idx), n * ld, 0, a);
}
static void vk_copy2d(i4_backend *be, i4_dv dst, int64_t drs, int64_t dcs, i4_dv src, int64_t srs, int64_t scs,
                      int64_t rows, int64_t cols, int accumulate, i4_precision p) {
    const int64_t a[6] = {cols, drs, dcs, srs, scs, accumulate != 0};
    EXTENTS(V(be), span(rows, drs, (cols - 1) * dcs + 1), span(rows, srs, (cols - 1) * scs + 1));
    move(V(be), MV_COPY2D, ARGS(dst, src), rows * cols, p == I4_PRECISION_BF16, a);
}
static void vk_upsample2x(i4_backend *be, i4_dv y, i4_dv x, int64_t C, int64_t H, int64_t W) {
    const int64_t a[6] = {H, W};
    EXTENTS(V(be), (size_t)(C * 4 * H * W) * 4, (size_t)(C * H * W) * 4);
    move(V(be), MV_UPS2X, ARGS(y, x), C * 4 * H * W, 0, a);
}
static void vk_unpack_latents(i4_backend *be, i4_dv lat, i4_dv tokens, int64_t gh, int64_t gw, int ph, int pw,
                              int64_t ae, i4_dv scale, i4_dv shift) {
    const int64_t a[6] = {gh, gw, ph, pw, ae};
    const size_t nn = (size_t)(ae * gh * ph * gw * pw) * 4, ch = (size_t)(ph * pw * ae) * 4;
    EXTENTS(V(be), nn, nn, 0, ch, ch);
    move(V(be), MV_UNPACK, ARGS(lat, tokens, NONE, scale, shift), ae * gh * ph * gw * pw, 0, a);
}

enum { NORM_RMS, NORM_LAYER, NORM_GROUP };
typedef struct {
    uint32_t off[8];
    uint32_t op, dim, stride, bf;
    uint32_t has_w, wdt, twice, has_b;
    uint32_t HW, cpg;
    float eps;
} norm_pc;

static void norm(vkb *b, norm_pc *pc, i4_dv y, i4_dv x, const i4_dparam *w, const i4_dparam *beta, int64_t groups) {
    const size_t pb = w ? (size_t)w->n * i4_dtype_size(w->dtype) : 0, bb = beta ? (size_t)beta->n * i4_dtype_size(beta->dtype) : 0;
    size_t xs;
    if (pc->op == NORM_GROUP) xs = (size_t)groups * pc->cpg * pc->HW * 4;
    else xs = span(groups, pc->stride, pc->dim);
    EXTENTS(b, xs, xs, pb, bb);
    uint32_t gx, gy;
    grid(groups, 1, &gx, &gy);
    dispatch(b, "norm", ARGS(y, x, w ? w->data : NONE, beta ? beta->data : NONE), pc, sizeof *pc, gx, gy, 1);
}

static int param_ok(vkb *b, const i4_dparam *w) {
    if (!w || w->dtype == I4_DT_F32 || w->dtype == I4_DT_BF16 || w->dtype == I4_DT_F16) return 1;
    fail_msg(b, "norm weights must be F32, BF16 or F16");
    return 0;
}

static void vk_rmsnorm(i4_backend *be, i4_dv y, i4_dv x, int64_t rows, int64_t dim, int64_t stride,
                       const i4_dparam *w, float eps, i4_precision p, i4_rms_rounding r) {
    vkb *b = V(be);
    if (too_big(b, rows * stride) || too_big(b, rows) || !param_ok(b, w)) return;
    norm_pc pc = {{0}, NORM_RMS, (uint32_t)dim, (uint32_t)stride, p == I4_PRECISION_BF16, w != NULL,
                  w ? (uint32_t)w->dtype : 0, r == I4_RMS_ROUND_TWICE, 0, 0, 0, eps};
    norm(b, &pc, y, x, w, NULL, rows);
}

static void vk_layernorm(i4_backend *be, i4_dv y, i4_dv x, int64_t rows, int64_t dim, float eps, i4_precision p) {
    vkb *b = V(be);
    if (too_big(b, rows * dim)) return;
    norm_pc pc = {{0}, NORM_LAYER, (uint32_t)dim, (uint32_t)dim, p == I4_PRECISION_BF16, 0, 0, 0, 0, 0, 0, eps};
    norm(b, &pc, y, x, NULL, NULL, rows);
}

static void vk_groupnorm(i4_backend *be, i4_dv y, i4_dv x, int64_t C, int64_t HW, int64_t groups,
                         const i4_dparam *gamma, const i4_dparam *beta, float eps, i4_precision p) {
    vkb *b = V(be);
    if (too_big(b, C * HW) || !param_ok(b, gamma) || !param_ok(b, beta)) return;
    const i4_dtype dt = gamma ? gamma->dtype : beta ? beta->dtype : I4_DT_F32;
    norm_pc pc = {{0},   NORM_GROUP,        0, 0, p == I4_PRECISION_BF16, gamma != NULL, (uint32_t)dt, 0,
                  beta != NULL, (uint32_t)HW, (uint32_t)(C / groups), eps};
    norm(b, &pc, y, x, gamma, beta, groups);
}

typedef struct {
    uint32_t off[8];
    uint32_t total, n_heads, head_dim, stride, bf;
} rope_pc;

static void vk_rope(i4_backend *be, i4_dv x, int64_t n, int n_heads, int head_dim, int64_t stride, i4_dv cos_tab,
                    i4_dv sin_tab, i4_precision p) {
    vkb *b = V(be);
    const int64_t total = n * n_heads * (head_dim / 2);
    if (too_big(b, n * stride) || too_big(b, total)) return;
    rope_pc pc = {{0}, (uint32_t)total, (uint32_t)n_heads, (uint32_t)head_dim, (uint32_t)stride,
                  p == I4_PRECISION_BF16};
    uint32_t gx, gy;
    grid(total, 256, &gx, &gy);
    EXTENTS(b, span(n, stride, (int64_t)n_heads * head_dim));
    dispatch(b, "rope", ARGS(x, cos_tab, sin_tab), &pc, sizeof pc, gx, gy, 1);
}

typedef struct {
    uint32_t off[8];
    uint32_t dtype, per_tensor, has_bias, bias_dtype;
    uint32_t n_out, n_in, n_tok, x_stride, y_stride, bf;
} linear_pc;

static void vk_linear(i4_backend *be, const i4_dlinear *W, i4_dv x, int64_t xs, int64_t n, i4_dv y, int64_t ys,
                      i4_precision p) {
    vkb *b = V(be);
    if (too_big(b, W->out * W->in) || too_big(b, n * xs) || too_big(b, n * ys)) return;
    if (W->dtype != I4_DT_F8_E4M3 && W->dtype != I4_DT_BF16 && W->dtype != I4_DT_F16 && W->dtype != I4_DT_F32) {
        fail_msg(b, "linear: weight dtype not supported");
        return;
    }
    linear_pc pc = {{0},
                    (uint32_t)W->dtype,
                    (uint32_t)(W->scale_per_tensor != 0),
                    W->bias.buf != NULL,
                    (uint32_t)W->bias_dtype,
                    (uint32_t)W->out,
                    (uint32_t)W->in,
                    (uint32_t)n,
                    (uint32_t)xs,
                    (uint32_t)ys,
                    p == I4_PRECISION_BF16};
    const uint32_t gx = (uint32_t)((W->out + 63) / 64), gy = (uint32_t)((n + 63) / 64);
    if (gx > 65535 || gy > 65535) {
        fail_msg(b, "linear: too many outputs or tokens for one dispatch");
        return;
    }
    EXTENTS(b, span(n, xs, W->in), span(n, ys, W->out), (size_t)(W->out * W->in) * i4_dtype_size(W->dtype),
            (size_t)(W->scale_per_tensor ? 1 : W->out) * 4, (size_t)W->out * i4_dtype_size(W->bias_dtype));
    const char *shader = "linear";
    if (i4_vk_coop_for_linear(b->coop != 0, p == I4_PRECISION_BF16, W->dtype)) {
        shader = b->coop == 2 ? "linear_coop_emu" : "linear_coop";
        b->n_coop++;
    }
    dispatch(b, shader, ARGS(x, y, W->w, W->dtype == I4_DT_F8_E4M3 ? W->scale : NONE, W->bias), &pc, sizeof pc, gx,
             gy, 1);
}

typedef struct {
    uint32_t off[8];
    uint32_t nq, nk, n_heads, n_kv_heads, head_dim;
    uint32_t os, qs, ks, vs, mask, bf;
    float scale;
} attn_pc;

static void vk_attention(i4_backend *be, i4_dv out, int64_t os, i4_dv q, int64_t qs, i4_dv k, int64_t ks, i4_dv v,
                         int64_t vs, int64_t nq, int64_t nk, int n_heads, int n_kv_heads, int head_dim, float scale,
                         i4_mask_kind mask, i4_dv seg, i4_precision p) {
    vkb *b = V(be);
    if (too_big(b, nq * os) || too_big(b, nq * qs) || too_big(b, nk * ks) || too_big(b, nk * vs)) return;
    if (head_dim > 256 || n_heads > 65535) {
        fail_msg(b, "attention: head_dim > 256 or more than 65535 heads");
        return;
    }
    attn_pc pc = {{0},          (uint32_t)nq, (uint32_t)nk,      (uint32_t)n_heads, (uint32_t)n_kv_heads,
                  (uint32_t)head_dim, (uint32_t)os, (uint32_t)qs, (uint32_t)ks,      (uint32_t)vs,
                  (uint32_t)mask, p == I4_PRECISION_BF16, scale};
    const uint32_t gx = (uint32_t)((nq + 63) / 64);
    EXTENTS(b, span(nq, os, (int64_t)n_heads * head_dim), span(nq, qs, (int64_t)n_heads * head_dim),
            span(nk, ks, (int64_t)n_kv_heads * head_dim), span(nk, vs, (int64_t)n_kv_heads * head_dim),
            (size_t)(nq > nk ? nq : nk) * 8);
    dispatch(b, "attention", ARGS(out, q, k, v, mask == I4_MASK_SEGMENT ? seg : NONE), &pc, sizeof pc, gx,
             (uint32_t)n_heads, 1);
}

typedef struct {
    uint32_t off[8];
    uint32_t c_out, c_in, ksz, H, W, OH, OW, pad;
    uint32_t dtype, has_bias, bias_dtype, bf;
} conv_pc;

static void vk_conv2d(i4_backend *be, const i4_dconv *Wt, i4_dv x, int64_t H, int64_t Wd, int pad, i4_dv y,
                      i4_precision p) {
    vkb *b = V(be);
    const int64_t OH = H + 2 * pad - Wt->k + 1, OW = Wd + 2 * pad - Wt->k + 1;
    if (too_big(b, Wt->c_out * OH * OW) || too_big(b, Wt->c_in * H * Wd) ||
        too_big(b, Wt->c_out * Wt->c_in * Wt->k * Wt->k))
        return;
    if (Wt->dtype != I4_DT_BF16 && Wt->dtype != I4_DT_F16 && Wt->dtype != I4_DT_F32) {
        fail_msg(b, "conv2d: weight dtype not supported");
        return;
    }
    conv_pc pc = {{0},
                  (uint32_t)Wt->c_out,
                  (uint32_t)Wt->c_in,
                  (uint32_t)Wt->k,
                  (uint32_t)H,
                  (uint32_t)Wd,
                  (uint32_t)OH,
                  (uint32_t)OW,
                  (uint32_t)pad,
                  (uint32_t)Wt->dtype,
                  Wt->bias.buf != NULL,
                  (uint32_t)Wt->bias_dtype,
                  p == I4_PRECISION_BF16};
    EXTENTS(b, (size_t)(Wt->c_in * H * Wd) * 4, (size_t)(Wt->c_out * OH * OW) * 4,
            (size_t)(Wt->c_out * Wt->c_in * Wt->k * Wt->k) * i4_dtype_size(Wt->dtype),
            (size_t)Wt->c_out * i4_dtype_size(Wt->bias_dtype));
    /* workgroups of 64 output pixels (x, y) x BM output channels (z): the
     * tile of shaders/conv2d.glsl; BM = 32 (conv2d_c32) when c_out <= 32 */
    const int64_t bm = Wt->c_out <= 32 ? 32 : 64;
    uint32_t gx, gy;
    grid(OH * OW, 64, &gx, &gy);
    dispatch(b, bm == 32 ? "conv2d_c32" : "conv2d", ARGS(x, y, Wt->w, Wt->bias), &pc, sizeof pc, gx, gy,
             (uint32_t)((Wt->c_out + bm - 1) / bm));
}

static const i4_backend_ops vk_ops = {
    .name = "vulkan",
    .destroy = vk_destroy,
    .alloc = vk_alloc,
    .wrap = vk_wrap,
    .release = vk_release,
    .upload = vk_upload,
    .download = vk_download,
    .sync = vk_sync,
    .describe = vk_describe,
    .kernels = vk_kernels,
    .memory = vk_memory,
    .threads = vk_threads,
    .linear = vk_linear,
    .rmsnorm = vk_rmsnorm,
    .layernorm = vk_layernorm,
    .groupnorm = vk_groupnorm,
    .act = vk_act,
    .rope = vk_rope,
    .attention = vk_attention,
    .conv2d = vk_conv2d,
    .upsample2x = vk_upsample2x,
    .add = vk_add,
    .mul = vk_mul,
    .add_scalar = vk_add_scalar,
    .mul_rows = vk_mul_rows,
    .gated_add = vk_gated_add,
    .add_rows_indexed = vk_add_rows_indexed,
    .gather_rows = vk_gather_rows,
    .scatter_rows = vk_scatter_rows,
    .copy2d = vk_copy2d,
    .fill = vk_fill,
    .unpack_latents = vk_unpack_latents,
    .guidance_step = vk_guidance_step,
    .discard = vk_discard,
    .stream_new = vk_stream_new,
    .stream_fill = vk_stream_fill,
    .prefetch = vk_prefetch,
};

/* ---- instance, devices */

static int make_instance(VkInstance *inst) {
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "ideogram4";
    app.pEngineName = "ideogram4.c";
    /* 1.3: the highest this code uses (the cooperative-matrix path's
     * features); each device still runs at its own version. */
    app.apiVersion = VK_API_VERSION_1_3;
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    /* Portability drivers (MoltenVK on Apple) are listed only to an instance
     * that asks for them (loader 1.3.216 and later). */
    const char *portability = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
    uint32_t n_ext = 0;
    if (vkEnumerateInstanceExtensionProperties(NULL, &n_ext, NULL) == VK_SUCCESS && n_ext) {
        VkExtensionProperties *ext = calloc(n_ext, sizeof *ext);
        if (ext && vkEnumerateInstanceExtensionProperties(NULL, &n_ext, ext) == VK_SUCCESS)
            for (uint32_t i = 0; i < n_ext; i++)
                if (!strcmp(ext[i].extensionName, portability)) {
                    ci.enabledExtensionCount = 1;
                    ci.ppEnabledExtensionNames = &portability;
                    ci.flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
                }
        free(ext);
    }
    VkResult r = vkCreateInstance(&ci, NULL, inst);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        return i4_error("no Vulkan driver (vkCreateInstance: %s)", vk_result_name(r));
    if (r != VK_SUCCESS) return i4_error("vkCreateInstance failed (%s)", vk_result_name(r));
    return 0;
}

/* Physical devices of the instance (malloc'd; *n of them). */
static VkPhysicalDevice *devices(VkInstance inst, uint32_t *n) {
    *n = 0;
    if (vkEnumeratePhysicalDevices(inst, n, NULL) != VK_SUCCESS || *n == 0) return NULL;
    VkPhysicalDevice *d = calloc(*n, sizeof *d);
    if (d && vkEnumeratePhysicalDevices(inst, n, d) < 0) {
        free(d);
        d = NULL;
        *n = 0;
    }
    return d;
}

static int compute_queue_family(VkPhysicalDevice d, uint32_t *fam) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(d, &n, NULL);
    VkQueueFamilyProperties q[32];
    if (n > 32) n = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(d, &n, q);
    for (uint32_t i = 0; i < n; i++)
        if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            *fam = i;
            return 0;
        }
    return -1;
}

static int device_score(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static int setup_device(vkb *b) {
    VkPhysicalDeviceFeatures have;
    vkGetPhysicalDeviceFeatures(b->pdev, &have);
    const char *nf = getenv("IDEOGRAM4_VULKAN_NO_F64");
    b->no_f64 = !have.shaderFloat64 || (nf && *nf && strcmp(nf, "0"));
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qi.queueFamilyIndex = b->qfam;
    qi.queueCount = 1;
    qi.pQueuePriorities = &prio;
    VkPhysicalDeviceFeatures feat = {0};
    feat.shaderFloat64 = b->no_f64 ? VK_FALSE : VK_TRUE;
    VkDeviceCreateInfo di = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    di.pEnabledFeatures = &feat;
    /* The cooperative-matrix GEMM: its extension and the features its SPIR-V
     * declares (Float16, VulkanMemoryModel; subgroup size control where the
     * size must be asked for). */
    const char *coop_ext = "VK_KHR_cooperative_matrix";
    i4_vk_coop_features cf = {.sType = I4_VK_STYPE_COOP_FEATURES, .cooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                            .pNext = &cf,
                                            .shaderFloat16 = VK_TRUE,
                                            .vulkanMemoryModel = VK_TRUE};
    VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES,
                                            .pNext = &f12,
                                            .subgroupSizeControl = VK_TRUE,
                                            .computeFullSubgroups = VK_TRUE};
    /* A portability device (MoltenVK) must have VK_KHR_portability_subset
     * enabled when it lists it. */
    const char *dev_ext[2];
    uint32_t n_dev_ext = 0;
    if (i4_vk_has_extension(b->pdev, "VK_KHR_portability_subset")) dev_ext[n_dev_ext++] = "VK_KHR_portability_subset";
    if (b->coop == 1) {
        dev_ext[n_dev_ext++] = coop_ext;
        di.pNext = b->coopdev.require_32 ? (void *)&f13 : (void *)&f12;
    }
    di.enabledExtensionCount = n_dev_ext;
    di.ppEnabledExtensionNames = n_dev_ext ? dev_ext : NULL;
    VkResult r = vkCreateDevice(b->pdev, &di, NULL, &b->dev);
    if (r != VK_SUCCESS) return i4_error("vkCreateDevice failed (%s)", vk_result_name(r));
    vkGetDeviceQueue(b->dev, b->qfam, 0, &b->queue);

    /* bindings 0-7: the op's views; 8: its parameter block (a slot of the
     * param buffer, at a dynamic offset) */
    VkDescriptorSetLayoutBinding lb[N_BINDINGS + 1];
    for (int i = 0; i <= N_BINDINGS; i++) {
        memset(&lb[i], 0, sizeof lb[i]);
        lb[i].binding = (uint32_t)i;
        lb[i].descriptorType = i < N_BINDINGS ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER_DYNAMIC;
        lb[i].descriptorCount = 1;
        lb[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    li.bindingCount = N_BINDINGS + 1;
    li.pBindings = lb;
    r = vkCreateDescriptorSetLayout(b->dev, &li, NULL, &b->dsl);
    VkPipelineLayoutCreateInfo pli = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pli.setLayoutCount = 1;
    pli.pSetLayouts = &b->dsl;
    if (r == VK_SUCCESS) r = vkCreatePipelineLayout(b->dev, &pli, NULL, &b->layout);
    VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cpi.queueFamilyIndex = b->qfam;
    if (r == VK_SUCCESS) r = vkCreateCommandPool(b->dev, &cpi, NULL, &b->cpool);
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cai.commandPool = b->cpool;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    if (r == VK_SUCCESS) r = vkAllocateCommandBuffers(b->dev, &cai, &b->tcb);
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (r == VK_SUCCESS) r = vkCreateFence(b->dev, &fi, NULL, &b->fence);
    if (r != VK_SUCCESS) return i4_error("vulkan: device setup failed (%s)", vk_result_name(r));

    b->pipes = calloc(i4_vk_shader_count, sizeof *b->pipes);
    b->q = calloc(MAX_BATCH, sizeof *b->q);
    if (!b->pipes || !b->q) return i4_error("out of memory");
    b->align = b->props.limits.minStorageBufferOffsetAlignment ? b->props.limits.minStorageBufferOffsetAlignment : 1;
    b->max_range = b->props.limits.maxStorageBufferRange;
    b->slot = (PC_BYTES + b->align - 1) / b->align * b->align;
    b->dummy = make_buffer(b, 16, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
    b->staging = make_buffer_ex(b, STAGING_BYTES, VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                                VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 0, 0);
    /* the parameter blocks: written by the host, read by every dispatch */
    b->params = make_buffer_ex(b, MAX_BATCH * b->slot, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                               VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 0, 0);
    if (!b->dummy || !b->staging || !b->params) return -1;
    r = vkMapMemory(b->dev, b->params->mem, 0, VK_WHOLE_SIZE, 0, (void **)&b->params_map);
    if (r != VK_SUCCESS) return i4_error("vulkan: cannot map the parameter buffer (%s)", vk_result_name(r));
    r = vkMapMemory(b->dev, b->staging->mem, 0, VK_WHOLE_SIZE, 0, &b->staging_map);
    if (r != VK_SUCCESS) return i4_error("vulkan: cannot map the staging buffer (%s)", vk_result_name(r));
    return 0;
}

static void drop_pipelines(vkb *b) {
    rec_forget(b, VK_NULL_HANDLE);
    for (size_t i = 0; i < i4_vk_shader_count; i++)
        if (b->pipes[i]) {
            vkDestroyPipeline(b->dev, b->pipes[i], NULL);
            b->pipes[i] = VK_NULL_HANDLE;
        }
}

/* Does this device's fma() round once? x.w = -1*1 + (1+2^-23)(1-2^-23) is
 * -2^-46 with a fused multiply-add and 0 without. When it does not (lavapipe),
 * the shaders are made again with FMA_EMULATE (common.glsl). */
static int probe_fma(vkb *b) {
    const float x[2] = {-1.0f, 1.0f + 0x1p-23f}, w[2] = {1.0f, 1.0f - 0x1p-23f};
    i4_buf *bx = vk_wrap(&b->base, x, sizeof x), *bw = vk_wrap(&b->base, w, sizeof w);
    i4_buf *by = vk_alloc(&b->base, sizeof(float));
    float y = 1.0f;
    int rc = -1;
    if (bx && bw && by) {
        i4_dlinear W = {I4_DT_F32, i4_dv_of(bw), NONE, 0, I4_DT_F32, NONE, 1, 2};
        vk_linear(&b->base, &W, i4_dv_of(bx), 2, 1, i4_dv_of(by), 1, I4_PRECISION_F32);
        rc = vk_download(&b->base, &y, i4_dv_of(by), sizeof y);
    }
    if (bx) free_buffer(b, bx);
    if (bw) free_buffer(b, bw);
    if (by) free_buffer(b, by);
    if (rc != 0) return -1;
    if (y != -0x1p-46f && !b->no_f64) { /* the emulation needs double */
        drop_pipelines(b);
        b->fma_emulate = 1;
    }
    return 0;
}


/* The capacity device allocations are checked against: the largest
 * device-local heap, or this process's budget in it (VK_EXT_memory_budget),
 * or less with $IDEOGRAM4_VULKAN_MEMORY_MIB (a GPU shared with other work;
 * the tests use it to see the "does not fit" path on any device). */
static void device_capacity(vkb *b) {
    uint32_t heap = UINT32_MAX;
    for (uint32_t h = 0; h < b->memp.memoryHeapCount; h++)
        if ((b->memp.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            (heap == UINT32_MAX || b->memp.memoryHeaps[h].size > b->memp.memoryHeaps[heap].size))
            heap = h;
    if (heap == UINT32_MAX) return; /* no device-local heap: unknown, not checked */
    b->capacity = (size_t)b->memp.memoryHeaps[heap].size;
    if (i4_vk_has_extension(b->pdev, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME)) {
        VkPhysicalDeviceMemoryBudgetPropertiesEXT bud = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
        VkPhysicalDeviceMemoryProperties2 mp2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
        mp2.pNext = &bud;
        vkGetPhysicalDeviceMemoryProperties2(b->pdev, &mp2);
        if (bud.heapBudget[heap] > 0 && bud.heapBudget[heap] < b->capacity) {
            b->capacity = (size_t)bud.heapBudget[heap];
            b->budget_ext = 1;
        }
    }
    const char *lim = getenv("IDEOGRAM4_VULKAN_MEMORY_MIB");
    if (lim && *lim) {
        char *end;
        const double v = strtod(lim, &end); /* MiB, fractions too (the tiny model's layers are kilobytes) */
        if (!*end && v > 0 && v * (1 << 20) < (double)b->capacity) b->capacity = (size_t)(v * (1 << 20));
    }
}

int i4_vulkan_backend_create(int device, int allow_cpu_device, i4_backend **out) {
    *out = NULL;
    vkb *b = calloc(1, sizeof *b);
    if (!b) return i4_error("out of memory");
    b->base.ops = &vk_ops;
    if (make_instance(&b->inst) != 0) {
        free(b);
        return -1;
    }
    uint32_t n;
    VkPhysicalDevice *d = devices(b->inst, &n);
    int best = -1, best_score = 0, cpu_only = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (device >= 0 && (uint32_t)device != i) continue;
        VkPhysicalDeviceProperties pr;
        vkGetPhysicalDeviceProperties(d[i], &pr);
        uint32_t fam;
        if (compute_queue_family(d[i], &fam) != 0) continue;
        int s = device_score(pr.deviceType);
        if (pr.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU && !allow_cpu_device) {
            cpu_only = 1;
            continue;
        }
        if (s > best_score || best < 0) {
            best = (int)i;
            best_score = s;
            b->qfam = fam;
            b->pdev = d[i];
            b->props = pr;
        }
    }
    free(d);
    if (best < 0) {
        vkDestroyInstance(b->inst, NULL);
        free(b);
        if (device >= 0 && (uint32_t)device >= n)
            return i4_error("no Vulkan device %d (%u device%s)", device, n, n == 1 ? "" : "s");
        if (cpu_only) return i4_error("only CPU Vulkan devices (lavapipe), no GPU");
        return i4_error("no Vulkan device with a compute queue");
    }
    vkGetPhysicalDeviceMemoryProperties(b->pdev, &b->memp);
    device_capacity(b);
    /* Linears in bf16 mode on cooperative matrices where the device has
     * them and this build has the shader; IDEOGRAM4_VULKAN_COOPMAT=off keeps
     * the shared-memory GEMM, =emulate runs the coop tiling as plain loops
     * (the test of it on devices without the extension). */
    i4_vk_coop_query(b->inst, b->pdev, &b->coopdev);
    const char *cm = getenv("IDEOGRAM4_VULKAN_COOPMAT");
    if (cm && !strcmp(cm, "emulate")) b->coop = 2;
    else if (!(cm && (!strcmp(cm, "off") || !strcmp(cm, "0") || !strcmp(cm, "no"))) &&
             i4_vk_coop_device_ok(&b->coopdev) && shader_built("linear_coop"))
        b->coop = 1;
    if (setup_device(b) != 0 || probe_fma(b) != 0) {
        vk_destroy(&b->base);
        return -1;
    }
    b->mem_peak = b->mem_now; /* the peak of the model's buffers, not of the probe's */
    *out = &b->base;
    return 0;
}

/* ---- `ideogram4 devices` */


int i4_vulkan_list_devices(FILE *f) {
    VkInstance inst;
    if (make_instance(&inst) != 0) return -1;
    uint32_t n;
    VkPhysicalDevice *d = devices(inst, &n);
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties pr;
        vkGetPhysicalDeviceProperties(d[i], &pr);
        VkPhysicalDeviceMemoryProperties mp;
        vkGetPhysicalDeviceMemoryProperties(d[i], &mp);
        double local = 0;
        for (uint32_t h = 0; h < mp.memoryHeapCount; h++)
            if (mp.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) local += (double)mp.memoryHeaps[h].size;
        VkPhysicalDeviceShaderFloat16Int8Features f16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
        VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
        f2.pNext = &f16;
        vkGetPhysicalDeviceFeatures2(d[i], &f2);
        uint32_t fam;
        const int compute = compute_queue_family(d[i], &fam) == 0;
        i4_vk_coop_device cd;
        i4_vk_coop_query(inst, d[i], &cd);
        char coop[512];
        i4_vk_coop_describe(&cd, shader_built("linear_coop"), coop, sizeof coop);
        fprintf(f, "%u: %s (%s), %.1f GiB device memory, Vulkan %u.%u\n", i, pr.deviceName,
                device_type_name(pr.deviceType), local / (1 << 30), VK_API_VERSION_MAJOR(pr.apiVersion),
                VK_API_VERSION_MINOR(pr.apiVersion));
        fprintf(f, "   compute queue %s, f64 %s, f16 %s, int8 %s, bf16 %s, cooperative matrix %s\n",
                compute ? "yes" : "no", f2.features.shaderFloat64 ? "yes" : "no",
                f16.shaderFloat16 ? "yes" : "no", f16.shaderInt8 ? "yes" : "no",
                i4_vk_has_extension(d[i], "VK_KHR_shader_bfloat16") ? "yes" : "no",
                cd.has_extension ? "VK_KHR_cooperative_matrix" : "no");
        if (cd.has_extension) fprintf(f, "   cooperative matrix: %s\n", coop);
    }
    free(d);
    vkDestroyInstance(inst, NULL);
    return (int)n;
}
