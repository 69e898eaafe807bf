#include "rnnkit/common.hpp"

#include <stdexcept>

namespace rnnkit {

namespace {
struct NamedActivation {
  const char* name;
  Activation activation;
};
constexpr NamedActivation kActivations[] = {
    {"linear", Activation::Linear},   {"tanh", Activation::Tanh},
    {"sigmoid", Activation::Sigmoid}, {"hard_sigmoid", Activation::HardSigmoid},
    {"relu", Activation::Relu},       {"softmax", Activation::Softmax},
    {"elu", Activation::Elu},         {"selu", Activation::Selu},
    {"softplus", Activation::Softplus}, {"softsign", Activation::Softsign},
    {"exponential", Activation::Exponential}, {"leaky_relu", Activation::LeakyRelu},
    {"relu6", Activation::Relu6},     {"gelu", Activation::Gelu},
    {"silu", Activation::Silu},
};
}  // namespace

std::string activation_names(bool with_softmax) {
  std::string names;
  for (const auto& entry : kActivations) {
    if (!with_softmax && entry.activation == Activation::Softmax) continue;
    names += names.empty() ? "" : ", ";
    names += std::string("'") + entry.name + "'";
  }
  return names;
}

Activation activation_from_name(const std::string& name) {
  for (const auto& entry : kActivations) {
    if (name == entry.name) return entry.activation;
  }
  throw std::invalid_argument("unknown activation '" + name + "'; expected one of " + activation_names(true));
}

const char* activation_name(Activation activation) {
  for (const auto& entry : kActivations) {
    if (entry.activation == activation) return entry.name;
  }
  return "unknown";
}

}  // namespace rnnkit
