// Shared vocabulary of the rnnkit core: row-major Eigen aliases over caller-owned buffers,
// the activation functions, and the dimensions of a batch of sequences.
//
// Every tensor is a dense C-order buffer owned by the caller. A batch of sequences is
// batch-major, (N, T, width): the rows of one time step t are N rows spaced T*width apart,
// which StepMap views without copying.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

namespace rnnkit {

using Index = Eigen::Index;

template <typename T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<Matrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>>;
template <typename T>
using RowVectorMap = Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>;
template <typename T>
using ConstRowVectorMap = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;
// The N rows of one time step inside a batch-major (N, T, width) buffer.
template <typename T>
using StepMap = Eigen::Map<Matrix<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using ConstStepMap = Eigen::Map<const Matrix<T>, 0, Eigen::OuterStride<>>;

enum class Activation {
  Linear, Tanh, Sigmoid, HardSigmoid, Relu, Softmax,
  Elu, Selu, Softplus, Softsign, Exponential, LeakyRelu, Relu6, Gelu, Silu
};

// Keras 3's constants: selu's (Klambauer et al.) and leaky_relu's default negative slope.
constexpr double kSeluAlpha = 1.67326324235437728481704299, kSeluScale = 1.05070098735548049341933498;
constexpr double kLeakyReluSlope = 0.2;

// Whether act'(x) can be had from y = act(x) alone (every activation but gelu and silu, which
// are not one-to-one): the recurrent kernels keep y, and the pre-activations only for those.
inline bool derivative_from_output(Activation activation) {
  return activation != Activation::Gelu && activation != Activation::Silu;
}

// Parses Keras' activation names; throws std::invalid_argument listing the valid ones.
Activation activation_from_name(const std::string& name);
const char* activation_name(Activation activation);
// The names, quoted and comma-separated, for messages (softmax left out for the recurrent cells).
std::string activation_names(bool with_softmax);

// Sizes of a recurrent call: batch N, time T, features F (input width), units H.
struct SequenceDims {
  Index batch;
  Index time;
  Index features;
  Index units;
};

// Options shared by the recurrent cells.
struct RecurrentOptions {
  Activation activation = Activation::Tanh;
  Activation recurrent_activation = Activation::Sigmoid;
  // Process t = T-1 .. 0; outputs are stored in processing order (Keras' go_backwards).
  bool go_backwards = false;
};

namespace detail {

// tanh in double precision for the Eigen 3.4 build, which vectorizes tanh for float only (for
// double it calls std::tanh per element, which took most of a float64 SimpleRNN forward pass).
// Written on Eigen's vectorized exp:
//   tanh x = sign(x) (1 - e) / (1 + e),  e = exp(-2|x|),
// and, below |x| = 1/8 where 1 - e cancels, the odd Taylor polynomial to x^15 (the first term
// left out is under 3e-18 of tanh x there). NaN stays NaN; +-inf gives +-1.
constexpr double kTanhTaylor[] = {-929569.0 / 638512875, 21844.0 / 6081075, -1382.0 / 155925,
                                  62.0 / 2835, -17.0 / 315, 2.0 / 15, -1.0 / 3, 1.0};
constexpr double kTanhTaylorBelow = 0.125;

inline double tanh_double(double x) {
  if (std::abs(x) < kTanhTaylorBelow) {
    double poly = 0, x2 = x * x;
    for (double c : kTanhTaylor) poly = poly * x2 + c;
    return poly * x;
  }
  const double e = std::exp(-2 * std::abs(x));
  return std::copysign((1 - e) / (1 + e), x);
}

template <typename Packet>
Packet tanh_double(const Packet& x) {
  namespace ei = Eigen::internal;
  const Packet one = ei::pset1<Packet>(1.0), a = ei::pabs(x), x2 = ei::pmul(x, x);
  Packet poly = ei::pzero(x);
  for (double c : kTanhTaylor) poly = ei::pmadd(poly, x2, ei::pset1<Packet>(c));
  const Packet e = ei::pexp(ei::pmul(ei::pset1<Packet>(-2.0), a));
  const Packet magnitude = ei::pdiv(ei::psub(one, e), ei::padd(one, e));
  const Packet big = ei::pselect(ei::pcmp_lt(x, ei::pzero(x)), ei::pnegate(magnitude), magnitude);
  return ei::pselect(ei::pcmp_lt(a, ei::pset1<Packet>(kTanhTaylorBelow)), ei::pmul(poly, x), big);
}

}  // namespace detail

// In-place y = tanh(y): Eigen's for float, detail::tanh_double for double.
template <typename Derived>
void tanh_in_place(Eigen::MatrixBase<Derived>& y) {
  if constexpr (!std::is_same_v<typename Derived::Scalar, double>) {
    y.array() = y.array().tanh();
  } else if constexpr (Derived::IsRowMajor && Derived::InnerStrideAtCompileTime == 1) {
    using Packet = typename Eigen::internal::packet_traits<double>::type;
    constexpr Index kLanes = Eigen::internal::packet_traits<double>::size;
    auto& m = y.derived();
    for (Index r = 0; r < m.rows(); ++r) {  // each row contiguous
      double* row = &m.coeffRef(r, 0);
      Index j = 0;
      for (; j + kLanes <= m.cols(); j += kLanes) {
        Eigen::internal::pstoreu(row + j, detail::tanh_double(Eigen::internal::ploadu<Packet>(row + j)));
      }
      for (; j < m.cols(); ++j) row[j] = detail::tanh_double(row[j]);
    }
  } else {
    y = y.unaryExpr([](double x) { return detail::tanh_double(x); });
  }
}

// In-place y = act(y). Softmax is taken over each row.
template <typename Derived>
void apply_activation(Activation activation, const Eigen::MatrixBase<Derived>& values) {
  using T = typename Derived::Scalar;
  auto& y = const_cast<Eigen::MatrixBase<Derived>&>(values);
  switch (activation) {
    case Activation::Linear:
      return;
    case Activation::Tanh:
      tanh_in_place(y);
      return;
    case Activation::Sigmoid:
      y.array() = y.array().logistic();
      return;
    case Activation::HardSigmoid:  // Keras 3: relu6(x + 3) / 6
      y.array() = (y.array() / T(6) + T(0.5)).max(T(0)).min(T(1));
      return;
    case Activation::Relu:
      y.array() = y.array().max(T(0));
      return;
    case Activation::Softmax:
      for (Index r = 0; r < y.rows(); ++r) {
        auto row = y.row(r).array();
        row = (row - row.maxCoeff()).exp();
        row /= row.sum();
      }
      return;
    case Activation::Elu:  // x > 0 ? x : exp(x) - 1
      y.array() = (y.array() > T(0)).select(y.array(), y.array().exp() - T(1));
      return;
    case Activation::Selu:  // scale * (x > 0 ? x : alpha (exp(x) - 1))
      y.array() = T(kSeluScale) * (y.array() > T(0)).select(y.array(), T(kSeluAlpha) * (y.array().exp() - T(1)));
      return;
    case Activation::Softplus:  // log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), without overflow
      y.array() = y.array().max(T(0)) + (-y.array().abs()).exp().log1p();
      return;
    case Activation::Softsign:  // x / (1 + |x|)
      y.array() = y.array() / (T(1) + y.array().abs());
      return;
    case Activation::Exponential:
      y.array() = y.array().exp();
      return;
    case Activation::LeakyRelu:  // x > 0 ? x : 0.2 x
      y.array() = (y.array() > T(0)).select(y.array(), T(kLeakyReluSlope) * y.array());
      return;
    case Activation::Relu6:
      y.array() = y.array().max(T(0)).min(T(6));
      return;
    case Activation::Gelu:  // x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), the exact form (Keras' default)
      y = y.unaryExpr([](T x) { return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2))); });
      return;
    case Activation::Silu:  // x sigmoid(x)
      y.array() = y.array() * y.array().logistic();
      return;
  }
}

