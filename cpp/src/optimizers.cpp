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

// The four rules PyTorch shares read the gradient through `gradient(i)`: g[i], or with
// PyTorch's coupled weight decay (an L2 term) g[i] + weight_decay * w[i], read before w[i] changes.

// Keras: m = momentum * m - lr * g; w += m, or with Nesterov w += momentum * m - lr * g.
// PyTorch: b = momentum * b + g; w -= lr * b, or with Nesterov w -= lr * (g + momentum * b).
// The two agree while lr is constant. Without momentum, w -= lr * g.
template <typename T, typename Gradient>
void sgd(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end, Gradient gradient) {
  const T lr = T(s.learning_rate), momentum = T(s.momentum);
  T* __restrict w = x.value;
  T* __restrict m = x.slots[0];
  if (m == nullptr) {
    for (Index i = begin; i < end; ++i) w[i] -= gradient(i) * lr;
  } else if (s.torch) {
    for (Index i = begin; i < end; ++i) {
      const T g = gradient(i);
      m[i] = m[i] * momentum + g;
      w[i] -= lr * (s.nesterov ? g + momentum * m[i] : m[i]);
    }
  } else if (s.nesterov) {
    for (Index i = begin; i < end; ++i) {
      const T g = gradient(i);
      m[i] = m[i] * momentum - g * lr;
      w[i] += m[i] * momentum - g * lr;
    }
  } else {
    for (Index i = begin; i < end; ++i) {
      m[i] = m[i] * momentum - gradient(i) * lr;
      w[i] += m[i];
    }
  }
}

// m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2); with amsgrad v_hat = max(v_hat, v)
// takes v's place below. Keras: w -= m alpha / (sqrt(v) + epsilon) with
// alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t). PyTorch puts epsilon after the bias
// correction: w -= lr / (1 - beta_1^t) * m / (sqrt(v) / sqrt(1 - beta_2^t) + epsilon), which is
// Keras' rule with epsilon * sqrt(1 - beta_2^t) in epsilon's place.
template <typename T, typename Gradient>
void adam(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end, Gradient gradient) {
  const T t = T(s.step), one = T(1);
  const T root_correction = std::sqrt(one - std::pow(T(s.beta_2), t));
  const T alpha = T(s.learning_rate) * root_correction / (one - std::pow(T(s.beta_1), t));
  const T decay_1 = T(1 - s.beta_1), decay_2 = T(1 - s.beta_2);
  const T epsilon = s.torch ? T(s.epsilon) * root_correction : T(s.epsilon);
  T* __restrict w = x.value;
  T* __restrict m = x.slots[0];
  T* __restrict v = x.slots[1];
  T* __restrict v_hat = x.slots[2];
  for (Index i = begin; i < end; ++i) {
    const T g = gradient(i);
    m[i] += (g - m[i]) * decay_1;
    v[i] += (g * g - v[i]) * decay_2;
    T second = v[i];
    if (v_hat != nullptr) second = v_hat[i] = std::max(v_hat[i], v[i]);
    w[i] -= m[i] * alpha / (std::sqrt(second) + epsilon);
  }
}

// v = rho v + (1 - rho) g^2; centered: a = rho a + (1 - rho) g, and v - a^2 below in v's place.
// Keras: increment = lr g / sqrt(v + epsilon); with momentum m = momentum m + increment and
// w -= m, else w -= increment. PyTorch: d = sqrt(v) + epsilon (epsilon outside the root);
// with momentum m = momentum m + g / d and w -= lr m, else w -= lr g / d.
template <typename T, typename Gradient>
void rmsprop(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end, Gradient gradient) {
  const T rho = T(s.rho), decay = T(1 - s.rho), epsilon = T(s.epsilon), lr = T(s.learning_rate);
  const T momentum = T(s.momentum);
  T* __restrict w = x.value;
  T* __restrict v = x.slots[0];
  T* __restrict m = x.slots[1];
  T* __restrict a = x.slots[2];
  for (Index i = begin; i < end; ++i) {
    const T g = gradient(i);
    v[i] = v[i] * rho + decay * (g * g);
    T second = v[i];
    if (a != nullptr) {
      a[i] = a[i] * rho + decay * g;
      second = v[i] - a[i] * a[i];
    }
    if (s.torch) {
      const T scaled = g / (std::sqrt(second) + epsilon);
      if (m != nullptr) {
        m[i] = m[i] * momentum + scaled;
        w[i] -= lr * m[i];
      } else {
        w[i] -= lr * scaled;
      }
      continue;
    }
    const T increment = lr * g / std::sqrt(second + epsilon);
    if (m != nullptr) {
      m[i] = m[i] * momentum + increment;
      w[i] -= m[i];
    } else {
      w[i] -= increment;
    }
  }
}

