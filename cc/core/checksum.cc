#include "cc/core/checksum.h"

namespace hugectr_tf {

int8_t SumChecksum(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  uint8_t sum = 0;  // unsigned arithmetic wraps by definition; the bit pattern equals int8 wrap
  for (size_t i = 0; i < size; ++i) sum = static_cast<uint8_t>(sum + bytes[i]);
  return static_cast<int8_t>(sum);
}

}  // namespace hugectr_tf
