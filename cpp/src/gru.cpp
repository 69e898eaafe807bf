// GRU forward and backward through time (Keras' layout; gate blocks z, r, h).
//
// reset_after = true (Keras 3, PyTorch):
//   a = x_t W + b_in,  q = h_{t-1} U + b_rec             (N, 3H) each, blocks z r h
//   z = ra(a_z + q_z),  r = ra(a_r + q_r),  h~ = act(a_h + r * q_h)
// reset_after = false (Cho et al.):
//   a = x_t W + b,  z = ra(a_z + h_{t-1} U_z),  r = ra(a_r + h_{t-1} U_r)
//   h~ = act(a_h + (r * h_{t-1}) U_h)
// both:  h_t = z * h_{t-1} + (1 - z) * h~
// Under recurrent dropout every h_{t-1} above is h_{t-1} * m (Keras).
//
// Backward, with dh the gradient reaching h_t:
//   da_h = dh * (1 - z) * act'(h~),  da_z = dh * (h_{t-1} - h~) * ra'(z)
//   reset_after:  dq = [da_z, da_r, da_h * r] with da_r = da_h * q_h * ra'(r)
//                 dh_{t-1} = dh * z + dq U^T;  dU = H_prev^T dQ (after the loop)
//   otherwise:    d(r h) = da_h U_h^T,  da_r = d(r h) * h_{t-1} * ra'(r)
//                 dh_{t-1} = dh * z + d(r h) * r + [da_z, da_r] U_zr^T
//                 dU_zr = H_prev^T dA_zr,  dU_h = (R * H_prev)^T dA_h (after the loop)
#include "rnnkit/gru.hpp"

#include "packed_matmul.hpp"
#include "sequence.hpp"

