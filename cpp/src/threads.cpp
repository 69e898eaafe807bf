#include "rnnkit/threads.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <thread>
#ifdef RNNKIT_USE_OPENBLAS
#include <cblas.h>
#endif

namespace rnnkit {

namespace {
// BLAS and Eigen stay single-threaded: every product runs inside one of the core's own
// pieces of work (see threads.hpp). OpenBLAS's own pool synchronises on every call, which
// on a loaded 2-core machine made a fit epoch 50x slower than one thread.
int init_num_threads() {
#ifdef RNNKIT_USE_OPENBLAS
  scipy_openblas_set_num_threads(1);
#endif
  Eigen::setNbThreads(1);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::atomic<int> thread_count{init_num_threads()};  // set when the library loads
}  // namespace

void set_num_threads(int threads) { thread_count = std::max(1, threads); }

int num_threads() { return thread_count; }

}  // namespace rnnkit
