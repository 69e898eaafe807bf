// Choosing and loading the kernel library for this CPU (see kernel_table.hpp).
#pragma once

#include <string>
#include <vector>

#include "kernel_table.hpp"

namespace rnnkit::binding {

// The instruction sets this build has kernels for, best first (e.g. avx512, avx2, x86-64-v2).
std::vector<std::string> built_isas();
// Those of them this CPU (and its operating system) can run, best first.
std::vector<std::string> runnable_isas();

// Loads the kernels for `isa` from the directory `directory`, or, if `isa` is empty, the best
// runnable ones. Throws std::runtime_error saying why when it cannot.
void load_kernels(const std::string& directory, const std::string& isa);

// The loaded kernels (load_kernels must have succeeded).
const KernelTable& kernels();

}  // namespace rnnkit::binding
