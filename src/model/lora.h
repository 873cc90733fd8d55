/*
 * lora.h — LoRA / LoKr adapters for the Ideogram 4 transformer (docs/MODEL.md §9).
 *
 * A LoRA file is parsed once (i4_lora_open: key format, prefixes, pairing,
 * per-module scale) and applied to one DiT through a stack
 * (i4_lora_stack_*), which merges W' = W + sum_i strength_i * dW_i into owned
 * copies of the affected Linears only and installs them with
 * i4_dit_set_linear; the checkpoint's mmap'd weights are never written, so
 * removing a LoRA is dropping the copies. Apply the stack to the conditional
 * transformer only (the standard practice, docs/MODEL.md §9.1); the caller decides.
 *
 * Threading: parsing and merging use the OpenMP pool; a stack must not change
 * while its DiT runs a forward on another thread (the caller serialises).
 */
#ifndef I4_LORA_H
#define I4_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "ideogram4.h"
#include "model/dit.h"

typedef struct i4_lora i4_lora;

/* Parse a .safetensors LoRA file. Accepted (docs/MODEL.md §9.2):
 *   PEFT / diffusers   P.lora_A.weight [r, in], P.lora_B.weight [out, r], optional P.alpha;
 *                      alpha may also come from the diffusers header entry
 *                      "lora_adapter_metadata" (lora_alpha, alpha_pattern, use_rslora)
 *   kohya (dotted)     P.lora_down.weight, P.lora_up.weight, P.alpha
 *   kohya (flattened)  lora_unet_<P with '.' -> '_'>.lora_down.weight ... (resolved
 *                      against the model's module names when applied)
 *   LyCORIS LoKr       P.lokr_w1 | P.lokr_w1_a + P.lokr_w1_b, P.lokr_w2 | P.lokr_w2_a + P.lokr_w2_b, P.alpha
 * Prefixes stripped: base_model.model., model.diffusion_model., diffusion_model.,
 * conditional_transformer., transformer. (or none). diffusers split names
 * attention.to_q/to_k/to_v map to row thirds of attention.qkv,
 * attention.to_out.0 to attention.o. Anything else (DoRA scales, LoHa, conv
 * Tucker cores, LoRA biases, a lora_A without its lora_B, ...) is an error
 * naming the key. The file stays mapped until i4_lora_close. */
int i4_lora_open(i4_lora **out, const char *path);
/* "peft", "kohya" or "lokr" (LoKr if any module is LoKr; kohya if any uses lora_down/up). */
const char *i4_lora_format(const i4_lora *l);
const char *i4_lora_path(const i4_lora *l);
/* File name without directory and without ".safetensors". */
const char *i4_lora_name(const i4_lora *l);
/* Number of target modules (one per (module, row block) group of keys). */
size_t i4_lora_module_count(const i4_lora *l);
void i4_lora_close(i4_lora *l);

/* The pure merge step, exposed for tests and tools: add coef * dW of every
 * group of l that targets the official module path `path` (e.g.
 * "layers.0.attention.qkv"; flattened kohya names match their '_' form) to
 * delta [out, in] (f32, row-major), where [out, in] is that module's weight
 * shape. dW = scale * B·A (LoRA) or scale * kron(W1, W2) (LoKr); split
 * to_q/to_k/to_v groups fill their own third of the rows. Returns the number
 * of groups added, or -1 (shape mismatch, named) with nothing added. */
int i4_lora_accumulate_delta(const i4_lora *l, const char *path, int64_t out, int64_t in, float coef, float *delta);

/* ---- A set of LoRAs applied to one DiT ----
 * Merged copies of the affected layers only: F32 in f32 mode (base decoded
 * exactly, e4m3·scale), BF16 in bf16 mode (base bf16(e4m3·bf16(scale)),
 * W + sum computed in f32, rounded to bf16 once; docs/MODEL.md §9.3). LoRAs with
 * strength 0 contribute nothing (their modules keep the checkpoint weights).
 * The stack borrows each i4_lora: keep it open while it is in the stack. */
typedef struct i4_lora_stack i4_lora_stack;

/* p must be the precision the DiT was loaded with (it picks the base decode
 * rule and the stored dtype of the merged copies). */
i4_lora_stack *i4_lora_stack_new(i4_dit *m, i4_precision p);
/* Validate every key of l against the model (unknown module paths and shape
 * mismatches are errors naming the key, the module and the shapes; nothing is
 * applied on error), then re-merge the modules l touches. */
int i4_lora_stack_add(i4_lora_stack *s, const i4_lora *l, float strength);
/* Remove every LoRA whose path or name equals name_or_path ("x", "x.safetensors"
 * or the full path); re-merges the modules they touched from the remaining
 * LoRAs. Error when none matches. */
int i4_lora_stack_remove(i4_lora_stack *s, const char *name_or_path);
/* Restore every module to the checkpoint's weights and empty the stack. */
int i4_lora_stack_remove_all(i4_lora_stack *s);
size_t i4_lora_stack_count(const i4_lora_stack *s);
/* Number of modules currently replaced by merged copies. */
size_t i4_lora_stack_modules(const i4_lora_stack *s);
/* The merged copy installed for an official module path (F32 or BF16 weights
 * + the checkpoint's bias), or NULL when the module has the checkpoint's own
 * weights. Valid until the stack changes. */
const i4_linear_w *i4_lora_stack_weight(const i4_lora_stack *s, const char *path);
/* Restores the model and frees the merged copies. */
void i4_lora_stack_free(i4_lora_stack *s);

#endif
