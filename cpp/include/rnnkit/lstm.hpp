// LSTM with Keras' equations and weight layout, gate blocks in the order i, f, c, o.
// Shapes: x (N, T, F); kernel (F, 4H); recurrent_kernel (H, 4H); bias (4H,) or null;
// peephole_kernel (3, H) with rows i, f, o, or null; states (N, H);
// mask (N, T) of 0/1 or null (0: the sample skips the step, h and c carried).
#pragma once

#include "rnnkit/common.hpp"

namespace rnnkit {

template <typename T>
struct LstmWeights {
  const T* kernel;            // (F, 4H)
  const T* recurrent_kernel;  // (H, 4H)
  const T* bias;              // (4H,) or null
  const T* peephole_kernel;   // (3, H) or null
};

// Written by forward, read by backward; all batch-major in input time order. gates is always
// required (it holds the input projections); a forward pass with no backward pass to follow
// (inference) may pass null for the others, and stores nothing there.
template <typename T>
struct LstmCache {
  T* gates;   // (N, T, 4H) i, f, c~, o after their activations
  T* cell;    // (N, T, H) c_t
  T* h_prev;  // (N, T, H) h_{t-1} seen by step t
  T* c_prev;  // (N, T, H) c_{t-1} seen by step t
  T* pre_gates;  // (N, T, 4H) the gates before their activations, when an activation is gelu or
                 // silu (whose derivative needs them); else null
};

template <typename T>
struct LstmGradients {
  T* dx;                 // (N, T, F)
  T* dh0;                // (N, H)
  T* dc0;                // (N, H)
  T* dkernel;            // (F, 4H)
  T* drecurrent_kernel;  // (H, 4H)
  T* dbias;              // (4H,) or null
  T* dpeephole_kernel;   // (3, H) or null
  T* dh_steps;          // (N, T, H) dL/dh_t, the whole gradient reaching each h_t, or null
  T* dc_steps;          // (N, T, H) dL/dc_t likewise, or null
};

// y (N, T, H) in processing order, or null; h_last, c_last (N, H). h0, c0 may be null (zeros).
template <typename T>
void lstm_forward(const SequenceDims& dims, const RecurrentOptions& options, const T* x,
                  const T* h0, const T* c0, const std::uint8_t* mask, const T* recurrent_mask,
                  const LstmWeights<T>& weights, T* y, T* h_last, T* c_last,
                  const LstmCache<T>& cache);

// dy (N, T, H) in processing order, or null; dh_last, dc_last (N, H) or null.
template <typename T>
void lstm_backward(const SequenceDims& dims, const RecurrentOptions& options, const T* dy,
                   const T* dh_last, const T* dc_last, const T* x, const std::uint8_t* mask, const T* recurrent_mask,
                   const LstmWeights<T>& weights, const LstmCache<T>& cache,
                   const LstmGradients<T>& grads);

}  // namespace rnnkit
