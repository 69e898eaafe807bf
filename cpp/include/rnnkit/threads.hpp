// Threads used inside the core's matrix products: OpenBLAS's when the core uses it, and
// OpenMP's through Eigen (1 without OpenMP).
#pragma once

namespace rnnkit {

void set_num_threads(int threads);
int num_threads();

}  // namespace rnnkit