// accumulator += g^2; Keras: w -= lr g / sqrt(accumulator + epsilon); PyTorch:
// w -= lr g / (sqrt(accumulator) + epsilon).
template <typename T, typename Gradient>
void adagrad(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end, Gradient gradient) {
  const T lr = T(s.learning_rate), epsilon = T(s.epsilon);
  T* __restrict w = x.value;
  T* __restrict accumulator = x.slots[0];
  for (Index i = begin; i < end; ++i) {
    const T g = gradient(i);
    accumulator[i] += g * g;
    w[i] -= lr * g / (s.torch ? std::sqrt(accumulator[i]) + epsilon : std::sqrt(accumulator[i] + epsilon));
  }
}

// u_t = beta_1 (1 - 0.5 * 0.96^t), P_t = u_1 ... u_t (Dozat's momentum schedule, as Keras 3);
// m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2);
// m_hat = u_{t+1} m / (1 - P_t u_{t+1}) + (1 - u_t) g / (1 - P_t); v_hat = v / (1 - beta_2^t);
// w -= lr m_hat / (sqrt(v_hat) + epsilon).
template <typename T>
void nadam(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end) {
  const T one = T(1), lr = T(s.learning_rate), epsilon = T(s.epsilon);
  const T decay_1 = T(1 - s.beta_1), decay_2 = T(1 - s.beta_2);
  const T momentum_scale = T(s.u_next) / (one - T(s.u_product) * T(s.u_next));
  const T gradient_scale = (one - T(s.u_t)) / (one - T(s.u_product));
  const T velocity_scale = one / (one - std::pow(T(s.beta_2), T(s.step)));
  T* __restrict w = x.value;
  const T* __restrict g = x.gradient;
  T* __restrict m = x.slots[0];
  T* __restrict v = x.slots[1];
  for (Index i = begin; i < end; ++i) {
    m[i] += (g[i] - m[i]) * decay_1;
    v[i] += (g[i] * g[i] - v[i]) * decay_2;
    const T m_hat = momentum_scale * m[i] + gradient_scale * g[i];
    w[i] -= m_hat * lr / (std::sqrt(v[i] * velocity_scale) + epsilon);
  }
}

// m += (g - m)(1 - beta_1); u = max(beta_2 u, |g|); w -= lr m / ((1 - beta_1^t)(u + epsilon)).
template <typename T>
void adamax(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end) {
  const T lr = T(s.learning_rate), epsilon = T(s.epsilon), beta_2 = T(s.beta_2), decay_1 = T(1 - s.beta_1);
  const T correction = T(1) - std::pow(T(s.beta_1), T(s.step));
  T* __restrict w = x.value;
  const T* __restrict g = x.gradient;
  T* __restrict m = x.slots[0];
  T* __restrict u = x.slots[1];
  for (Index i = begin; i < end; ++i) {
    m[i] += (g[i] - m[i]) * decay_1;
    u[i] = std::max(beta_2 * u[i], std::abs(g[i]));
    w[i] -= lr * m[i] / (correction * (u[i] + epsilon));
  }
}

// a = rho a + (1 - rho) g^2; delta = -sqrt(d + epsilon) g / sqrt(a + epsilon);
// d = rho d + (1 - rho) delta^2; w += lr delta.
template <typename T>
void adadelta(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end) {
  const T lr = T(s.learning_rate), epsilon = T(s.epsilon), rho = T(s.rho), decay = T(1 - s.rho);
  T* __restrict w = x.value;
  const T* __restrict g = x.gradient;
  T* __restrict a = x.slots[0];
  T* __restrict d = x.slots[1];
  for (Index i = begin; i < end; ++i) {
    a[i] = rho * a[i] + decay * (g[i] * g[i]);
    const T delta = -(std::sqrt(d[i] + epsilon) * g[i]) / std::sqrt(a[i] + epsilon);
    d[i] = rho * d[i] + decay * (delta * delta);
    w[i] += lr * delta;
  }
}

