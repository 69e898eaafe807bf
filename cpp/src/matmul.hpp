// The products of whole matrices, dst = lhs * rhs or dst += lhs * rhs: the input projections
// and the weight gradients. The time loop's recurrent products, with the same right-hand side
// at every step, go through packed_matmul.hpp instead.
//
// Built with RNNKIT_USE_OPENBLAS (the Python build links OpenBLAS from the scipy-openblas32
// wheel), a product of two matrices goes to OpenBLAS's gemm: on the 2-core AVX2 machine of
// benchmarks/ it ran the step and weight-gradient shapes 1.2-1.8x faster than Eigen's GEMM.
// A product with a vector side (batch 1, or one output column) stays in Eigen, whose gemv
// there took 0.9 us where a BLAS call took 3-4 us. Without OpenBLAS everything is Eigen.
#pragma once

#include <type_traits>

#include "rnnkit/common.hpp"

#ifdef RNNKIT_USE_OPENBLAS
#include <cblas.h>  // scipy-openblas32 prefixes every symbol with scipy_
#endif

namespace rnnkit::detail {

#ifdef RNNKIT_USE_OPENBLAS
// How CBLAS reads a direct-access Eigen block in row-major order: a row-major block as it
// is, a column-major one (the transpose of a row-major block) transposed.
template <typename M>
constexpr CBLAS_TRANSPOSE blas_transpose() {
  static_assert(M::InnerStrideAtCompileTime == 1, "BLAS operands need unit inner stride");
  return M::IsRowMajor ? CblasNoTrans : CblasTrans;
}
#endif

template <typename Dst, typename Lhs, typename Rhs>
void matmul(const Eigen::MatrixBase<Dst>& result, const Eigen::MatrixBase<Lhs>& lhs,
            const Eigen::MatrixBase<Rhs>& rhs, bool accumulate = false) {
  auto& dst = const_cast<Eigen::MatrixBase<Dst>&>(result);
#ifdef RNNKIT_USE_OPENBLAS
  using T = typename Dst::Scalar;
  static_assert(Dst::IsRowMajor && Dst::InnerStrideAtCompileTime == 1,
                "BLAS results are row-major blocks");
  const Index m = dst.rows(), n = dst.cols(), k = lhs.cols();
  if (m > 1 && n > 1 && k > 0) {
    const T beta = accumulate ? T(1) : T(0);
    const auto& a = lhs.derived();
    const auto& b = rhs.derived();
    auto& c = dst.derived();
    if constexpr (std::is_same_v<T, float>) {
      scipy_cblas_sgemm(CblasRowMajor, blas_transpose<Lhs>(), blas_transpose<Rhs>(), m, n, k, 1.0f,
                        a.data(), a.outerStride(), b.data(), b.outerStride(), beta, c.data(),
                        c.outerStride());
    } else {
      static_assert(std::is_same_v<T, double>, "the kernels run in float or double");
      scipy_cblas_dgemm(CblasRowMajor, blas_transpose<Lhs>(), blas_transpose<Rhs>(), m, n, k, 1.0,
                        a.data(), a.outerStride(), b.data(), b.outerStride(), beta, c.data(),
                        c.outerStride());
    }
    return;
  }
#endif
  if (accumulate) {
    dst.noalias() += lhs * rhs;
  } else {
    dst.noalias() = lhs * rhs;
  }
}

}  // namespace rnnkit::detail
