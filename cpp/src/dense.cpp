// Dense: z = x W + b, y = act(z).
// Backward: dz = dy * act'(z) (through y; gelu and silu through z, computed again), dW = x^T dz,
// db = sum of dz's rows, dx = dz W^T.
#include "rnnkit/dense.hpp"

#include "parallel.hpp"

namespace rnnkit {

template <typename T>
void dense_forward(Index rows, Index features, Index units, Activation activation, const T* x,
                   const T* kernel, const T* bias, T* y) {
  MatrixMap<T> out(y, rows, units);
  detail::parallel_matmul(out, ConstMatrixMap<T>(x, rows, features), ConstMatrixMap<T>(kernel, features, units));
  if (bias != nullptr) out.rowwise() += ConstRowVectorMap<T>(bias, units);
  apply_activation(activation, out);
}

template <typename T>
void dense_backward(Index rows, Index features, Index units, Activation activation, const T* dy,
                    const T* x, const T* kernel, const T* bias, const T* y, T* dx, T* dkernel, T* dbias) {
  Matrix<T> dz = ConstMatrixMap<T>(dy, rows, units);
  if (derivative_from_output(activation)) {
    multiply_by_derivative(activation, dz, ConstMatrixMap<T>(y, rows, units));
  } else {  // gelu, silu: the pre-activation again, one GEMM, rather than keeping it from the forward pass
    Matrix<T> z(rows, units);
    detail::parallel_matmul(z, ConstMatrixMap<T>(x, rows, features), ConstMatrixMap<T>(kernel, features, units));
    if (bias != nullptr) z.rowwise() += ConstRowVectorMap<T>(bias, units);
    multiply_by_derivative_at(activation, dz, z);
  }
  detail::parallel_matmul(MatrixMap<T>(dkernel, features, units), ConstMatrixMap<T>(x, rows, features).transpose(),
                 dz);  // dW = x^T dz
  if (dbias != nullptr) RowVectorMap<T>(dbias, units) = dz.colwise().sum();  // db
  detail::parallel_matmul(MatrixMap<T>(dx, rows, features), dz,
                 ConstMatrixMap<T>(kernel, features, units).transpose());  // dx = dz W^T
}

#define RNNKIT_INSTANTIATE(T)                                                                  \
  template void dense_forward<T>(Index, Index, Index, Activation, const T*, const T*, const T*, \
                                 T*);                                                          \
  template void dense_backward<T>(Index, Index, Index, Activation, const T*, const T*,          \
                                  const T*, const T*, const T*, T*, T*, T*);
RNNKIT_INSTANTIATE(float)
RNNKIT_INSTANTIATE(double)
#undef RNNKIT_INSTANTIATE

}  // namespace rnnkit
