// SimpleRNN forward and backward through time.
//
//   a_t = x_t W + h_{t-1} U + b        W (F, H), U (H, H), b (H,)
//   h_t = act(a_t)
// Under recurrent dropout the step reads h_{t-1} * m instead of h_{t-1} (Keras).
//
// Backward, with dh_t the gradient reaching h_t (from y_t and from step t+1):
//   da_t      = dh_t * act'(a_t)              (from the stored h_t)
//   dh_{t-1}  = da_t U^T
//   dW = X^T dA, dU = H_prev^T dA, db = sum_t da_t, dx = dA W^T   (after the loop)
#include "rnnkit/simple_rnn.hpp"

#include "packed_matmul.hpp"
#include "sequence.hpp"

namespace rnnkit {

namespace {

// The cache rows of one slice of the batch.
template <typename T>
SimpleRnnCache<T> cache_slice(const SimpleRnnCache<T>& cache, const detail::BatchSlice& b) {
  const Index H = b.dims.units;
  return {b.sequence(cache.gates, H), b.sequence(cache.h_prev, H), b.sequence(cache.pre_gates, H)};
}

// The time loop of the forward pass over the samples of dims.batch (a slice of the batch);
// cache.gates already holds x_t W + b.
template <typename T>
void simple_rnn_forward_steps(const SequenceDims& dims, const RecurrentOptions& options,
                              const T* h0, const std::uint8_t* mask, const T* recurrent_mask,
                              const detail::PackedMatrix<T>& recurrent_kernel, T* y,
                              T* h_last, const SimpleRnnCache<T>& cache) {
  const Index H = dims.units;
  Matrix<T> h = detail::initial_state(h0, dims.batch, H);
  Matrix<T> h_dropped(recurrent_mask ? dims.batch : 0, H);
  for (Index s = 0; s < dims.time; ++s) {
    check_interrupt();
    const Index t = detail::input_step(s, dims.time, options.go_backwards);
    auto a = detail::step_rows(cache.gates, dims, H, t);
    const Matrix<T>& h_in = detail::dropped_state(h, recurrent_mask, h_dropped);
    detail::store_step(cache.h_prev, dims, H, t, h_in);
    detail::matmul(a, h_in, recurrent_kernel, /*accumulate=*/true);
    detail::store_step(cache.pre_gates, dims, H, t, a);
    apply_activation(options.activation, a);
    // Masked samples keep h; the others take the new state.
    detail::carry_masked_rows(mask, dims, t, a, h);
    h = a;
    if (y != nullptr) detail::step_rows(y, dims, H, s) = h;
  }
  MatrixMap<T>(h_last, dims.batch, H) = h;
}

}  // namespace

template <typename T>
void simple_rnn_forward(const SequenceDims& dims, const RecurrentOptions& options, const T* x,
                        const T* h0, const std::uint8_t* mask, const T* recurrent_mask, const SimpleRnnWeights<T>& weights,
                        T* y, T* h_last, const SimpleRnnCache<T>& cache) {
  const Index H = dims.units;
  detail::project_inputs(dims, H, x, weights.kernel, weights.bias, cache.gates);
  const detail::PackedMatrix<T> recurrent_kernel(ConstMatrixMap<T>(weights.recurrent_kernel, H, H));
  detail::for_each_batch_slice(dims, H, [&](const detail::BatchSlice& b) {
    simple_rnn_forward_steps(b.dims, options, b.state(h0, H), b.sequence(mask, 1),
                             b.state(recurrent_mask, H), recurrent_kernel, b.sequence(y, H),
                             b.state(h_last, H), cache_slice(cache, b));
  });
}

namespace {

// The time loop of the backward pass over the samples of dims.batch: writes dgates
// (N, T, H) = dL/da and the gradient dh0 (N, H) of the initial state; when asked, the
// gradients dh_steps (N, T, H) reaching every h_t.
template <typename T>
void simple_rnn_backward_steps(const SequenceDims& dims, const RecurrentOptions& options,
                               const T* dy, const T* dh_last, const std::uint8_t* mask,
                               const T* recurrent_mask,
                               const detail::PackedMatrix<T>& recurrent_kernel_t,
                               const SimpleRnnCache<T>& cache, T* dgates, T* dh0, T* dh_steps) {
  const Index N = dims.batch, H = dims.units;
  Matrix<T> dh = detail::initial_state(dh_last, N, H);
  Matrix<T> dh_prev(N, H);
  for (Index s = dims.time - 1; s >= 0; --s) {
    check_interrupt();
    const Index t = detail::input_step(s, dims.time, options.go_backwards);
    if (dy != nullptr) dh += detail::step_rows(dy, dims, H, s);
    detail::store_step(dh_steps, dims, H, t, dh);
    auto da = detail::step_rows(dgates, dims, H, t);
    da = dh;
    multiply_by_derivative(options.activation, da, detail::step_rows(cache.gates, dims, H, t),
                           detail::step_rows(cache.pre_gates ? cache.pre_gates : cache.gates, dims, H, t));  // da = dh * act'
    detail::zero_masked_rows(mask, dims, t, da);
    detail::matmul(dh_prev, da, recurrent_kernel_t);  // dh_{t-1} = da U^T
    detail::drop_state_gradient(dh_prev, recurrent_mask);
    detail::carry_masked_rows(mask, dims, t, dh_prev, dh);   // masked: gradient passes through
    dh.swap(dh_prev);
  }
  MatrixMap<T>(dh0, N, H) = dh;
}

}  // namespace

template <typename T>
void simple_rnn_backward(const SequenceDims& dims, const RecurrentOptions& options, const T* dy,
                         const T* dh_last, const T* x, const std::uint8_t* mask, const T* recurrent_mask,
                         const SimpleRnnWeights<T>& weights, const SimpleRnnCache<T>& cache,
                         const SimpleRnnGradients<T>& grads) {
  const Index H = dims.units, rows = dims.batch * dims.time;
  const Buffer<T> dgates_buffer(rows * H);
  MatrixMap<T> dgates(dgates_buffer.data(), rows, H);  // dL/da, batch-major in input time order
  const detail::PackedMatrix<T> recurrent_kernel_t(
      ConstMatrixMap<T>(weights.recurrent_kernel, H, H).transpose());
  detail::for_each_batch_slice(dims, H, [&](const detail::BatchSlice& b) {
    simple_rnn_backward_steps(b.dims, options, b.sequence(dy, H), b.state(dh_last, H),
                              b.sequence(mask, 1), b.state(recurrent_mask, H), recurrent_kernel_t,
                              cache_slice(cache, b), b.sequence(dgates.data(), H),
                              b.state(grads.dh0, H), b.sequence(grads.dh_steps, H));
  });
  detail::parallel_matmul(MatrixMap<T>(grads.drecurrent_kernel, H, H),
                          ConstMatrixMap<T>(cache.h_prev, rows, H).transpose(),
                          dgates);  // dU = H_prev^T dA
  detail::input_gradients(dims, H, x, weights.kernel, dgates.data(), grads.dx, grads.dkernel, grads.dbias);
}

#define RNNKIT_INSTANTIATE(T)                                                                 \
  template void simple_rnn_forward<T>(const SequenceDims&, const RecurrentOptions&, const T*, \
                                      const T*, const std::uint8_t*, const T*,                          \
                                      const SimpleRnnWeights<T>&, T*, T*,                     \
                                      const SimpleRnnCache<T>&);                              \
  template void simple_rnn_backward<T>(const SequenceDims&, const RecurrentOptions&,          \
                                       const T*, const T*, const T*, const std::uint8_t*, const T*,     \
                                       const SimpleRnnWeights<T>&, const SimpleRnnCache<T>&,  \
                                       const SimpleRnnGradients<T>&);
RNNKIT_INSTANTIATE(float)
RNNKIT_INSTANTIATE(double)
#undef RNNKIT_INSTANTIATE

}  // namespace rnnkit
