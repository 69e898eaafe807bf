#include "dispatch.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace rnnkit::binding {

namespace {

const KernelTable* loaded = nullptr;

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Whether the CPU and the operating system support `isa` (GCC's and Clang's cpuid checks
// include the OS's saving of the wider registers).
bool cpu_runs(const std::string& isa) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (isa == "avx512") return __builtin_cpu_supports("x86-64-v4");
  if (isa == "avx2") return __builtin_cpu_supports("x86-64-v3");
  if (isa == "x86-64-v2") return __builtin_cpu_supports("x86-64-v2");
#endif
  return isa == "generic";
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

std::vector<std::string> built_isas() { return split(RNNKIT_KERNEL_ISAS); }

std::vector<std::string> runnable_isas() {
  std::vector<std::string> out;
  for (const auto& isa : built_isas()) {
    if (cpu_runs(isa)) out.push_back(isa);
  }
  return out;
}

void load_kernels(const std::string& directory, const std::string& isa) {
  const auto built = built_isas(), runnable = runnable_isas();
  std::string chosen = isa;
  if (chosen.empty()) {
    if (runnable.empty()) {
      throw std::runtime_error("this CPU runs none of the instruction sets rnnkit was built for (" +
                               joined(built) + ")");
    }
    chosen = runnable.front();
  } else if (std::find(built.begin(), built.end(), chosen) == built.end()) {
    throw std::runtime_error("RNNKIT_ISA='" + chosen + "' is not one of the instruction sets this build has: " +
                             joined(built));
  } else if (std::find(runnable.begin(), runnable.end(), chosen) == runnable.end()) {
    throw std::runtime_error("RNNKIT_ISA='" + chosen + "': this CPU cannot run it; it runs " + joined(runnable));
  }
  std::string file = chosen;
  std::replace(file.begin(), file.end(), '-', '_');
  const std::string path = directory + "/" + RNNKIT_KERNEL_PREFIX + file + RNNKIT_KERNEL_SUFFIX;
  // RTLD_LOCAL: the library's symbols stay its own (each build has its own Eigen code).
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) throw std::runtime_error("cannot load the " + chosen + " kernels: " + dlerror());
  const auto entry = reinterpret_cast<KernelTableEntry>(dlsym(library, RNNKIT_KERNEL_TABLE_SYMBOL));
  if (entry == nullptr) throw std::runtime_error(path + " has no " RNNKIT_KERNEL_TABLE_SYMBOL);
  const KernelTable* table = entry();
  if (table->version != kKernelTableVersion) {
    throw std::runtime_error(path + " is from another version of rnnkit; reinstall rnnkit");
  }
  loaded = table;  // the library stays loaded for the life of the process
}

const KernelTable& kernels() { return *loaded; }

}  // namespace rnnkit::binding
