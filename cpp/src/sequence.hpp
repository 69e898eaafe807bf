// Helpers shared by the recurrent cells (internal to the core).
#pragma once

#include "parallel.hpp"
#include "rnnkit/common.hpp"

namespace rnnkit::detail {

// The input time index read at processing step s.
inline Index input_step(Index s, Index time, bool go_backwards) {
  return go_backwards ? time - 1 - s : s;
}

// The N rows of time step t in a batch-major (N, T, width) buffer.
template <typename T>
StepMap<T> step_rows(T* data, const SequenceDims& dims, Index width, Index t) {
  return StepMap<T>(data + t * width, dims.batch, width, Eigen::OuterStride<>(dims.time * width));
}
template <typename T>
ConstStepMap<T> step_rows(const T* data, const SequenceDims& dims, Index width, Index t) {
  return ConstStepMap<T>(data + t * width, dims.batch, width,
                         Eigen::OuterStride<>(dims.time * width));
}

// Step t's rows of an optional cache buffer, or `scratch` (N, width) when the call keeps no
// cache (inference: nothing is stored for a backward pass).
template <typename T>
StepMap<T> step_rows_or(T* data, const SequenceDims& dims, Index width, Index t, Matrix<T>& scratch) {
  if (data == nullptr) return StepMap<T>(scratch.data(), dims.batch, width, Eigen::OuterStride<>(width));
  return step_rows(data, dims, width, t);
}

// Stores value as step t of an optional cache buffer (nothing without a cache).
template <typename T, typename Value>
void store_step(T* data, const SequenceDims& dims, Index width, Index t, const Value& value) {
  if (data != nullptr) step_rows(data, dims, width, t) = value;
}

inline bool is_masked(const std::uint8_t* mask, const SequenceDims& dims, Index n, Index t) {
  return mask != nullptr && mask[n * dims.time + t] == 0;
}

// Samples masked at step t keep their state: next.row(n) = prev.row(n).
template <typename Next, typename Prev>
void carry_masked_rows(const std::uint8_t* mask, const SequenceDims& dims, Index t,
                       const Eigen::MatrixBase<Next>& next, const Eigen::MatrixBase<Prev>& prev) {
  if (mask == nullptr) return;
  auto& out = const_cast<Eigen::MatrixBase<Next>&>(next);
  for (Index n = 0; n < dims.batch; ++n) {
    if (is_masked(mask, dims, n, t)) out.row(n) = prev.row(n);
  }
}

// Samples masked at step t take no gradient through that step's gates.
template <typename Grad>
void zero_masked_rows(const std::uint8_t* mask, const SequenceDims& dims, Index t,
                      const Eigen::MatrixBase<Grad>& grad) {
  if (mask == nullptr) return;
  auto& out = const_cast<Eigen::MatrixBase<Grad>&>(grad);
  for (Index n = 0; n < dims.batch; ++n) {
    if (is_masked(mask, dims, n, t)) out.row(n).setZero();
  }
}

// The samples [begin, begin + dims.batch) of a batch: the whole batch's arrays, offset to the
// slice's first sample. Strides stay the whole batch's (they depend on time, not on batch).
struct BatchSlice {
  SequenceDims dims;  // batch: the slice's sample count; time, features, units: the batch's
  Index begin;

  template <typename P>
  P* sequence(P* data, Index width) const {  // an (N, T, width) array, or null
    return data == nullptr ? nullptr : data + begin * dims.time * width;
  }
  template <typename P>
  P* state(P* data, Index width) const {  // an (N, width) array, or null
    return data == nullptr ? nullptr : data + begin * width;
  }
};

// Runs steps(slice) on slices of the batch, one per thread: samples are independent through
// the time loop, so each thread runs the whole sequence for its samples without waiting for
// the others. A slice carries at least ~2^21 multiply-adds of recurrent products.
template <typename Steps>
void for_each_batch_slice(const SequenceDims& dims, Index width, Steps&& steps) {
  const Index grain = std::max<Index>(4, (Index(1) << 21) / std::max<Index>(1, dims.time * dims.units * width));
  parallel_ranges(dims.batch, grain, [&](Index begin, Index end) {
    SequenceDims slice = dims;
    slice.batch = end - begin;
    steps(BatchSlice{slice, begin});
  });
}

// gates = X W (+ bias) for every time step in one GEMM; X is (N*T, F), W (F, width). Each
// thread's rows start as the bias and its GEMM adds X W to them (BLAS beta = 1): no zeroing pass
// by the BLAS and no bias pass after it (4-7% faster on the projections of benchmarks/).
template <typename T>
void project_inputs(const SequenceDims& dims, Index width, const T* x, const T* kernel,
                    const T* bias, T* gates) {
  const Index rows = dims.batch * dims.time;
  MatrixMap<T> out(gates, rows, width);
  ConstMatrixMap<T> inputs(x, rows, dims.features), weights(kernel, dims.features, width);
  parallel_ranges(rows, product_grain(width, dims.features), [&](Index begin, Index end) {
    auto part = out.middleRows(begin, end - begin);
    if (bias != nullptr) part.rowwise() = ConstRowVectorMap<T>(bias, width);
    matmul(part, inputs.middleRows(begin, end - begin), weights, /*accumulate=*/bias != nullptr);
  });
}

// After the time loop, from dgates = dL/d(x W + ...) over all steps (N*T, width):
// dkernel = X^T dgates, dx = dgates W^T, dbias = column sums; one GEMM each.
template <typename T>
void input_gradients(const SequenceDims& dims, Index width, const T* x, const T* kernel,
                     const T* dgates_data, T* dx, T* dkernel, T* dbias) {
  const Index rows = dims.batch * dims.time;
  ConstMatrixMap<T> xs(x, rows, dims.features), dgates(dgates_data, rows, width);
  parallel_matmul(MatrixMap<T>(dkernel, dims.features, width), xs.transpose(), dgates);
  parallel_matmul(MatrixMap<T>(dx, rows, dims.features), dgates,
                  ConstMatrixMap<T>(kernel, dims.features, width).transpose());
  if (dbias != nullptr) RowVectorMap<T>(dbias, width) = dgates.colwise().sum();
}

// The state a step reads: h itself, or h * m under recurrent dropout (m is (N, H), fixed
// over time, Keras' recurrent_dropout mask already scaled by 1 / (1 - rate)).
template <typename T>
const Matrix<T>& dropped_state(const Matrix<T>& h, const T* recurrent_mask, Matrix<T>& scratch) {
  if (recurrent_mask == nullptr) return h;
  scratch.array() = h.array() * ConstMatrixMap<T>(recurrent_mask, h.rows(), h.cols()).array();
  return scratch;
}

// Backward of dropped_state: dh = dh_in * m.
template <typename T>
void drop_state_gradient(Matrix<T>& dh, const T* recurrent_mask) {
  if (recurrent_mask != nullptr) {
    dh.array() *= ConstMatrixMap<T>(recurrent_mask, dh.rows(), dh.cols()).array();
  }
}

// Copies an optional (N, H) state, or zeros where the caller passed none.
template <typename T>
Matrix<T> initial_state(const T* state, Index rows, Index cols) {
  if (state == nullptr) return Matrix<T>::Zero(rows, cols);
  return ConstMatrixMap<T>(state, rows, cols);
}

}  // namespace rnnkit::detail
