// stored.glsl — reading stored (weight) bytes through a uint[] binding.
// Requires: a buffer block array named STORED_ARRAY of uint (define before including).

uint stored_byte(uint byte_off) { return (STORED_ARRAY[byte_off >> 2] >> (8u * (byte_off & 3u))) & 0xffu; }
uint stored_half(uint byte_off) { return (STORED_ARRAY[byte_off >> 2] >> (8u * (byte_off & 2u))) & 0xffffu; }

// Element i of a stored vector of dtype dt starting at byte byte_off, widened to f32.
float stored_f32(uint dt, uint byte_off, uint i) {
    if (dt == DT_F8) return e4m3_to_f32(stored_byte(byte_off + i));
    if (dt == DT_BF16) return uintBitsToFloat(stored_half(byte_off + 2u * i) << 16);
    if (dt == DT_F16) return f16_to_f32(stored_half(byte_off + 2u * i));
    return uintBitsToFloat(STORED_ARRAY[(byte_off >> 2) + i]);
}