namespace rnnkit {

namespace {

// The cache rows of one slice of the batch.
template <typename T>
GruCache<T> cache_slice(const GruCache<T>& cache, const detail::BatchSlice& b) {
  const Index H = b.dims.units;
  return {b.sequence(cache.gates, 3 * H), b.sequence(cache.h_prev, H),
          b.sequence(cache.hh_recurrent, H), b.sequence(cache.pre_gates, 3 * H)};
}

// U packed once per call for the time loop's products: reset_after multiplies h by all of U
// at once (`first`), Cho's variant by U_zr (`first`) and U_h (`candidate`) apart. The
// backward pass packs their transposes.
template <typename T>
struct GruPackedKernel {
  detail::PackedMatrix<T> first, candidate;
};

template <typename T>
GruPackedKernel<T> pack_recurrent_kernel(const GruWeights<T>& weights, Index H, bool transposed) {
  ConstMatrixMap<T> u(weights.recurrent_kernel, H, 3 * H);
  GruPackedKernel<T> packed;
  if (weights.reset_after) {
    transposed ? packed.first.pack(u.transpose()) : packed.first.pack(u);
  } else if (transposed) {
    packed.first.pack(u.leftCols(2 * H).transpose());
    packed.candidate.pack(u.rightCols(H).transpose());
  } else {
    packed.first.pack(u.leftCols(2 * H));
    packed.candidate.pack(u.rightCols(H));
  }
  return packed;
}

// The time loop of the forward pass over the samples of dims.batch (a slice of the batch);
// cache.gates already holds x_t W + b_in.
template <typename T>
void gru_forward_steps(const SequenceDims& dims, const RecurrentOptions& options, const T* h0,
                       const std::uint8_t* mask, const T* recurrent_mask,
                       const GruWeights<T>& weights, const GruPackedKernel<T>& recurrent_kernel,
                       T* y, T* h_last, const GruCache<T>& cache) {
  const Index N = dims.batch, H = dims.units, G = 3 * H;
  Matrix<T> h = detail::initial_state(h0, N, H);
  Matrix<T> h_next(N, H), h_dropped(recurrent_mask ? N : 0, H);
  Matrix<T> q(weights.reset_after ? N : 0, G);  // h_{t-1} U + b_rec
  Matrix<T> hh_scratch(cache.hh_recurrent ? 0 : N, H);
  for (Index s = 0; s < dims.time; ++s) {
    check_interrupt();
    const Index t = detail::input_step(s, dims.time, options.go_backwards);
    auto a = detail::step_rows(cache.gates, dims, G, t);
    auto hh_recurrent = detail::step_rows_or(cache.hh_recurrent, dims, H, t, hh_scratch);
    const Matrix<T>& h_in = detail::dropped_state(h, recurrent_mask, h_dropped);
    detail::store_step(cache.h_prev, dims, H, t, h_in);
    auto zr = a.leftCols(2 * H);
    auto r = a.middleCols(H, H), candidate = a.middleCols(2 * H, H);
    if (weights.reset_after) {
      detail::matmul(q, h_in, recurrent_kernel.first);
      if (weights.bias != nullptr) q.rowwise() += ConstRowVectorMap<T>(weights.bias + G, G);
      zr += q.leftCols(2 * H);
      if (cache.pre_gates != nullptr) detail::step_rows(cache.pre_gates, dims, G, t).leftCols(2 * H) = zr;
      apply_activation(options.recurrent_activation, zr);
      hh_recurrent = q.rightCols(H);
      candidate.array() += r.array() * hh_recurrent.array();
    } else {
      detail::matmul(zr, h_in, recurrent_kernel.first, /*accumulate=*/true);
      if (cache.pre_gates != nullptr) detail::step_rows(cache.pre_gates, dims, G, t).leftCols(2 * H) = zr;
      apply_activation(options.recurrent_activation, zr);
      hh_recurrent.array() = r.array() * h_in.array();
      detail::matmul(candidate, hh_recurrent, recurrent_kernel.candidate, /*accumulate=*/true);
    }
    if (cache.pre_gates != nullptr) detail::step_rows(cache.pre_gates, dims, G, t).rightCols(H) = candidate;
    apply_activation(options.activation, candidate);
    const auto z = a.leftCols(H);
    h_next.array() = z.array() * h_in.array() + (T(1) - z.array()) * candidate.array();
    detail::carry_masked_rows(mask, dims, t, h_next, h);  // masked samples keep h
    h.swap(h_next);
    if (y != nullptr) detail::step_rows(y, dims, H, s) = h;
  }
  MatrixMap<T>(h_last, N, H) = h;
}

}  // namespace

template <typename T>
void gru_forward(const SequenceDims& dims, const RecurrentOptions& options, const T* x,
                 const T* h0, const std::uint8_t* mask, const T* recurrent_mask, const GruWeights<T>& weights, T* y,
                 T* h_last, const GruCache<T>& cache) {
  const Index H = dims.units, G = 3 * H;
  // reset_after's bias row 0 is the input bias; row 1, the recurrent one, is added to q.
  detail::project_inputs(dims, G, x, weights.kernel, weights.bias, cache.gates);
  const GruPackedKernel<T> recurrent_kernel = pack_recurrent_kernel(weights, H, /*transposed=*/false);
  detail::for_each_batch_slice(dims, G, [&](const detail::BatchSlice& b) {
    gru_forward_steps(b.dims, options, b.state(h0, H), b.sequence(mask, 1),
                      b.state(recurrent_mask, H), weights, recurrent_kernel, b.sequence(y, H),
                      b.state(h_last, H),
                      cache_slice(cache, b));
  });
}

namespace {

// The time loop of the backward pass over the samples of dims.batch: writes dgates
// (N, T, 3H) = dL/da, with reset_after dq_h (N, T, H), and dh0 (N, H); when asked, the
// gradients dh_steps (N, T, H) reaching every h_t.
template <typename T>
void gru_backward_steps(const SequenceDims& dims, const RecurrentOptions& options, const T* dy,
                        const T* dh_last, const std::uint8_t* mask, const T* recurrent_mask,
                        const GruWeights<T>& weights,
                        const GruPackedKernel<T>& recurrent_kernel_t, const GruCache<T>& cache,
                        T* dgates, T* dq_h, T* dh0, T* dh_steps) {
  const Index N = dims.batch, H = dims.units, G = 3 * H;
  const bool reset_after = weights.reset_after;
  Matrix<T> dh = detail::initial_state(dh_last, N, H);
  Matrix<T> dh_prev(N, H), d_rh(reset_after ? 0 : N, H);
  Matrix<T> dq_step(reset_after ? N : 0, G);  // [da_z, da_r, dq_h] of one step, contiguous
  for (Index s = dims.time - 1; s >= 0; --s) {
    check_interrupt();
    const Index t = detail::input_step(s, dims.time, options.go_backwards);
    if (dy != nullptr) dh += detail::step_rows(dy, dims, H, s);
    detail::store_step(dh_steps, dims, H, t, dh);
    const auto gates = detail::step_rows(cache.gates, dims, G, t);
    const auto z = gates.leftCols(H), r = gates.middleCols(H, H),
               candidate = gates.middleCols(2 * H, H);
    const auto h_prev = detail::step_rows(cache.h_prev, dims, H, t);
    const auto hh_recurrent = detail::step_rows(cache.hh_recurrent, dims, H, t);
    // The pre-activations, kept for gelu and silu alone (else unused: the gates stand in).
    const auto pre = detail::step_rows(cache.pre_gates ? cache.pre_gates : cache.gates, dims, G, t);
    auto da = detail::step_rows(dgates, dims, G, t);
    auto da_z = da.leftCols(H), da_r = da.middleCols(H, H), da_h = da.middleCols(2 * H, H);
    da_h.array() = dh.array() * (T(1) - z.array());  // dL/dh~
    multiply_by_derivative(options.activation, da_h, candidate, pre.middleCols(2 * H, H));
    da_z.array() = dh.array() * (h_prev.array() - candidate.array());  // dL/dz
    multiply_by_derivative(options.recurrent_activation, da_z, z, pre.leftCols(H));
    if (reset_after) {
      da_r.array() = da_h.array() * hh_recurrent.array();  // dL/dr
      multiply_by_derivative(options.recurrent_activation, da_r, r, pre.middleCols(H, H));
      detail::zero_masked_rows(mask, dims, t, da);
      auto dq_h_t = detail::step_rows(dq_h, dims, H, t);
      dq_h_t.array() = da_h.array() * r.array();  // dL/dq_h
      dq_step.leftCols(2 * H) = da.leftCols(2 * H);
      dq_step.rightCols(H) = dq_h_t;
      detail::matmul(dh_prev, dq_step, recurrent_kernel_t.first);  // dq U^T
    } else {
      detail::matmul(d_rh, da_h, recurrent_kernel_t.candidate);  // dL/d(r * h_{t-1}) = da_h U_h^T
      da_r.array() = d_rh.array() * h_prev.array();  // dL/dr
      multiply_by_derivative(options.recurrent_activation, da_r, r, pre.middleCols(H, H));
      detail::zero_masked_rows(mask, dims, t, da);
      detail::matmul(dh_prev, da.leftCols(2 * H), recurrent_kernel_t.first);  // da_zr U_zr^T
      dh_prev.array() += d_rh.array() * r.array();
    }
    dh_prev.array() += dh.array() * z.array();          // through h_t = z * h_{t-1} + ...
    detail::drop_state_gradient(dh_prev, recurrent_mask);
    detail::carry_masked_rows(mask, dims, t, dh_prev, dh);  // masked: gradient passes through
    dh.swap(dh_prev);
  }
  MatrixMap<T>(dh0, N, H) = dh;
}

}  // namespace

template <typename T>
void gru_backward(const SequenceDims& dims, const RecurrentOptions& options, const T* dy,
                  const T* dh_last, const T* x, const std::uint8_t* mask, const T* recurrent_mask,
                  const GruWeights<T>& weights, const GruCache<T>& cache,
                  const GruGradients<T>& grads) {
  const Index H = dims.units, G = 3 * H, rows = dims.batch * dims.time;
  const bool reset_after = weights.reset_after;
  // dgates = dL/da for the input projection. With reset_after the recurrent projection's
  // gradient dq differs from it only in the h block (da_h * r), kept in dq_h.
  const Buffer<T> dgates_buffer(rows * G);
  MatrixMap<T> dgates(dgates_buffer.data(), rows, G);
  const Buffer<T> dq_h_buffer(reset_after ? rows * H : 0);
  MatrixMap<T> dq_h(dq_h_buffer.data(), reset_after ? rows : 0, H);
  const GruPackedKernel<T> recurrent_kernel_t = pack_recurrent_kernel(weights, H, /*transposed=*/true);
  detail::for_each_batch_slice(dims, G, [&](const detail::BatchSlice& b) {
    gru_backward_steps(b.dims, options, b.sequence(dy, H), b.state(dh_last, H),
                       b.sequence(mask, 1), b.state(recurrent_mask, H), weights,
                       recurrent_kernel_t, cache_slice(cache, b), b.sequence(dgates.data(), G),
                       reset_after ? b.sequence(dq_h.data(), H) : nullptr, b.state(grads.dh0, H),
                       b.sequence(grads.dh_steps, H));
  });
  ConstMatrixMap<T> h_prev(cache.h_prev, rows, H);
  MatrixMap<T> drecurrent_kernel(grads.drecurrent_kernel, H, G);
  if (reset_after) {
    // dq = [dA_zr, dq_h]; the input bias takes dA, the recurrent bias dq.
    detail::parallel_matmul(drecurrent_kernel.leftCols(2 * H), h_prev.transpose(), dgates.leftCols(2 * H));
    detail::parallel_matmul(drecurrent_kernel.rightCols(H), h_prev.transpose(), dq_h);
    detail::input_gradients(dims, G, x, weights.kernel, dgates.data(), grads.dx, grads.dkernel,
                            grads.dbias);
    if (grads.dbias != nullptr) {
      RowVectorMap<T> drecurrent_bias(grads.dbias + G, G);
      drecurrent_bias.leftCols(2 * H) = dgates.leftCols(2 * H).colwise().sum();
      drecurrent_bias.rightCols(H) = dq_h.colwise().sum();
    }
  } else {
    detail::parallel_matmul(drecurrent_kernel.leftCols(2 * H), h_prev.transpose(), dgates.leftCols(2 * H));
    detail::parallel_matmul(drecurrent_kernel.rightCols(H),
                   ConstMatrixMap<T>(cache.hh_recurrent, rows, H).transpose(), dgates.rightCols(H));
    detail::input_gradients(dims, G, x, weights.kernel, dgates.data(), grads.dx, grads.dkernel,
                            grads.dbias);
  }
}

#define RNNKIT_INSTANTIATE(T)                                                                 \
  template void gru_forward<T>(const SequenceDims&, const RecurrentOptions&, const T*,        \
                               const T*, const std::uint8_t*, const T*, const GruWeights<T>&, T*, T*,   \
                               const GruCache<T>&);                                           \
  template void gru_backward<T>(const SequenceDims&, const RecurrentOptions&, const T*,       \
                                const T*, const T*, const std::uint8_t*, const T*, const GruWeights<T>&, \
                                const GruCache<T>&, const GruGradients<T>&);
RNNKIT_INSTANTIATE(float)
RNNKIT_INSTANTIATE(double)
#undef RNNKIT_INSTANTIATE

}  // namespace rnnkit
