#pragma once
// A fixed-capacity array backed by an anonymous memory mapping: the whole capacity is reserved
// as address space up front (MAP_NORESERVE, so no memory is committed), pages are zero until
// first written. Growing the table therefore never copies or zero-fills rows. (Asking for
// transparent huge pages was tried: synchronous compaction made inserts slower and erratic.)

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

#include "cc/core/check.h"

namespace hugectr_tf {

template <typename T>
class MappedArray {
 public:
  MappedArray() = default;
  ~MappedArray() { Release(); }
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;

  // Reserves room for `capacity` elements (discarding previous contents).
  void Reserve(int64_t capacity) {
    Release();
    bytes_ = static_cast<size_t>(capacity > 0 ? capacity : 1) * sizeof(T);
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    HCTR_CHECK_CODE(p != MAP_FAILED, ErrorCode::kResourceExhausted,
                    "could not reserve " << bytes_
                                         << " bytes of address space for the table's workspace: "
                                            "lower workspace_size_per_gpu_in_mb");
    data_ = static_cast<T*>(p);
  }

  // Commits the pages of elements [begin, begin + count) in one call (MADV_POPULATE_WRITE) instead
  // of one page fault per page on first write; a kernel without it (before Linux 5.14) refuses
  // the advice and the pages fault in on first write as before.
  void Populate(int64_t begin, int64_t count) {
#ifdef MADV_POPULATE_WRITE
    if (data_ == nullptr || count <= 0) return;
    const uintptr_t page = 4096;
    const uintptr_t lo = reinterpret_cast<uintptr_t>(data_ + begin) & ~(page - 1);
    const uintptr_t hi = reinterpret_cast<uintptr_t>(data_ + begin + count);
    madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE);
#endif
  }

  T* data() { return data_; }
  const T* data() const { return data_; }

 private:
  void Release() {
    if (data_ != nullptr) munmap(data_, bytes_);
    data_ = nullptr;
    bytes_ = 0;
  }
  T* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace hugectr_tf
