// The optimizers' update rules over flat arrays (see rnnkit/optimizers.hpp). Each rule reads
// the gradient and the slots once and writes the slots and the values once: one pass in
// place of the several temporaries an array-at-a-time update makes.
//
// The loops are plain loops that the compiler vectorizes (this file is built with
// -fno-math-errno so that sqrt vectorizes): every element takes the same instructions
// whatever the arrays' alignment, so an update is bit-for-bit reproducible, which Eigen's
// alignment peeling (a scalar head computed differently from the vector body) would not be.
#include "rnnkit/optimizers.hpp"

#include <algorithm>
#include <cmath>

#include "parallel.hpp"

namespace rnnkit {
namespace {

// m = momentum * m - lr * g; w += m, or with Nesterov w += momentum * m - lr * g.
// Without momentum, w -= lr * g.
template <typename T>
void sgd(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end) {
  const T lr = T(s.learning_rate), momentum = T(s.momentum);
  T* __restrict w = x.value;
  const T* __restrict g = x.gradient;
  T* __restrict m = x.slots[0];
  if (m == nullptr) {
    for (Index i = begin; i < end; ++i) w[i] -= g[i] * lr;
  } else if (s.nesterov) {
    for (Index i = begin; i < end; ++i) {
      m[i] = m[i] * momentum - g[i] * lr;
      w[i] += m[i] * momentum - g[i] * lr;
    }
  } else {
    for (Index i = begin; i < end; ++i) {
      m[i] = m[i] * momentum - g[i] * lr;
      w[i] += m[i];
    }
  }
}

// alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t); m += (g - m)(1 - beta_1);
// v += (g^2 - v)(1 - beta_2); with amsgrad v_hat = max(v_hat, v) takes v's place below;
// w -= m alpha / (sqrt(v) + epsilon).
template <typename T>
void adam(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end) {
  const T t = T(s.step), one = T(1);
  const T alpha = T(s.learning_rate) * std::sqrt(one - std::pow(T(s.beta_2), t)) / (one - std::pow(T(s.beta_1), t));
  const T decay_1 = T(1 - s.beta_1), decay_2 = T(1 - s.beta_2), epsilon = T(s.epsilon);
  T* __restrict w = x.value;
  const T* __restrict g = x.gradient;
  T* __restrict m = x.slots[0];
  T* __restrict v = x.slots[1];
  T* __restrict v_hat = x.slots[2];
  if (v_hat == nullptr) {
    for (Index i = begin; i < end; ++i) {
      m[i] += (g[i] - m[i]) * decay_1;
      v[i] += (g[i] * g[i] - v[i]) * decay_2;
      w[i] -= m[i] * alpha / (std::sqrt(v[i]) + epsilon);
    }
  } else {
    for (Index i = begin; i < end; ++i) {
      m[i] += (g[i] - m[i]) * decay_1;
      v[i] += (g[i] * g[i] - v[i]) * decay_2;
      v_hat[i] = std::max(v_hat[i], v[i]);
      w[i] -= m[i] * alpha / (std::sqrt(v_hat[i]) + epsilon);
    }
  }
}

// v = rho v + (1 - rho) g^2; centered: a = rho a + (1 - rho) g and d = v - a^2 + epsilon,
// else d = v + epsilon; increment = lr g / sqrt(d); with momentum m = momentum m + increment
// and w -= m, else w -= increment.
template <typename T>
void rmsprop(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end) {
  const T rho = T(s.rho), decay = T(1 - s.rho), epsilon = T(s.epsilon), lr = T(s.learning_rate);
  const T momentum = T(s.momentum);
  T* __restrict w = x.value;
  const T* __restrict g = x.gradient;
  T* __restrict v = x.slots[0];
  T* __restrict m = x.slots[1];
  T* __restrict a = x.slots[2];
  for (Index i = begin; i < end; ++i) {
    v[i] = v[i] * rho + decay * (g[i] * g[i]);
    T denominator;
    if (a != nullptr) {
      a[i] = a[i] * rho + decay * g[i];
      denominator = v[i] - a[i] * a[i] + epsilon;
    } else {
      denominator = v[i] + epsilon;
    }
    const T increment = lr * g[i] / std::sqrt(denominator);
    if (m != nullptr) {
      m[i] = m[i] * momentum + increment;
      w[i] -= m[i];
    } else {
      w[i] -= increment;
    }
  }
}

// accumulator += g^2; w -= lr g / sqrt(accumulator + epsilon).
template <typename T>
void adagrad(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end) {
  const T lr = T(s.learning_rate), epsilon = T(s.epsilon);
  T* __restrict w = x.value;
  const T* __restrict g = x.gradient;
  T* __restrict accumulator = x.slots[0];
  for (Index i = begin; i < end; ++i) {
    accumulator[i] += g[i] * g[i];
    w[i] -= lr * g[i] / std::sqrt(accumulator[i] + epsilon);
  }
}

template <typename T>
void update_range(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end) {
  if (x.decay && s.weight_decay != 0) {
    const T weight_decay = T(s.weight_decay), lr = T(s.learning_rate);
    T* __restrict w = x.value;
    for (Index i = begin; i < end; ++i) w[i] -= w[i] * weight_decay * lr;
  }
  switch (s.rule) {
    case OptimizerRule::Sgd:
      return sgd(s, x, begin, end);
    case OptimizerRule::Adam:
      return adam(s, x, begin, end);
    case OptimizerRule::RMSprop:
      return rmsprop(s, x, begin, end);
    case OptimizerRule::Adagrad:
      return adagrad(s, x, begin, end);
  }
}

}  // namespace

template <typename T>
void optimizer_update(const OptimizerStep& step, const OptimizerVariable<T>* variables, Index count) {
  // The variables' elements in a row, split into contiguous shares, one per thread: a share
  // may span several variables, so small variables split too. Adam's and RMSprop's square
  // root and division make a step compute-bound (about 1 ns an element on one core), so two
  // threads pay off from a few tens of thousands of elements on.
  constexpr Index grain = Index(1) << 15;
  Index total = 0;
  for (Index k = 0; k < count; ++k) total += variables[k].size;
  detail::parallel_ranges(total, grain, [&](Index begin, Index end) {
    Index offset = 0;
    for (Index k = 0; k < count && offset < end; offset += variables[k].size, ++k) {
      const Index first = std::max(begin, offset), last = std::min(end, offset + variables[k].size);
      if (first < last) update_range(step, variables[k], first - offset, last - offset);
    }
  });
}

template void optimizer_update<float>(const OptimizerStep&, const OptimizerVariable<float>*, Index);
template void optimizer_update<double>(const OptimizerStep&, const OptimizerVariable<double>*, Index);

}  // namespace rnnkit
