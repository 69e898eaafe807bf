// Optimizer updates, fused: one pass over each variable updates its values and the
// optimizer's slots in place, for all the variables of a model in one call. The rules are
// Keras 3's, computed in the variables' dtype T.
#pragma once

#include "rnnkit/common.hpp"

namespace rnnkit {

enum class OptimizerRule { Sgd, Adam, RMSprop, Adagrad, Nadam, Adamax, Adadelta, Lion, Ftrl };

// The settings of one step. `learning_rate` is this step's (a schedule already applied).
struct OptimizerStep {
  OptimizerRule rule = OptimizerRule::Sgd;
  double learning_rate = 0;
  // Weight decay for the variables whose `decay` is set, 0 for none: decoupled, w -= w *
  // weight_decay * learning_rate before the rule (Keras, and PyTorch's AdamW), or with
  // `coupled_weight_decay` an L2 term, g + weight_decay * w in g's place (PyTorch's SGD,
  // Adam, RMSprop, Adagrad).
  double weight_decay = 0;
  bool coupled_weight_decay = false;
  // PyTorch's forms of SGD, Adam, RMSprop and Adagrad (see src/optimizers.cpp) instead of Keras'.
  bool torch = false;
  double momentum = 0;            // SGD, RMSprop; 0 for none
  bool nesterov = false;          // SGD
  double beta_1 = 0, beta_2 = 0;  // Adam, Nadam, Adamax, Lion
  double epsilon = 0;             // Adam, RMSprop, Adagrad, Nadam, Adamax, Adadelta
  bool amsgrad = false;           // Adam
  double rho = 0;                 // RMSprop, Adadelta
  bool centered = false;          // RMSprop
  Index step = 1;                 // t = iterations + 1, for the bias corrections
  // Nadam's momentum schedule: u_t, u_{t+1} and the product u_1 ... u_t.
  double u_t = 0, u_next = 0, u_product = 1;
  // Ftrl: learning_rate_power, the l1, l2 and l2-shrinkage strengths, and beta.
  double learning_rate_power = -0.5, l1 = 0, l2 = 0, l2_shrinkage = 0, beta = 0;
};

// One variable: `size` values, its gradient (same size) and the rule's slots, each `size`
// values, null where the settings need none:
//   SGD      slots[0] momentum (momentum > 0)
//   Adam     slots[0] momentum, slots[1] velocity, slots[2] velocity_hat (amsgrad)
//   RMSprop  slots[0] velocity, slots[1] momentum (momentum > 0), slots[2] average_gradient (centered)
//   Adagrad  slots[0] accumulator
//   Nadam    slots[0] momentum, slots[1] velocity
//   Adamax   slots[0] momentum, slots[1] norm
//   Adadelta slots[0] accumulated_grad, slots[1] accumulated_delta_var
//   Lion     slots[0] momentum
//   Ftrl     slots[0] accumulator, slots[1] linear
template <typename T>
struct OptimizerVariable {
  Index size = 0;
  T* value = nullptr;
  const T* gradient = nullptr;
  T* slots[3] = {nullptr, nullptr, nullptr};
  bool decay = false;
};

template <typename T>
void optimizer_update(const OptimizerStep& step, const OptimizerVariable<T>* variables, Index count);

}  // namespace rnnkit
