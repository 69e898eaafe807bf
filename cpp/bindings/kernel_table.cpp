// The exported table of one instruction-set build of the kernels (see kernel_table.hpp).
// RNNKIT_KERNEL_ISA names the build.
#include "kernel_table.hpp"

#include <string>

#include "rnnkit/interrupt.hpp"
#include "rnnkit/threads.hpp"
#ifdef RNNKIT_USE_OPENBLAS
#include <cblas.h>
#endif

namespace {

using rnnkit::binding::KernelsOf;
using rnnkit::binding::KernelTable;

template <typename T>
constexpr KernelsOf<T> kernels_of() {
  return {&rnnkit::simple_rnn_forward<T>, &rnnkit::simple_rnn_backward<T>, &rnnkit::lstm_forward<T>,
          &rnnkit::lstm_backward<T>,      &rnnkit::gru_forward<T>,         &rnnkit::gru_backward<T>,
          &rnnkit::dense_forward<T>,      &rnnkit::dense_backward<T>,      &rnnkit::optimizer_update<T>};
}

const std::atomic<bool>* exchange_interrupt_flag(const std::atomic<bool>* flag) {
  const std::atomic<bool>* previous = rnnkit::current_interrupt_flag();
  rnnkit::detail::interrupt_flag = flag;
  return previous;
}

const char* blas_description() {
#ifdef RNNKIT_USE_OPENBLAS
  static const std::string description =
      std::string(scipy_openblas_get_config()) + " (kernel: " + scipy_openblas_get_corename() + ")";
  return description.c_str();
#else
  return "Eigen";
#endif
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const KernelTable* rnnkit_kernel_table() {
  static const KernelTable table{rnnkit::binding::kKernelTableVersion,
                                 RNNKIT_KERNEL_ISA,
                                 blas_description(),
                                 kernels_of<float>(),
                                 kernels_of<double>(),
                                 &rnnkit::set_num_threads,
                                 &rnnkit::num_threads,
                                 &exchange_interrupt_flag};
  return &table;
}
