#version 450
// linear_coop.comp — linear_coop.glsl on VK_KHR_cooperative_matrix; compiled
// by glslangValidator (glslc of shaderc 2023.2 does not know the extension),
// only when that is installed (scripts/setup.sh: .venv-glslang).
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#define COOP 1
#include "../common.glsl"
#include "../linear_coop.glsl"
