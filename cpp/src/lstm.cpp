// LSTM forward and backward through time (Keras' equations; gate blocks i, f, c, o).
//
//   a_t = x_t W + h_{t-1} U + b                       (N, 4H), split into a_i a_f a_c a_o
//   i = ra(a_i [+ p_i * c_{t-1}])   f = ra(a_f [+ p_f * c_{t-1}])   g = act(a_c)
//   c_t = f * c_{t-1} + i * g
//   o = ra(a_o [+ p_o * c_t])
//   h_t = o * act(c_t)
// ra = recurrent_activation (sigmoid), act = activation (tanh); [.] are the optional
// peephole terms (Gers & Schmidhuber), p = peephole_kernel rows i, f, o. Under recurrent
// dropout the step reads h_{t-1} * m instead of h_{t-1} (Keras); c is never dropped.
//
// Backward, with dh, dc the gradients reaching h_t and c_t:
//   da_o = dh * act(c_t) * ra'(o)
//   dc_t = dc + dh * o * act'(c_t) [+ da_o * p_o]
//   da_i = dc_t * g * ra'(i),  da_f = dc_t * c_{t-1} * ra'(f),  da_c = dc_t * i * act'(g)
//   dc_{t-1} = dc_t * f [+ da_i * p_i + da_f * p_f],  dh_{t-1} = da U^T
//   dW = X^T dA, dU = H_prev^T dA, db = sum da, dx = dA W^T, dp = sums of da * c (after the loop)
#include "rnnkit/lstm.hpp"

#include "packed_matmul.hpp"
#include "sequence.hpp"

