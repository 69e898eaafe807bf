// Optimizer updates, fused: one pass over each variable updates its values and the
// optimizer's slots in place, for all the variables of a model in one call. The rules are
// Keras 3's, computed in the variables' dtype T.
#pragma once

#include "rnnkit/common.hpp"

namespace rnnkit {

enum class OptimizerRule { Sgd, Adam, RMSprop, Adagrad };

// The settings of one step. `learning_rate` is this step's (a schedule already applied).
struct OptimizerStep {
  OptimizerRule rule = OptimizerRule::Sgd;
  double learning_rate = 0;
  // Decoupled weight decay, w -= w * weight_decay * learning_rate before the rule, for the
  // variables whose `decay` is set; 0 for none.
  double weight_decay = 0;
  double momentum = 0;            // SGD, RMSprop; 0 for none
  bool nesterov = false;          // SGD
  double beta_1 = 0, beta_2 = 0;  // Adam
  double epsilon = 0;             // Adam, RMSprop, Adagrad
  bool amsgrad = false;           // Adam
  double rho = 0;                 // RMSprop
  bool centered = false;          // RMSprop
  Index step = 1;                 // Adam's t = iterations + 1, for the bias correction
};

// One variable: `size` values, its gradient (same size) and the rule's slots, each `size`
// values, null where the settings need none:
//   SGD      slots[0] momentum (momentum > 0)
//   Adam     slots[0] momentum, slots[1] velocity, slots[2] velocity_hat (amsgrad)
//   RMSprop  slots[0] velocity, slots[1] momentum (momentum > 0), slots[2] average_gradient (centered)
//   Adagrad  slots[0] accumulator
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