// In-place d = d * act'(x), with the derivative written through the activation's output
// y = act(x): tanh' = 1 - y^2, sigmoid' = y (1 - y), so the pre-activation is never stored.
template <typename DerivedD, typename DerivedY>
void multiply_by_derivative(Activation activation, const Eigen::MatrixBase<DerivedD>& grad,
                            const Eigen::MatrixBase<DerivedY>& y) {
  using T = typename DerivedD::Scalar;
  auto& d = const_cast<Eigen::MatrixBase<DerivedD>&>(grad);
  switch (activation) {
    case Activation::Linear:
      return;
    case Activation::Tanh:
      d.array() *= T(1) - y.array().square();
      return;
    case Activation::Sigmoid:
      d.array() *= y.array() * (T(1) - y.array());
      return;
    case Activation::HardSigmoid:  // slope 1/6 strictly inside the linear segment
      d.array() = (y.array() > T(0) && y.array() < T(1)).select(d.array() / T(6), T(0));
      return;
    case Activation::Relu:
      d.array() = (y.array() > T(0)).select(d.array(), T(0));
      return;
    case Activation::Softmax:  // dx = y * (dy - <dy, y>) per row
      for (Index r = 0; r < d.rows(); ++r) {
        const T dot = d.row(r).dot(y.row(r));
        d.row(r).array() = y.row(r).array() * (d.row(r).array() - dot);
      }
      return;
    case Activation::Elu:  // below 0, y = exp(x) - 1 and y' = exp(x) = y + 1
      d.array() *= (y.array() > T(0)).select(T(1), y.array() + T(1));
      return;
    case Activation::Selu:  // below 0, y' = scale alpha exp(x) = y + scale alpha
      d.array() *= (y.array() > T(0)).select(T(kSeluScale), y.array() + T(kSeluScale * kSeluAlpha));
      return;
    case Activation::Softplus:  // sigmoid(x) = 1 - exp(-y)
      d.array() *= -(-y.array()).expm1();
      return;
    case Activation::Softsign:  // 1 / (1 + |x|)^2 = (1 - |y|)^2
      d.array() *= (T(1) - y.array().abs()).square();
      return;
    case Activation::Exponential:
      d.array() *= y.array();
      return;
    case Activation::LeakyRelu:
      d.array() = (y.array() > T(0)).select(d.array(), T(kLeakyReluSlope) * d.array());
      return;
    case Activation::Relu6:  // slope 1 strictly between 0 and 6
      d.array() = (y.array() > T(0) && y.array() < T(6)).select(d.array(), T(0));
      return;
    case Activation::Gelu:
    case Activation::Silu:
      throw std::logic_error("gelu and silu take their derivative from the input: multiply_by_derivative_at");
  }
}

