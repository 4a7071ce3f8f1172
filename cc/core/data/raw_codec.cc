#include "cc/core/data/raw_codec.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "cc/core/check.h"
#include "cc/core/data/record_checks.h"

namespace hugectr_tf {

int64_t RawRecordCount(const std::string& path, const FormatOptions& o) {
  struct stat st;
  HCTR_CHECK(::stat(path.c_str(), &st) == 0,
             "cannot open Raw data file `" << path << "`: " << std::strerror(errno));
  const int64_t size = st.st_size;
  const int64_t rec = RawRecordBytes(o);
  HCTR_CHECK(rec > 0, "Raw records need at least one int32 word (label_dim + dense_dim + slots)");
  const std::string where =
      "Raw file `" + path + "`, record " + std::to_string(size / rec) + ", field `label`: ";
  if (o.num_samples > 0) {
    // Compared as a record count: num_samples * rec overflows for num_samples near 2^63.
    HCTR_CHECK_CODE(o.num_samples <= size / rec, ErrorCode::kDataLoss,
                    where << "the file has " << size << " bytes, " << size / rec
                          << " whole records of " << rec << " bytes, but num_samples="
                          << o.num_samples << " (truncated file or wrong num_samples)");
    return o.num_samples;
  }
  HCTR_CHECK_CODE(size % rec == 0, ErrorCode::kDataLoss,
                  where << "the file has " << size << " bytes, not a multiple of the " << rec
                        << "-byte record (label_dim + dense_dim + slot_num int32 words); "
                           "the last record is truncated");
  return size / rec;
}

RawDecoder::RawDecoder(const std::string& path, const FormatOptions& options, int64_t begin,
                       int64_t end)
    : path_(path),
      options_(options),
      file_(path, begin * RawRecordBytes(options)),
      next_(begin),
      end_(end) {
  int64_t offset = 0;
  for (int64_t size : options.slot_sizes) {
    slot_offsets_.push_back(offset);
    offset += size;
  }
}

int64_t RawDecoder::Decode(int64_t max_records, RecordBlock* out) {
  const FormatOptions& o = options_;
  const int64_t rec = RawRecordBytes(o);
  const int64_t n = std::min(max_records, end_ - next_);
  if (n <= 0) return 0;
  HCTR_CHECK_CODE(file_.Ensure(static_cast<size_t>(n * rec)), ErrorCode::kDataLoss,
                  "Raw file `" << path_ << "`, record " << next_ + file_.available() / rec
                               << ", field `label`: file ends early (truncated)");
  const char* base = file_.data();
  const size_t first_label = out->label.size();
  out->label.resize(first_label + n * o.label_dim);
  out->dense.resize(out->dense.size() + n * o.dense_dim);
  for (size_t i = 0; i < o.slots_per_input.size(); ++i) {
    out->keys[i].reserve(out->keys[i].size() + n * o.slots_per_input[i]);
    out->nnz[i].reserve(out->nnz[i].size() + n * o.slots_per_input[i]);
  }
  float* label = out->label.data() + first_label;
  float* dense = out->dense.data() + out->dense.size() - n * o.dense_dim;
  for (int64_t r = 0; r < n; ++r) {
    const char* p = base + r * rec;
    const int64_t record = next_ + r;
    auto fail = [&](const std::string& field, const std::string& what) {
      HCTR_FAIL(ErrorCode::kDataLoss, "Raw file `" << path_ << "`, record " << record << ", field `"
                                                   << field << "`: " << what);
    };
    if (o.float_label_dense) {
      std::memcpy(label + r * o.label_dim, p, 4 * o.label_dim);
      std::memcpy(dense + r * o.dense_dim, p + 4 * o.label_dim, 4 * o.dense_dim);
    } else {
      for (int64_t j = 0; j < o.label_dim; ++j) {
        int32_t v;
        std::memcpy(&v, p + 4 * j, 4);
        label[r * o.label_dim + j] = static_cast<float>(v);
      }
      for (int64_t j = 0; j < o.dense_dim; ++j) {
        int32_t v;
        std::memcpy(&v, p + 4 * (o.label_dim + j), 4);
        if (v < 0) {
          fail("dense " + std::to_string(j),
               "value " + std::to_string(v) + " is negative; log(x + 1) needs x >= 0");
        }
        dense[r * o.dense_dim + j] = std::log(static_cast<float>(v) + 1.f);
      }
    }
    const char* k = p + 4 * (o.label_dim + o.dense_dim);
    int64_t slot = 0;
    for (size_t i = 0; i < o.slots_per_input.size(); ++i) {
      for (int64_t s = 0; s < o.slots_per_input[i]; ++s, ++slot) {
        int32_t key;
        std::memcpy(&key, k + 4 * slot, 4);
        if (!SlotKeyOk(o, slot, key)) {
          fail("slot " + std::to_string(slot) + " key", SlotKeyMessage(o, slot, key));
        }
        out->keys[i].push_back(slot_offsets_.empty() ? key : key + slot_offsets_[slot]);
        out->nnz[i].push_back(1);
      }
    }
  }
  file_.Skip(static_cast<size_t>(n * rec));
  next_ += n;
  out->num_records += n;
  return n;
}

}  // namespace hugectr_tf
