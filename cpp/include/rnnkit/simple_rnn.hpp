// SimpleRNN (Elman): h_t = act(x_t W + h_{t-1} U + b).
// Shapes: x (N, T, F); kernel W (F, H); recurrent_kernel U (H, H); bias b (H,) or null;
// states (N, H); mask (N, T) of 0/1 or null (0: the sample skips the step, state carried).
#pragma once

#include "rnnkit/common.hpp"

namespace rnnkit {

template <typename T>
struct SimpleRnnWeights {
  const T* kernel;            // (F, H)
  const T* recurrent_kernel;  // (H, H)
  const T* bias;              // (H,) or null
};

// Written by forward, read by backward; all batch-major in input time order. gates is always
// required (it holds the input projections); a forward pass with no backward pass to follow
// (inference) may pass null for the others, and stores nothing there.
template <typename T>
struct SimpleRnnCache {
  T* gates;   // (N, T, H) act(x_t W + h_{t-1} U + b)
  T* h_prev;  // (N, T, H) h_{t-1} seen by step t
  T* pre_gates;  // (N, T, H) x_t W + h_{t-1} U + b, for gelu or silu; else null
};

template <typename T>
struct SimpleRnnGradients {
  T* dx;                 // (N, T, F)
  T* dh0;                // (N, H)
  T* dkernel;            // (F, H)
  T* drecurrent_kernel;  // (H, H)
  T* dbias;              // (H,) or null
  T* dh_steps;           // (N, T, H) dL/dh_t, the whole gradient reaching each h_t, or null
};

// y (N, T, H) in processing order, or null; h_last (N, H). h0 may be null (zeros).
template <typename T>
void simple_rnn_forward(const SequenceDims& dims, const RecurrentOptions& options, const T* x,
                        const T* h0, const std::uint8_t* mask, const T* recurrent_mask, const SimpleRnnWeights<T>& weights,
                        T* y, T* h_last, const SimpleRnnCache<T>& cache);

// dy (N, T, H) in processing order, or null; dh_last (N, H) or null.
template <typename T>
void simple_rnn_backward(const SequenceDims& dims, const RecurrentOptions& options, const T* dy,
                         const T* dh_last, const T* x, const std::uint8_t* mask, const T* recurrent_mask,
                         const SimpleRnnWeights<T>& weights, const SimpleRnnCache<T>& cache,
                         const SimpleRnnGradients<T>& grads);

}  // namespace rnnkit
