// Dense: y = act(x W + b) over M rows (a 3-D input is passed as N*T rows).
//   x (M, F), kernel W (F, U), bias b (U,) or null, y (M, U).
#pragma once

#include "rnnkit/common.hpp"

namespace rnnkit {

template <typename T>
void dense_forward(Index rows, Index features, Index units, Activation activation, const T* x,
                   const T* kernel, const T* bias, T* y);

// dy, y (M, U) -> dx (M, F), dkernel (F, U), dbias (U,) or null. bias is the forward pass's
// (or null), read only for gelu and silu, whose derivative needs the pre-activation.
template <typename T>
void dense_backward(Index rows, Index features, Index units, Activation activation, const T* dy,
                    const T* x, const T* kernel, const T* bias, const T* y, T* dx, T* dkernel, T* dbias);

}  // namespace rnnkit
