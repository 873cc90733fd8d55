#version 450
// linear_coop_emu.comp — linear_coop.glsl without cooperative matrices: the
// same tiles, loads, decode and stores, the products as plain loops (the
// test of the coop path's tiling on devices without the extension).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "linear_coop.glsl"
