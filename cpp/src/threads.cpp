#include "rnnkit/threads.hpp"

#include <Eigen/Core>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef RNNKIT_USE_OPENBLAS
#include <cblas.h>
#endif

namespace rnnkit {

void set_num_threads(int threads) {
  Eigen::setNbThreads(threads);
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
#ifdef RNNKIT_USE_OPENBLAS
  scipy_openblas_set_num_threads(threads);
#endif
}

int num_threads() {
#ifdef RNNKIT_USE_OPENBLAS
  return scipy_openblas_get_num_threads();  // OpenBLAS runs the products that have threads
#else
  return Eigen::nbThreads();
#endif
}

}  // namespace rnnkit
