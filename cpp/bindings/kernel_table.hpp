// The core's functions as one instruction-set build of them exports: the Python module is
// built once, the kernels once per instruction set (x86-64-v2, AVX2+FMA, AVX-512; see
// CMakeLists.txt), each into its own shared library, and rnnkit._core loads the best one the
// CPU runs (dispatch.hpp). Separate libraries keep each build's Eigen code apart: compiled
// into one library, the linker would keep one copy of each inline Eigen function, built for
// whichever instruction set it met first.
#pragma once

#include <atomic>

#include "rnnkit/dense.hpp"
#include "rnnkit/gru.hpp"
#include "rnnkit/lstm.hpp"
#include "rnnkit/optimizers.hpp"
#include "rnnkit/simple_rnn.hpp"

namespace rnnkit::binding {

template <typename T>
struct KernelsOf {
  decltype(&rnnkit::simple_rnn_forward<T>) simple_rnn_forward;
  decltype(&rnnkit::simple_rnn_backward<T>) simple_rnn_backward;
  decltype(&rnnkit::lstm_forward<T>) lstm_forward;
  decltype(&rnnkit::lstm_backward<T>) lstm_backward;
  decltype(&rnnkit::gru_forward<T>) gru_forward;
  decltype(&rnnkit::gru_backward<T>) gru_backward;
  decltype(&rnnkit::dense_forward<T>) dense_forward;
  decltype(&rnnkit::dense_backward<T>) dense_backward;
  decltype(&rnnkit::optimizer_update<T>) optimizer_update;
};

// Bumped whenever this struct or a kernel's signature changes, so a stale library is refused.
constexpr int kKernelTableVersion = 2;

struct KernelTable {
  int version;
  const char* isa;   // the instruction set the library was compiled for
  const char* blas;  // what computes the matrix products, e.g. "OpenBLAS 0.3.27 ... Haswell"
  KernelsOf<float> f32;
  KernelsOf<double> f64;
  void (*set_num_threads)(int);
  int (*num_threads)();
  // Installs the calling thread's interrupt flag inside the library; returns the previous one.
  const std::atomic<bool>* (*exchange_interrupt_flag)(const std::atomic<bool>*);

  template <typename T>
  const KernelsOf<T>& of() const {
    if constexpr (sizeof(T) == sizeof(float)) {
      return f32;
    } else {
      return f64;
    }
  }
};

// The one symbol each kernel library exports.
#define RNNKIT_KERNEL_TABLE_SYMBOL "rnnkit_kernel_table"
using KernelTableEntry = const KernelTable* (*)();

}  // namespace rnnkit::binding
