// Drives cc/core/embedding without TensorFlow (compiled by test_embedding_core.py with a plain
// g++): proves the core is framework-free and gives a harness a CUDA twin can mirror.
//
// Usage: driver <input> <output> <threads>
// input (little-endian): int64 vec, slot_num, batch, steps, combiner (0 sum, 1 mean),
//   optimizer, update, seed; float beta1, beta2, epsilon, momentum, initial_accu; then per step:
//   int64 n, int64 row_splits[batch*slot_num+1], int64 values[n], float lr,
//   float dout[batch*slot_num*vec].
// output: per step float emb[batch*slot_num*vec]; then int64 n_keys, int64 keys[n],
//   float rows[n*vec], float opt_slots[n*k*vec], int64 last_step[n].

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "cc/core/embedding/combine.h"
#include "cc/core/embedding/table.h"

using namespace hugectr_tf;

template <typename T>
T Read(FILE* f) {
  T v;
  if (fread(&v, sizeof(T), 1, f) != 1) std::exit(3);
  return v;
}
template <typename T>
std::vector<T> ReadN(FILE* f, int64_t n) {
  std::vector<T> v(n);
  if (n > 0 && fread(v.data(), sizeof(T), n, f) != static_cast<size_t>(n)) std::exit(3);
  return v;
}
template <typename T>
void Write(FILE* f, const T* p, int64_t n) {
  if (n > 0) fwrite(p, sizeof(T), n, f);
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  FILE* in = fopen(argv[1], "rb");
  FILE* out = fopen(argv[2], "wb");
  const int threads = std::atoi(argv[3]);
  ParallelFor pf = SerialFor();
  if (threads > 1) {
    // Plain std::thread pool: blocks handed out dynamically, so the split varies run to run.
    pf = [threads](int64_t total, int64_t, const std::function<void(int64_t, int64_t)>& work) {
      const int64_t blocks = std::min<int64_t>(total, threads * 7);
      std::atomic<int64_t> next{0};
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&]() {
          for (int64_t b; (b = next++) < blocks;) {
            work(total * b / blocks, total * (b + 1) / blocks);
          }
        });
      }
      for (auto& th : pool) th.join();
    };
  }
  TableOptions o;
  o.vec = Read<int64_t>(in);
  const int64_t slot_num = Read<int64_t>(in), batch = Read<int64_t>(in), steps = Read<int64_t>(in);
  const Combiner combiner = static_cast<Combiner>(Read<int64_t>(in));
  o.optimizer.type = static_cast<OptimizerType>(Read<int64_t>(in));
  o.optimizer.update = static_cast<UpdateType>(Read<int64_t>(in));
  o.seed = static_cast<uint64_t>(Read<int64_t>(in));
  o.optimizer.beta1 = Read<float>(in);
  o.optimizer.beta2 = Read<float>(in);
  o.optimizer.epsilon = Read<float>(in);
  o.optimizer.momentum_factor = Read<float>(in);
  o.optimizer.initial_accu_value = Read<float>(in);
  o.workspace_mb = 64;
  EmbeddingTable table(o);
  const int64_t rows = batch * slot_num;
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t n = Read<int64_t>(in);
    auto splits = ReadN<int64_t>(in, rows + 1);
    auto values = ReadN<int64_t>(in, n);
    const float lr = Read<float>(in);
    auto dout = ReadN<float>(in, rows * o.vec);
    std::vector<float> emb(rows * o.vec);
    std::vector<int64_t> unique, inverse(n);
    table.LookupTrain(values.data(), n, splits.data(), rows, slot_num, combiner, emb.data(),
                      &unique, inverse.data(), pf);
    std::vector<float> grads(unique.size() * o.vec);
    AggregateGradients(dout.data(), splits.data(), rows, inverse.data(), unique.size(), o.vec,
                       combiner, grads.data(), pf);
    table.ApplyGradients(unique.data(), unique.size(), grads.data(), lr, pf);
    Write(out, emb.data(), emb.size());
  }
  TableState st = table.Export(pf);
  const int64_t n = st.keys.size();
  Write(out, &n, 1);
  Write(out, st.keys.data(), n);
  Write(out, st.rows.data(), st.rows.size());
  Write(out, st.opt_slots.data(), st.opt_slots.size());
  Write(out, st.last_step.data(), n);
  fclose(out);
  return 0;
}
