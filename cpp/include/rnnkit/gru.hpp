// GRU with Keras' weight layout, gate blocks in the order z, r, h, in both variants:
//   reset_after = true  (Keras 3 and PyTorch default): bias (2, 3H), rows input and recurrent;
//   reset_after = false (Cho et al. 2014): bias (3H,).
// Shapes: x (N, T, F); kernel (F, 3H); recurrent_kernel (H, 3H); states (N, H);
// mask (N, T) of 0/1 or null (0: the sample skips the step, state carried).
#pragma once

#include "rnnkit/common.hpp"

namespace rnnkit {

template <typename T>
struct GruWeights {
  const T* kernel;            // (F, 3H)
  const T* recurrent_kernel;  // (H, 3H)
  const T* bias;              // (2, 3H) if reset_after else (3H,); or null
  bool reset_after;
};

// Written by forward, read by backward; all batch-major in input time order. gates is always
// required (it holds the input projections); a forward pass with no backward pass to follow
// (inference) may pass null for the others, and stores nothing there.
template <typename T>
struct GruCache {
  T* gates;         // (N, T, 3H) z, r, h~ after their activations
  T* h_prev;        // (N, T, H) h_{t-1} seen by step t
  T* hh_recurrent;  // (N, T, H) reset_after: h_{t-1} U_h + b_rh; otherwise r * h_{t-1}
  T* pre_gates;     // (N, T, 3H) z, r, h~ before their activations, for gelu or silu; else null
};

template <typename T>
struct GruGradients {
  T* dx;                 // (N, T, F)
  T* dh0;                // (N, H)
  T* dkernel;            // (F, 3H)
  T* drecurrent_kernel;  // (H, 3H)
  T* dbias;              // shape of the bias, or null
  T* dh_steps;           // (N, T, H) dL/dh_t, the whole gradient reaching each h_t, or null
};

// y (N, T, H) in processing order, or null; h_last (N, H). h0 may be null (zeros).
template <typename T>
void gru_forward(const SequenceDims& dims, const RecurrentOptions& options, const T* x,
                 const T* h0, const std::uint8_t* mask, const T* recurrent_mask, const GruWeights<T>& weights, T* y,
                 T* h_last, const GruCache<T>& cache);

// dy (N, T, H) in processing order, or null; dh_last (N, H) or null.
template <typename T>
void gru_backward(const SequenceDims& dims, const RecurrentOptions& options, const T* dy,
                  const T* dh_last, const T* x, const std::uint8_t* mask, const T* recurrent_mask,
                  const GruWeights<T>& weights, const GruCache<T>& cache,
                  const GruGradients<T>& grads);

}  // namespace rnnkit