// w -= lr sign(beta_1 m + (1 - beta_1) g); m = beta_2 m + (1 - beta_2) g.
template <typename T>
void lion(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end) {
  const T lr = T(s.learning_rate), beta_1 = T(s.beta_1), beta_2 = T(s.beta_2);
  const T decay_1 = T(1) - beta_1, decay_2 = T(1) - beta_2;
  T* __restrict w = x.value;
  const T* __restrict g = x.gradient;
  T* __restrict m = x.slots[0];
  for (Index i = begin; i < end; ++i) {
    const T c = m[i] * beta_1 + g[i] * decay_1;
    w[i] -= lr * T((c > T(0)) - (c < T(0)));
    m[i] = m[i] * beta_2 + g[i] * decay_2;
  }
}

// Follow-the-regularized-leader (McMahan et al.), as Keras 3, with p = learning_rate_power:
// n' = n + g^2; z += g + 2 l2_shrinkage w - (n'^-p - n^-p) / lr * w;
// w = (clip(z, -l1, l1) - z) / (n'^-p / lr + 2 (l2 + beta / (2 lr))); n = n'.
template <typename T>
void ftrl(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end) {
  const T lr = T(s.learning_rate), power = T(-s.learning_rate_power), l1 = T(s.l1);
  const T shrinkage = T(2 * s.l2_shrinkage), l2 = T(2) * (T(s.l2) + T(s.beta) / (T(2) * lr));
  T* __restrict w = x.value;
  const T* __restrict g = x.gradient;
  T* __restrict n = x.slots[0];
  T* __restrict z = x.slots[1];
  for (Index i = begin; i < end; ++i) {
    const T accumulated = n[i] + g[i] * g[i];
    const T root = std::pow(accumulated, power);
    z[i] += (g[i] + shrinkage * w[i]) - (root - std::pow(n[i], power)) / lr * w[i];
    const T quadratic = root / lr + l2;
    w[i] = (std::min(std::max(z[i], -l1), l1) - z[i]) / quadratic;
    n[i] = accumulated;
  }
}

// A rule PyTorch shares, given how it reads the gradient.
template <typename T, typename Gradient>
void shared_rule(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end, Gradient gradient) {
  switch (s.rule) {
    case OptimizerRule::Sgd:
      return sgd(s, x, begin, end, gradient);
    case OptimizerRule::Adam:
      return adam(s, x, begin, end, gradient);
    case OptimizerRule::RMSprop:
      return rmsprop(s, x, begin, end, gradient);
    default:
      return adagrad(s, x, begin, end, gradient);
  }
}

template <typename T>
void update_range(const OptimizerStep& s, const OptimizerVariable<T>& x, Index begin, Index end) {
  const bool decays = x.decay && s.weight_decay != 0;
  if (decays && !s.coupled_weight_decay) {
    const T weight_decay = T(s.weight_decay), lr = T(s.learning_rate);
    T* __restrict w = x.value;
    for (Index i = begin; i < end; ++i) w[i] -= w[i] * weight_decay * lr;
  }
  const T* __restrict g = x.gradient;
  switch (s.rule) {
    case OptimizerRule::Sgd:
    case OptimizerRule::Adam:
    case OptimizerRule::RMSprop:
    case OptimizerRule::Adagrad:
      if (decays && s.coupled_weight_decay) {
        const T weight_decay = T(s.weight_decay);
        const T* __restrict w = x.value;
        return shared_rule(s, x, begin, end, [=](Index i) { return g[i] + weight_decay * w[i]; });
      }
      return shared_rule(s, x, begin, end, [=](Index i) { return g[i]; });
    case OptimizerRule::Nadam:
      return nadam(s, x, begin, end);
    case OptimizerRule::Adamax:
      return adamax(s, x, begin, end);
    case OptimizerRule::Adadelta:
      return adadelta(s, x, begin, end);
    case OptimizerRule::Lion:
      return lion(s, x, begin, end);
    case OptimizerRule::Ftrl:
      return ftrl(s, x, begin, end);
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
