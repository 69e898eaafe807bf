#include "rnnkit/threads.hpp"

#include <Eigen/Core>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace rnnkit {

void set_num_threads(int threads) {
  Eigen::setNbThreads(threads);
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
}

int num_threads() { return Eigen::nbThreads(); }

}  // namespace rnnkit
