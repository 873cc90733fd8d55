#version 450
// conv2d_c32.comp — conv2d.comp with 32 output channels per workgroup (for
// c_out <= 32; vk_backend.c picks it). The code is in conv2d.glsl.
#extension GL_GOOGLE_include_directive : require

#define LY 4u // invocations along output channels: BM = 32
#include "conv2d.glsl"
