#pragma once
// HugeCTR's `Check_t::Sum` checksum: the wrapping signed 8-bit sum of a unit's payload bytes.

#include <cstddef>
#include <cstdint>

namespace hugectr_tf {

// Returns the sum of `size` bytes, each read as int8, wrapping modulo 256 (as int8).
int8_t SumChecksum(const void* data,  // (size) bytes
                   size_t size);

}  // namespace hugectr_tf
