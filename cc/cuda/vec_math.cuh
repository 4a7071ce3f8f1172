#pragma once
// float / float4 helpers so the row kernels can move 16 bytes per lane when vec % 4 == 0
// (include from .cu files only).

#include <cuda_runtime.h>

namespace hugectr_tf {
namespace cuda {

__device__ inline void Zero(float& a) { a = 0.f; }
__device__ inline void Zero(float4& a) { a = make_float4(0.f, 0.f, 0.f, 0.f); }
__device__ inline void AddTo(float& a, float b) { a += b; }
__device__ inline void AddTo(float4& a, float4 b) {
  a.x += b.x;
  a.y += b.y;
  a.z += b.z;
  a.w += b.w;
}
// Rounded on its own (never fused with a following add): keeps sums equal to the CPU core's.
__device__ inline float Scaled(float a, float s) { return __fmul_rn(a, s); }
__device__ inline float4 Scaled(float4 a, float s) {
  return make_float4(__fmul_rn(a.x, s), __fmul_rn(a.y, s), __fmul_rn(a.z, s), __fmul_rn(a.w, s));
}
__device__ inline void Divide(float& a, float d) { a = a / d; }
__device__ inline void Divide(float4& a, float d) {
  a.x = a.x / d;
  a.y = a.y / d;
  a.z = a.z / d;
  a.w = a.w / d;
}

// Calls f(component of each argument) for every lane of a float4 (or once for a float).
template <typename F>
__device__ inline void ForEach(float& w, float& s0, float& s1, float g, F f) {
  f(w, s0, s1, g);
}
template <typename F>
__device__ inline void ForEach(float4& w, float4& s0, float4& s1, float4 g, F f) {
  f(w.x, s0.x, s1.x, g.x);
  f(w.y, s0.y, s1.y, g.y);
  f(w.z, s0.z, s1.z, g.z);
  f(w.w, s0.w, s1.w, g.w);
}

}  // namespace cuda
}  // namespace hugectr_tf