// In-place d = d * act'(.) of one block: through its output y, or, for gelu and silu, through
// its pre-activation z (which the recurrent kernels keep for those two alone).
template <typename DerivedD, typename DerivedY, typename DerivedZ>
void multiply_by_derivative(Activation activation, const Eigen::MatrixBase<DerivedD>& grad,
                            const Eigen::MatrixBase<DerivedY>& y, const Eigen::MatrixBase<DerivedZ>& z);

// In-place d = d * act'(z) from the pre-activation z, for the activations that are not
// one-to-one: gelu' = Phi(z) + z phi(z), silu' = s (1 + z (1 - s)) with s = sigmoid(z).
template <typename DerivedD, typename DerivedZ>
void multiply_by_derivative_at(Activation activation, const Eigen::MatrixBase<DerivedD>& grad,
                               const Eigen::MatrixBase<DerivedZ>& z) {
  using T = typename DerivedD::Scalar;
  auto& d = const_cast<Eigen::MatrixBase<DerivedD>&>(grad);
  if (activation == Activation::Gelu) {
    d.array() *= z.array().unaryExpr([](T x) {
      return T(0.5) * (T(1) + std::erf(x * T(M_SQRT1_2))) + x * std::exp(T(-0.5) * x * x) * T(0.3989422804014327);
    });
  } else {
    const auto s = z.array().logistic();
    d.array() *= s * (T(1) + z.array() * (T(1) - s));
  }
}

template <typename DerivedD, typename DerivedY, typename DerivedZ>
void multiply_by_derivative(Activation activation, const Eigen::MatrixBase<DerivedD>& grad,
                            const Eigen::MatrixBase<DerivedY>& y, const Eigen::MatrixBase<DerivedZ>& z) {
  if (derivative_from_output(activation)) {
    multiply_by_derivative(activation, grad, y);
  } else {
    multiply_by_derivative_at(activation, grad, z);
  }
}

}  // namespace rnnkit