namespace rnnkit {

namespace {

// The cache rows of one slice of the batch.
template <typename T>
LstmCache<T> cache_slice(const LstmCache<T>& cache, const detail::BatchSlice& b) {
  const Index H = b.dims.units;
  return {b.sequence(cache.gates, 4 * H), b.sequence(cache.cell, H), b.sequence(cache.h_prev, H),
          b.sequence(cache.c_prev, H), b.sequence(cache.pre_gates, 4 * H)};
}

// The time loop of the forward pass over the samples of dims.batch (a slice of the batch);
// cache.gates already holds x_t W + b.
template <typename T>
void lstm_forward_steps(const SequenceDims& dims, const RecurrentOptions& options, const T* h0,
                        const T* c0, const std::uint8_t* mask, const T* recurrent_mask,
                        const LstmWeights<T>& weights,
                        const detail::PackedMatrix<T>& recurrent_kernel, T* y, T* h_last,
                        T* c_last, const LstmCache<T>& cache) {
  const Index N = dims.batch, H = dims.units, G = 4 * H;
  ConstMatrixMap<T> peephole(weights.peephole_kernel, weights.peephole_kernel ? 3 : 0, H);
  Matrix<T> h = detail::initial_state(h0, N, H);
  Matrix<T> c = detail::initial_state(c0, N, H);
  Matrix<T> h_next(N, H), h_dropped(recurrent_mask ? N : 0, H), c_scratch(cache.cell ? 0 : N, H);
  for (Index s = 0; s < dims.time; ++s) {
    check_interrupt();
    const Index t = detail::input_step(s, dims.time, options.go_backwards);
    auto a = detail::step_rows(cache.gates, dims, G, t);
    auto c_next = detail::step_rows_or(cache.cell, dims, H, t, c_scratch);
    const Matrix<T>& h_in = detail::dropped_state(h, recurrent_mask, h_dropped);
    detail::store_step(cache.h_prev, dims, H, t, h_in);
    detail::store_step(cache.c_prev, dims, H, t, c);
    detail::matmul(a, h_in, recurrent_kernel, /*accumulate=*/true);
    auto i = a.middleCols(0, H), f = a.middleCols(H, H), g = a.middleCols(2 * H, H),
         o = a.middleCols(3 * H, H);
    if (weights.peephole_kernel != nullptr) {
      i.array() += c.array().rowwise() * peephole.row(0).array();
      f.array() += c.array().rowwise() * peephole.row(1).array();
    }
    if (cache.pre_gates != nullptr) detail::step_rows(cache.pre_gates, dims, G, t).leftCols(3 * H) = a.leftCols(3 * H);
    apply_activation(options.recurrent_activation, a.leftCols(2 * H));  // i, f
    apply_activation(options.activation, g);
    c_next.array() = f.array() * c.array() + i.array() * g.array();
    if (weights.peephole_kernel != nullptr) {
      o.array() += c_next.array().rowwise() * peephole.row(2).array();
    }
    if (cache.pre_gates != nullptr) detail::step_rows(cache.pre_gates, dims, G, t).rightCols(H) = o;
    apply_activation(options.recurrent_activation, o);
    h_next = c_next;
    apply_activation(options.activation, h_next);
    h_next.array() *= o.array();
    // Masked samples keep h and c; the others take the new state.
    detail::carry_masked_rows(mask, dims, t, c_next, c);
    detail::carry_masked_rows(mask, dims, t, h_next, h);
    c = c_next;
    h.swap(h_next);
    if (y != nullptr) detail::step_rows(y, dims, H, s) = h;
  }
  MatrixMap<T>(h_last, N, H) = h;
  MatrixMap<T>(c_last, N, H) = c;
}

}  // namespace

template <typename T>
void lstm_forward(const SequenceDims& dims, const RecurrentOptions& options, const T* x,
                  const T* h0, const T* c0, const std::uint8_t* mask, const T* recurrent_mask,
                  const LstmWeights<T>& weights, T* y, T* h_last, T* c_last,
                  const LstmCache<T>& cache) {
  const Index H = dims.units, G = 4 * H;
  detail::project_inputs(dims, G, x, weights.kernel, weights.bias, cache.gates);
  const detail::PackedMatrix<T> recurrent_kernel(ConstMatrixMap<T>(weights.recurrent_kernel, H, G));
  detail::for_each_batch_slice(dims, G, [&](const detail::BatchSlice& b) {
    lstm_forward_steps(b.dims, options, b.state(h0, H), b.state(c0, H), b.sequence(mask, 1),
                       b.state(recurrent_mask, H), weights, recurrent_kernel, b.sequence(y, H),
                       b.state(h_last, H),
                       b.state(c_last, H), cache_slice(cache, b));
  });
}

namespace {

// The time loop of the backward pass over the samples of dims.batch: writes dgates
// (N, T, 4H) = dL/da and the gradients dh0, dc0 (N, H) of the initial states, and when asked
// the gradients dh_steps, dc_steps (N, T, H) reaching every h_t and c_t.
template <typename T>
void lstm_backward_steps(const SequenceDims& dims, const RecurrentOptions& options, const T* dy,
                         const T* dh_last, const T* dc_last, const std::uint8_t* mask,
                         const T* recurrent_mask, const LstmWeights<T>& weights,
                         const detail::PackedMatrix<T>& recurrent_kernel_t,
                         const LstmCache<T>& cache, T* dgates, T* dh0, T* dc0,
                         T* dh_steps, T* dc_steps) {
  const Index N = dims.batch, H = dims.units, G = 4 * H;
  const bool has_peephole = weights.peephole_kernel != nullptr;
  ConstMatrixMap<T> peephole(weights.peephole_kernel, has_peephole ? 3 : 0, H);
  Matrix<T> dh = detail::initial_state(dh_last, N, H);
  Matrix<T> dc = detail::initial_state(dc_last, N, H);
  Matrix<T> dh_prev(N, H), dc_prev(N, H), act_c(N, H), dc_t(N, H);
  for (Index s = dims.time - 1; s >= 0; --s) {
    check_interrupt();
    const Index t = detail::input_step(s, dims.time, options.go_backwards);
    if (dy != nullptr) dh += detail::step_rows(dy, dims, H, s);
    detail::store_step(dh_steps, dims, H, t, dh);
    const auto gates = detail::step_rows(cache.gates, dims, G, t);
    const auto i = gates.middleCols(0, H), f = gates.middleCols(H, H),
               g = gates.middleCols(2 * H, H), o = gates.middleCols(3 * H, H);
    const auto c = detail::step_rows(cache.cell, dims, H, t);
    const auto c_prev = detail::step_rows(cache.c_prev, dims, H, t);
    // The pre-activations, kept for gelu and silu alone (else unused: the gates stand in).
    const auto pre = detail::step_rows(cache.pre_gates ? cache.pre_gates : cache.gates, dims, G, t);
    auto da = detail::step_rows(dgates, dims, G, t);
    auto da_i = da.middleCols(0, H), da_f = da.middleCols(H, H), da_c = da.middleCols(2 * H, H),
         da_o = da.middleCols(3 * H, H);
    act_c = c;
    apply_activation(options.activation, act_c);
    da_o.array() = dh.array() * act_c.array();  // dL/do
    multiply_by_derivative(options.recurrent_activation, da_o, o, pre.middleCols(3 * H, H));
    dc_t.array() = dh.array() * o.array();  // dL/dact(c_t) through h_t
    multiply_by_derivative(options.activation, dc_t, act_c, c);
    dc_t += dc;
    if (has_peephole) dc_t.array() += da_o.array().rowwise() * peephole.row(2).array();
    if (dc_steps != nullptr) {  // a masked sample's c_t is c_{t-1}: only the carried gradient reaches it
      auto dc_step = detail::step_rows(dc_steps, dims, H, t);
      dc_step = dc_t;
      detail::carry_masked_rows(mask, dims, t, dc_step, dc);
    }
    da_i.array() = dc_t.array() * g.array();  // dL/di
    multiply_by_derivative(options.recurrent_activation, da_i, i, pre.middleCols(0, H));
    da_f.array() = dc_t.array() * c_prev.array();  // dL/df
    multiply_by_derivative(options.recurrent_activation, da_f, f, pre.middleCols(H, H));
    da_c.array() = dc_t.array() * i.array();  // dL/dg
    multiply_by_derivative(options.activation, da_c, g, pre.middleCols(2 * H, H));
    dc_prev.array() = dc_t.array() * f.array();  // dc_{t-1} through the forget path
    if (has_peephole) {
      dc_prev.array() += da_i.array().rowwise() * peephole.row(0).array() +
                         da_f.array().rowwise() * peephole.row(1).array();
    }
    detail::zero_masked_rows(mask, dims, t, da);
    detail::matmul(dh_prev, da, recurrent_kernel_t);  // dh_{t-1} = da U^T
    detail::drop_state_gradient(dh_prev, recurrent_mask);
    // Masked samples pass both gradients straight through the step.
    detail::carry_masked_rows(mask, dims, t, dh_prev, dh);
    detail::carry_masked_rows(mask, dims, t, dc_prev, dc);
    dh.swap(dh_prev);
    dc.swap(dc_prev);
  }
  MatrixMap<T>(dh0, N, H) = dh;
  MatrixMap<T>(dc0, N, H) = dc;
}

}  // namespace

template <typename T>
void lstm_backward(const SequenceDims& dims, const RecurrentOptions& options, const T* dy,
                   const T* dh_last, const T* dc_last, const T* x, const std::uint8_t* mask, const T* recurrent_mask,
                   const LstmWeights<T>& weights, const LstmCache<T>& cache,
                   const LstmGradients<T>& grads) {
  const Index H = dims.units, G = 4 * H, rows = dims.batch * dims.time;
  const bool has_peephole = weights.peephole_kernel != nullptr;
  const Buffer<T> dgates_buffer(rows * G);
  MatrixMap<T> dgates(dgates_buffer.data(), rows, G);  // dL/da, batch-major in input time order
  const detail::PackedMatrix<T> recurrent_kernel_t(
      ConstMatrixMap<T>(weights.recurrent_kernel, H, G).transpose());
  detail::for_each_batch_slice(dims, G, [&](const detail::BatchSlice& b) {
    lstm_backward_steps(b.dims, options, b.sequence(dy, H), b.state(dh_last, H),
                        b.state(dc_last, H), b.sequence(mask, 1), b.state(recurrent_mask, H),
                        weights, recurrent_kernel_t, cache_slice(cache, b), b.sequence(dgates.data(), G), b.state(grads.dh0, H),
                        b.state(grads.dc0, H), b.sequence(grads.dh_steps, H), b.sequence(grads.dc_steps, H));
  });
  detail::parallel_matmul(MatrixMap<T>(grads.drecurrent_kernel, H, G),
                 ConstMatrixMap<T>(cache.h_prev, rows, H).transpose(), dgates);  // dU = H_prev^T dA
  detail::input_gradients(dims, G, x, weights.kernel, dgates.data(), grads.dx, grads.dkernel,
                          grads.dbias);
  if (has_peephole && grads.dpeephole_kernel != nullptr) {
    MatrixMap<T> dpeephole(grads.dpeephole_kernel, 3, H);
    ConstMatrixMap<T> c_prev(cache.c_prev, rows, H), c(cache.cell, rows, H);
    dpeephole.row(0) = (dgates.middleCols(0, H).array() * c_prev.array()).colwise().sum();
    dpeephole.row(1) = (dgates.middleCols(H, H).array() * c_prev.array()).colwise().sum();
    dpeephole.row(2) = (dgates.middleCols(3 * H, H).array() * c.array()).colwise().sum();
  }
}

#define RNNKIT_INSTANTIATE(T)                                                                 \
  template void lstm_forward<T>(const SequenceDims&, const RecurrentOptions&, const T*,       \
                                const T*, const T*, const std::uint8_t*, const T*, const LstmWeights<T>&, \
                                T*, T*, T*, const LstmCache<T>&);                             \
  template void lstm_backward<T>(const SequenceDims&, const RecurrentOptions&, const T*,      \
                                 const T*, const T*, const T*, const std::uint8_t*, const T*,           \
                                 const LstmWeights<T>&, const LstmCache<T>&,                  \
                                 const LstmGradients<T>&);
RNNKIT_INSTANTIATE(float)
RNNKIT_INSTANTIATE(double)
#undef RNNKIT_INSTANTIATE

}  // namespace rnnkit
