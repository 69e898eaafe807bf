// Uses the rnnkit core from C++ alone: an LSTM forward and backward pass through time on a
// small batch, with the kernel's gradient checked against central differences.
// Exit status 0 when every checked entry agrees to 1e-7 relative.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "rnnkit/lstm.hpp"

using rnnkit::Index;

namespace {

struct Problem {
  rnnkit::SequenceDims dims{3, 7, 4, 5};  // N, T, F, H
  rnnkit::RecurrentOptions options{};
  std::vector<double> x, kernel, recurrent_kernel, bias, probe;

  explicit Problem(unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal(0.0, 0.5);
    auto fill = [&](std::vector<double>& v, Index n) {
      v.resize(n);
      for (auto& e : v) e = normal(rng);
    };
    const Index N = dims.batch, T = dims.time, F = dims.features, H = dims.units;
    fill(x, N * T * F);
    fill(kernel, F * 4 * H);
    fill(recurrent_kernel, H * 4 * H);
    fill(bias, 4 * H);
    fill(probe, N * T * H);  // L = <probe, y>
  }

  rnnkit::LstmWeights<double> weights() const {
    return {kernel.data(), recurrent_kernel.data(), bias.data(), nullptr};
  }

  // Runs the forward pass into `y` and the caller's cache buffers; returns L.
  double loss(std::vector<double>& y, std::vector<double> (&cache)[4]) const {
    const Index N = dims.batch, T = dims.time, H = dims.units;
    y.resize(N * T * H);
    cache[0].resize(N * T * 4 * H);
    for (int k = 1; k < 4; ++k) cache[k].resize(N * T * H);
    std::vector<double> h_last(N * H), c_last(N * H);
    rnnkit::lstm_forward<double>(dims, options, x.data(), nullptr, nullptr, nullptr, nullptr, weights(),
                                 y.data(), h_last.data(), c_last.data(),
                                 {cache[0].data(), cache[1].data(), cache[2].data(), cache[3].data(), nullptr});
    double total = 0;
    for (size_t k = 0; k < y.size(); ++k) total += probe[k] * y[k];
    return total;
  }
};

}  // namespace

int main() {
  Problem p(7);
  const Index N = p.dims.batch, T = p.dims.time, F = p.dims.features, H = p.dims.units;
  std::vector<double> y, cache[4];
  const double loss = p.loss(y, cache);

  std::vector<double> dx(N * T * F), dh0(N * H), dc0(N * H), dkernel(F * 4 * H),
      drecurrent(H * 4 * H), dbias(4 * H);
  rnnkit::lstm_backward<double>(
      p.dims, p.options, p.probe.data(), nullptr, nullptr, p.x.data(), nullptr, nullptr, p.weights(),
      {cache[0].data(), cache[1].data(), cache[2].data(), cache[3].data(), nullptr},
      {dx.data(), dh0.data(), dc0.data(), dkernel.data(), drecurrent.data(), dbias.data(), nullptr, nullptr,
       nullptr});

  // 5-point central differences on every kernel entry.
  const double eps = 1e-3;
  double worst = 0;
  for (size_t k = 0; k < p.kernel.size(); ++k) {
    const double saved = p.kernel[k];
    double f[4];
    const double offsets[4] = {-2, -1, 1, 2};
    for (int j = 0; j < 4; ++j) {
      p.kernel[k] = saved + offsets[j] * eps;
      std::vector<double> y2, cache2[4];
      f[j] = p.loss(y2, cache2);
    }
    p.kernel[k] = saved;
    const double numerical = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * eps);
    const double error = std::abs(numerical - dkernel[k]) / (1e-10 + std::abs(numerical));
    if (error > worst) worst = error;
  }
  std::printf("LSTM N=%ld T=%ld F=%ld H=%ld: loss %.6f, worst relative kernel-gradient error %.2e\n",
              static_cast<long>(N), static_cast<long>(T), static_cast<long>(F),
              static_cast<long>(H), loss, worst);
  return worst < 1e-7 ? 0 : 1;
}
