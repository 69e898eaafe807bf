// Shared vocabulary of the rnnkit core: row-major Eigen aliases over caller-owned buffers,
// the activation functions, and the dimensions of a batch of sequences.
//
// Every tensor is a dense C-order buffer owned by the caller. A batch of sequences is
// batch-major, (N, T, width): the rows of one time step t are N rows spaced T*width apart,
// which StepMap views without copying.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <string>

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

enum class Activation { Linear, Tanh, Sigmoid, HardSigmoid, Relu, Softmax };

// Parses Keras' activation names; throws std::invalid_argument listing the valid ones.
Activation activation_from_name(const std::string& name);
const char* activation_name(Activation activation);

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

// In-place y = act(y). Softmax is taken over each row.
template <typename Derived>
void apply_activation(Activation activation, const Eigen::MatrixBase<Derived>& values) {
  using T = typename Derived::Scalar;
  auto& y = const_cast<Eigen::MatrixBase<Derived>&>(values);
  switch (activation) {
    case Activation::Linear:
      return;
    case Activation::Tanh:
      y.array() = y.array().tanh();
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
  }
}

}  // namespace rnnkit
