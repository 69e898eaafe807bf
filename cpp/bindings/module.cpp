// rnnkit._core: NumPy <-> the C++ core. This file converts and validates; it holds no math.
// Every array is checked for dtype, rank and shape before any pointer reaches the core
// (Eigen's own checks are compiled out), and the GIL is released while the core runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <dlfcn.h>

#include "dispatch.hpp"
#include "rnnkit/buffer.hpp"
#include "rnnkit/interrupt.hpp"

namespace py = pybind11;
using rnnkit::binding::kernels;
using namespace pybind11::literals;
using rnnkit::Index;

namespace {

// C-contiguous and aligned for T: a converted input that is neither (a view of a byte buffer
// at an odd offset, say) is copied, since reading a misaligned T is undefined behaviour.
constexpr int kAligned = py::detail::npy_api::NPY_ARRAY_ALIGNED_;
template <typename T>
using Array = py::array_t<T, py::array::c_style | kAligned>;
using Shape = std::vector<Index>;

// Whether `dtype` is T's (native byte order), compared by value: an array that went through
// pickle (multiprocessing, Dask, Ray) carries its own copy of the dtype object.
template <typename T>
bool is_dtype_of(const py::dtype& dtype) {
  return dtype.equal(py::dtype::of<T>());
}

// Every array the core writes (outputs, caches, gradients) starts on a 64-byte boundary
// (rnnkit::allocate_buffer, which also keeps large ones for reuse; see buffer.hpp). Eigen
// treats the unaligned head of a destination with scalar code and the rest with SIMD code,
// whose results differ in the last bit; with aligned destinations the split depends on the
// shapes alone, so the same inputs give bit-identical results on every call, as reproducible
// training needs. Inputs are only read, and need no alignment (nor a copy).
template <typename T>
Array<T> empty(const Shape& shape) {
  Index count = 1;
  for (Index d : shape) count *= d;
  void* data = rnnkit::allocate_buffer(static_cast<std::size_t>(count) * sizeof(T));
  py::capsule owner(data, [](void* p) { rnnkit::release_buffer(p); });
  return Array<T>(shape, static_cast<T*>(data), owner);
}

std::string format_shape(const Shape& shape) {
  std::ostringstream out;
  out << "(";
  for (size_t k = 0; k < shape.size(); ++k) out << (k ? ", " : "") << shape[k];
  out << (shape.size() == 1 ? ",)" : ")");
  return out.str();
}

Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

std::string type_name(const py::handle& obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

// array_t::ensure returns a null array, and clears Python's MemoryError, when the C-contiguous
// copy cannot be made; passing that on would crash the kernels, so it becomes MemoryError here.
template <typename T>
Array<T> contiguous(Array<T> converted, const std::string& what) {
  if (!converted) {
    PyErr_Clear();
    PyErr_SetString(PyExc_MemoryError, what.c_str());
    throw py::error_already_set();
  }
  return converted;
}

// Ctrl-C during a core call. With the GIL released, Python's C-level SIGINT handler only
// notes the signal: the Python-level handler (the one that raises KeyboardInterrupt) runs
// when the call returns, which may be seconds later. So while the main thread is in the
// core, SIGINT goes to on_sigint, which passes it on to Python's handler and, once as many
// signals have come as that handler needs to raise (1 for Python's default handler; fit's
// handler says how many in its `signals_to_stop_kernels` attribute; any other handler: the
// call is never stopped), sets the flag the kernels check between time steps. The call then
// throws rnnkit::Interrupted, which becomes whatever the Python handler raises, or
// KeyboardInterrupt.
std::atomic<bool> sigint_stop{false};
std::atomic<int> sigint_count{0};
std::atomic<int> sigints_needed{0};
PyOS_sighandler_t python_sigint_handler = nullptr;

// Looked up once, when the module loads (every core call asks which SIGINT handler is set).
struct PythonSignals {
  unsigned long main_thread_ident;
  py::object getsignal, sigint, default_int_handler;
};
const PythonSignals* python_signals = nullptr;  // kept for the life of the process

extern "C" void on_sigint(int signum) {
  python_sigint_handler(signum);
  if (sigint_count.fetch_add(1) + 1 >= sigints_needed.load()) sigint_stop.store(true);
}

// How many SIGINTs during a call make the Python-level handler raise: 0 if it never does (or
// it is not known), or signals cannot reach this thread's handler.
int sigints_to_stop() {
  if (PyThread_get_thread_ident() != python_signals->main_thread_ident) return 0;
  const py::object handler = python_signals->getsignal(python_signals->sigint);
  if (handler.is(python_signals->default_int_handler)) return 1;
  if (py::hasattr(handler, "signals_to_stop_kernels")) {
    return handler.attr("signals_to_stop_kernels").cast<int>();
  }
  return 0;
}

// For its lifetime (constructed and destroyed with the GIL held), SIGINT can stop the core.
class SigintStopsCore {
 public:
  SigintStopsCore() {
    const int needed = sigints_to_stop();
    if (needed <= 0) return;
    const PyOS_sighandler_t current = PyOS_getsig(SIGINT);
    if (current == SIG_DFL || current == SIG_IGN || current == nullptr) return;
    python_sigint_handler = current;
    sigint_count = 0;
    sigint_stop = false;
    sigints_needed = needed;
    PyOS_setsig(SIGINT, on_sigint);
    installed_ = true;
    previous_flag_ = kernels().exchange_interrupt_flag(&sigint_stop);
  }
  ~SigintStopsCore() {
    if (!installed_) return;
    PyOS_setsig(SIGINT, python_sigint_handler);
    kernels().exchange_interrupt_flag(previous_flag_);
  }
  SigintStopsCore(const SigintStopsCore&) = delete;
  SigintStopsCore& operator=(const SigintStopsCore&) = delete;

 private:
  bool installed_ = false;
  const std::atomic<bool>* previous_flag_ = nullptr;
};

// Runs fn (a call into the core) with the GIL released, stoppable by Ctrl-C.
template <typename Fn>
void run_core(Fn&& fn) {
  const SigintStopsCore stoppable;
  const py::gil_scoped_release nogil;
  fn();
}

// The checks of one call; every message starts with the function's name.
class Checker {
 public:
  // `dtype_source` names the argument whose dtype (float32 or float64) the others must share.
  explicit Checker(const char* function, const char* dtype_source = "x")
      : function_(function), dtype_source_(dtype_source) {}

  [[noreturn]] void value_error(const std::string& message) const {
    throw py::value_error(std::string(function_) + ": " + message);
  }
  [[noreturn]] void type_error(const std::string& message) const {
    throw py::type_error(std::string(function_) + ": " + message);
  }

  py::array ndarray(const char* name, const py::handle& obj) const {
    if (!py::isinstance<py::array>(obj)) {
      type_error(std::string("'") + name + "' must be a numpy.ndarray, got " + type_name(obj));
    }
    return py::reinterpret_borrow<py::array>(obj);
  }

  // A float array of dtype T and exactly `shape`; copied only if not C-contiguous.
  // `meaning` names the axes, e.g. "(features, 4*units)".
  template <typename T>
  Array<T> array(const char* name, const py::handle& obj, const Shape& shape,
                 const std::string& meaning) const {
    py::array a = ndarray(name, obj);
    if (!is_dtype_of<T>(a.dtype())) {
      type_error(std::string("'") + name + "' must have dtype " +
                 std::string(py::str(py::dtype::of<T>())) + " like '" + dtype_source_ + "', got " +
                 std::string(py::str(a.dtype())));
    }
    if (shape_of(a) != shape) {
      value_error(std::string("'") + name + "' must have shape " + meaning + " = " +
                  format_shape(shape) + ", got " + format_shape(shape_of(a)));
    }
    return contiguous(Array<T>::ensure(a), std::string(function_) + ": not enough memory for a C-contiguous copy of '" +
                                               name + "' of shape " + format_shape(shape));
  }

  template <typename T>
  std::optional<Array<T>> optional_array(const char* name, const py::handle& obj,
                                         const Shape& shape, const std::string& meaning) const {
    if (obj.is_none()) return std::nullopt;
    return array<T>(name, obj, shape, meaning);
  }

  // The (N, T) mask as contiguous uint8 (0: skip the step); bool or uint8 accepted.
  std::optional<Array<std::uint8_t>> mask(const py::handle& obj, Index batch, Index time) const {
    if (obj.is_none()) return std::nullopt;
    py::array a = ndarray("mask", obj);
    const char kind = a.dtype().kind();
    if (!((kind == 'b' || kind == 'u') && a.dtype().itemsize() == 1)) {
      type_error("'mask' must have dtype bool or uint8, got " + std::string(py::str(a.dtype())));
    }
    if (shape_of(a) != Shape{batch, time}) {
      value_error("'mask' must have shape (batch, time) = " + format_shape({batch, time}) +
                  ", got " + format_shape(shape_of(a)));
    }
    return contiguous(Array<std::uint8_t>::ensure(py::module_::import("numpy").attr("ascontiguousarray")(a, "uint8")),
                      std::string(function_) + ": not enough memory for a copy of 'mask'");
  }

  // True or False (a NumPy bool too): a string such as "no" would otherwise read as true.
  bool flag(const char* name, const py::handle& obj) const {
    if (py::isinstance<py::bool_>(obj) || py::isinstance(obj, py::module_::import("numpy").attr("bool_"))) {
      return obj.cast<bool>();
    }
    type_error(std::string("'") + name + "' must be a bool (True or False), got " +
               std::string(py::repr(obj)) + " of type " + type_name(obj));
  }

  rnnkit::Activation activation(const char* name, const py::handle& obj,
                                bool allow_softmax) const {
    if (!py::isinstance<py::str>(obj)) {
      type_error(std::string("'") + name + "' must be an activation name (a str such as 'tanh'), got " +
                 std::string(py::repr(obj)) + " of type " + type_name(obj));
    }
    const std::string value = obj.cast<std::string>();
    rnnkit::Activation parsed{};
    try {
      parsed = rnnkit::activation_from_name(value);
    } catch (const std::invalid_argument& error) {
      value_error(std::string("'") + name + "': " + error.what());
    }
    // Softmax normalizes a whole row: the recurrent kernels apply activations to gate blocks.
    if (!allow_softmax && parsed == rnnkit::Activation::Softmax) {
      value_error(std::string("'") + name + "': 'softmax' is not supported by recurrent cells; expected one of " +
                  rnnkit::activation_names(false));
    }
    return parsed;
  }

  // Dispatches on the dtype of x: float32 or float64.
  // Dispatches on the dtype of the dtype source (x, unless the constructor named another).
  template <typename Call>
  py::object by_dtype(const py::handle& source, Call&& call) const {
    const py::dtype dtype = ndarray(dtype_source_, source).dtype();
    if (is_dtype_of<float>(dtype)) return call(float{});
    if (is_dtype_of<double>(dtype)) return call(double{});
    type_error(std::string("'") + dtype_source_ + "' must have dtype float32 or float64, got " +
               std::string(py::str(dtype)));
  }

  // A list or tuple (not a str or an array): the per-variable arguments of optimizer_update.
  py::sequence sequence(const char* name, const py::handle& obj) const {
    if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj)) {
      type_error(std::string("'") + name + "' must be a list or tuple, got " + type_name(obj));
    }
    return py::reinterpret_borrow<py::sequence>(obj);
  }

 private:
  const char* function_;
  const char* dtype_source_;
};

template <typename T>
const T* data_or_null(const std::optional<Array<T>>& a) {
  return a ? a->data() : nullptr;
}

// The cache a backward pass reads: its structs hold T* because the forward writes them, but the
// backward only reads, so a read-only cache (np.load(mmap_mode="r"), a frozen array) is fine.
template <typename T>
T* read_only(const Array<T>& a) {
  return const_cast<T*>(a.data());
}

template <typename T>
T* mutable_data_or_null(std::optional<Array<T>>& a) {
  return a ? a->mutable_data() : nullptr;
}

// The validated inputs every recurrent call shares. The weights fix the units; x (N, T, F).
template <typename T>
struct SequenceInputs {
  rnnkit::SequenceDims dims{};
  Array<T> x, kernel, recurrent_kernel;
  std::optional<Array<T>> bias;
  std::optional<Array<std::uint8_t>> mask;
};

template <typename T>
SequenceInputs<T> sequence_inputs(const Checker& check, Index gates, const py::handle& x,
                                  const py::handle& kernel, const py::handle& recurrent_kernel,
                                  const py::handle& bias, bool bias_per_projection,
                                  const py::handle& mask) {
  const std::string g = gates == 1 ? "" : std::to_string(gates) + "*";
  SequenceInputs<T> in;
  py::array xa = check.ndarray("x", x);
  if (xa.ndim() != 3) {
    check.value_error("'x' must be 3-D (batch, time, features), got shape " +
                      format_shape(shape_of(xa)));
  }
  if (xa.shape(0) == 0 || xa.shape(1) == 0 || xa.shape(2) == 0) {
    check.value_error("'x' must have at least one sample, time step and feature, got shape " +
                      format_shape(shape_of(xa)));
  }
  py::array ua = check.ndarray("recurrent_kernel", recurrent_kernel);
  if (ua.ndim() != 2 || ua.shape(0) == 0 || ua.shape(1) != gates * ua.shape(0)) {
    check.value_error("'recurrent_kernel' must have shape (units, " + g + "units) with units > 0, got " +
                      format_shape(shape_of(ua)));
  }
  in.dims = {xa.shape(0), xa.shape(1), xa.shape(2), ua.shape(0)};
  const Index F = in.dims.features, H = in.dims.units;
  in.x = check.array<T>("x", x, {in.dims.batch, in.dims.time, F}, "(batch, time, features)");
  in.kernel = check.array<T>("kernel", kernel, {F, gates * H}, "(features, " + g + "units)");
  in.recurrent_kernel = check.array<T>("recurrent_kernel", recurrent_kernel, {H, gates * H},
                                       "(units, " + g + "units)");
  in.bias = bias_per_projection
                ? check.optional_array<T>("bias", bias, {2, gates * H}, "(2, " + g + "units)")
                : check.optional_array<T>("bias", bias, {gates * H}, "(" + g + "units,)");
  in.mask = check.mask(mask, in.dims.batch, in.dims.time);
  return in;
}

template <typename T>
std::optional<Array<T>> state(const Checker& check, const char* name, const py::handle& obj,
                              const rnnkit::SequenceDims& dims) {
  return check.optional_array<T>(name, obj, {dims.batch, dims.units}, "(batch, units)");
}

template <typename T>
std::optional<Array<T>> output_gradient(const Checker& check, const py::handle& dy,
                                        const rnnkit::SequenceDims& dims) {
  return check.optional_array<T>("dy", dy, {dims.batch, dims.time, dims.units},
                                 "(batch, time, units)");
}

// Reads a cache dict written by a forward call, checking every field's dtype and shape.
template <typename T>
Array<T> cache_field(const Checker& check, const py::handle& cache, const char* name,
                     const Shape& shape, const std::string& meaning) {
  if (!py::isinstance<py::dict>(cache)) {
    check.type_error("'cache' must be the dict returned by the forward call, got " + type_name(cache));
  }
  py::dict fields = py::reinterpret_borrow<py::dict>(cache);
  if (!fields.contains(name)) {
    check.value_error(std::string("'cache' has no field '") + name +
                      "'; pass the dict returned by the forward call");
  }
  return check.array<T>(name, fields[name], shape, meaning);
}

rnnkit::RecurrentOptions options(const Checker& check, const py::handle& activation,
                                 const py::handle& recurrent_activation, const py::handle& go_backwards) {
  return {check.activation("activation", activation, false),
          check.activation("recurrent_activation", recurrent_activation, false),
          check.flag("go_backwards", go_backwards)};
}

Shape sequence_shape(const rnnkit::SequenceDims& d, Index width) { return {d.batch, d.time, width}; }

// The (batch, time, units) gradients of every step's state, written by a backward pass when
// asked (model.trace), else none.
template <typename T>
std::optional<Array<T>> state_gradients(bool keep, const rnnkit::SequenceDims& dims) {
  if (!keep) return std::nullopt;
  return empty<T>(sequence_shape(dims, dims.units));
}

// Whether the backward pass needs the gates' pre-activations (gelu, silu).
bool needs_pre_gates(const rnnkit::RecurrentOptions& options) {
  return !rnnkit::derivative_from_output(options.activation) ||
         !rnnkit::derivative_from_output(options.recurrent_activation);
}

// The pre_gates field of a cache, read when the activations need it; else none.
template <typename T>
std::optional<Array<T>> pre_gates_field(const Checker& check, const py::handle& cache,
                                        const rnnkit::RecurrentOptions& options, const Shape& shape,
                                        const std::string& meaning) {
  if (!needs_pre_gates(options)) return std::nullopt;
  return cache_field<T>(check, cache, "pre_gates", shape, meaning);
}

// The cache dict a forward call returns, filled as its buffers are made. Without keep_cache
// (a forward pass no backward pass follows) only `gates`, the input projections' buffer,
// is made; the kernels store nothing for the others.
template <typename T>
class CacheBuffers {
 public:
  explicit CacheBuffers(bool keep_cache) : keep_cache_(keep_cache) {}
  T* always(const char* name, const Shape& shape) {
    Array<T> buffer = empty<T>(shape);
    fields_[name] = buffer;
    return buffer.mutable_data();
  }
  T* for_backward(const char* name, const Shape& shape) { return keep_cache_ ? always(name, shape) : nullptr; }
  // The gates before their activations, kept only when an activation needs them for its derivative.
  T* pre_gates(const rnnkit::RecurrentOptions& options, const Shape& shape) {
    return needs_pre_gates(options) ? for_backward("pre_gates", shape) : nullptr;
  }
  const py::dict& fields() const { return fields_; }

 private:
  bool keep_cache_;
  py::dict fields_;
};

// ---------------------------------------------------------------- SimpleRNN


py::object simple_rnn_forward(py::handle x, py::handle kernel, py::handle recurrent_kernel,
                              py::handle bias, py::handle h0, py::handle mask, py::handle recurrent_dropout_mask,
                              py::handle activation, py::handle go_backwards,
                              py::handle return_sequences_arg, py::handle keep_cache_arg) {
  const Checker check("simple_rnn_forward");
  const bool return_sequences = check.flag("return_sequences", return_sequences_arg);
  const bool keep_cache = check.flag("keep_cache", keep_cache_arg);
  return check.by_dtype(x, [&](auto tag) -> py::object {
    using T = decltype(tag);
    auto in = sequence_inputs<T>(check, 1, x, kernel, recurrent_kernel, bias, false, mask);
    auto h0a = state<T>(check, "h0", h0, in.dims);
    const auto opts = options(check, activation, py::str("sigmoid"), go_backwards);
    const auto& d = in.dims;
    auto rmask = state<T>(check, "recurrent_dropout_mask", recurrent_dropout_mask, d);
    std::optional<Array<T>> y;
    if (return_sequences) y = empty<T>(sequence_shape(d, d.units));
    Array<T> h_last = empty<T>({d.batch, d.units});
    CacheBuffers<T> cache(keep_cache);
    const rnnkit::SimpleRnnCache<T> buffers{cache.always("gates", sequence_shape(d, d.units)),
                                            cache.for_backward("h_prev", sequence_shape(d, d.units)),
                                            cache.pre_gates(opts, sequence_shape(d, d.units))};
    run_core([&] {
      kernels().of<T>().simple_rnn_forward(d, opts, in.x.data(), data_or_null(h0a), data_or_null(in.mask), data_or_null(rmask),
                                    {in.kernel.data(), in.recurrent_kernel.data(), data_or_null(in.bias)},
                                    mutable_data_or_null(y), h_last.mutable_data(), buffers);
    });
    return py::make_tuple(y ? py::object(*y) : py::none(), h_last, cache.fields());
  });
}

py::object simple_rnn_backward(py::handle x, py::handle kernel, py::handle recurrent_kernel,
                               py::handle bias, py::handle mask, py::handle recurrent_dropout_mask, py::handle cache, py::handle dy,
                               py::handle dh, py::handle activation, py::handle go_backwards,
                               py::handle keep_state_gradients_arg) {
  const Checker check("simple_rnn_backward");
  const bool keep_state_gradients = check.flag("keep_state_gradients", keep_state_gradients_arg);
  return check.by_dtype(x, [&](auto tag) -> py::object {
    using T = decltype(tag);
    auto in = sequence_inputs<T>(check, 1, x, kernel, recurrent_kernel, bias, false, mask);
    const auto& d = in.dims;
    auto rmask = state<T>(check, "recurrent_dropout_mask", recurrent_dropout_mask, d);
    const auto opts = options(check, activation, py::str("sigmoid"), go_backwards);
    const std::string seq = "(batch, time, units)";
    Array<T> gates = cache_field<T>(check, cache, "gates", sequence_shape(d, d.units), seq);
    Array<T> h_prev = cache_field<T>(check, cache, "h_prev", sequence_shape(d, d.units), seq);
    auto pre = pre_gates_field<T>(check, cache, opts, sequence_shape(d, d.units), seq);
    auto dya = output_gradient<T>(check, dy, d);
    auto dha = state<T>(check, "dh", dh, d);
    Array<T> dx = empty<T>(sequence_shape(d, d.features)), dh0 = empty<T>({d.batch, d.units});
    Array<T> dkernel = empty<T>({d.features, d.units}), drec = empty<T>({d.units, d.units});
    std::optional<Array<T>> dbias;
    if (in.bias) dbias = empty<T>({d.units});
    auto dh_steps = state_gradients<T>(keep_state_gradients, d);
    run_core([&] {
      kernels().of<T>().simple_rnn_backward(
          d, opts, data_or_null(dya), data_or_null(dha), in.x.data(), data_or_null(in.mask), data_or_null(rmask),
          {in.kernel.data(), in.recurrent_kernel.data(), data_or_null(in.bias)},
          {read_only(gates), read_only(h_prev), pre ? read_only(*pre) : nullptr},
          {dx.mutable_data(), dh0.mutable_data(), dkernel.mutable_data(), drec.mutable_data(),
           mutable_data_or_null(dbias), mutable_data_or_null(dh_steps)});
    });
    py::dict grads("x"_a = dx, "h0"_a = dh0, "kernel"_a = dkernel, "recurrent_kernel"_a = drec);
    if (dbias) grads["bias"] = *dbias;
    if (dh_steps) grads["h_steps"] = *dh_steps;
    return std::move(grads);
  });
}

// ---------------------------------------------------------------- LSTM

py::object lstm_forward(py::handle x, py::handle kernel, py::handle recurrent_kernel,
                        py::handle bias, py::handle h0, py::handle c0, py::handle peephole_kernel,
                        py::handle mask, py::handle recurrent_dropout_mask, py::handle activation,
                        py::handle recurrent_activation, py::handle go_backwards,
                        py::handle return_sequences_arg, py::handle keep_cache_arg) {
  const Checker check("lstm_forward");
  const bool return_sequences = check.flag("return_sequences", return_sequences_arg);
  const bool keep_cache = check.flag("keep_cache", keep_cache_arg);
  return check.by_dtype(x, [&](auto tag) -> py::object {
    using T = decltype(tag);
    auto in = sequence_inputs<T>(check, 4, x, kernel, recurrent_kernel, bias, false, mask);
    const auto& d = in.dims;
    auto rmask = state<T>(check, "recurrent_dropout_mask", recurrent_dropout_mask, d);
    auto h0a = state<T>(check, "h0", h0, d), c0a = state<T>(check, "c0", c0, d);
    auto peephole = check.optional_array<T>("peephole_kernel", peephole_kernel, {3, d.units}, "(3, units)");
    const auto opts = options(check, activation, recurrent_activation, go_backwards);
    std::optional<Array<T>> y;
    if (return_sequences) y = empty<T>(sequence_shape(d, d.units));
    Array<T> h_last = empty<T>({d.batch, d.units}), c_last = empty<T>({d.batch, d.units});
    CacheBuffers<T> cache(keep_cache);
    const Shape per_unit = sequence_shape(d, d.units);
    const rnnkit::LstmCache<T> buffers{cache.always("gates", sequence_shape(d, 4 * d.units)),
                                       cache.for_backward("cell", per_unit), cache.for_backward("h_prev", per_unit),
                                       cache.for_backward("c_prev", per_unit),
                                       cache.pre_gates(opts, sequence_shape(d, 4 * d.units))};
    run_core([&] {
      kernels().of<T>().lstm_forward(
          d, opts, in.x.data(), data_or_null(h0a), data_or_null(c0a), data_or_null(in.mask), data_or_null(rmask),
          {in.kernel.data(), in.recurrent_kernel.data(), data_or_null(in.bias), data_or_null(peephole)},
          mutable_data_or_null(y), h_last.mutable_data(), c_last.mutable_data(), buffers);
    });
    return py::make_tuple(y ? py::object(*y) : py::none(), h_last, c_last, cache.fields());
  });
}

py::object lstm_backward(py::handle x, py::handle kernel, py::handle recurrent_kernel,
                         py::handle bias, py::handle peephole_kernel, py::handle mask, py::handle recurrent_dropout_mask,
                         py::handle cache, py::handle dy, py::handle dh, py::handle dc,
                         py::handle activation, py::handle recurrent_activation,
                         py::handle go_backwards, py::handle keep_state_gradients_arg) {
  const Checker check("lstm_backward");
  const bool keep_state_gradients = check.flag("keep_state_gradients", keep_state_gradients_arg);
  return check.by_dtype(x, [&](auto tag) -> py::object {
    using T = decltype(tag);
    auto in = sequence_inputs<T>(check, 4, x, kernel, recurrent_kernel, bias, false, mask);
    const auto& d = in.dims;
    auto rmask = state<T>(check, "recurrent_dropout_mask", recurrent_dropout_mask, d);
    auto peephole = check.optional_array<T>("peephole_kernel", peephole_kernel, {3, d.units}, "(3, units)");
    const auto opts = options(check, activation, recurrent_activation, go_backwards);
    const std::string seq = "(batch, time, units)";
    Array<T> gates = cache_field<T>(check, cache, "gates", sequence_shape(d, 4 * d.units), "(batch, time, 4*units)");
    Array<T> cell = cache_field<T>(check, cache, "cell", sequence_shape(d, d.units), seq);
    Array<T> h_prev = cache_field<T>(check, cache, "h_prev", sequence_shape(d, d.units), seq);
    Array<T> c_prev = cache_field<T>(check, cache, "c_prev", sequence_shape(d, d.units), seq);
    auto pre = pre_gates_field<T>(check, cache, opts, sequence_shape(d, 4 * d.units), "(batch, time, 4*units)");
    auto dya = output_gradient<T>(check, dy, d);
    auto dha = state<T>(check, "dh", dh, d), dca = state<T>(check, "dc", dc, d);
    Array<T> dx = empty<T>(sequence_shape(d, d.features));
    Array<T> dh0 = empty<T>({d.batch, d.units}), dc0 = empty<T>({d.batch, d.units});
    Array<T> dkernel = empty<T>({d.features, 4 * d.units}), drec = empty<T>({d.units, 4 * d.units});
    std::optional<Array<T>> dbias, dpeephole;
    if (in.bias) dbias = empty<T>({4 * d.units});
    if (peephole) dpeephole = empty<T>({3, d.units});
    auto dh_steps = state_gradients<T>(keep_state_gradients, d), dc_steps = state_gradients<T>(keep_state_gradients, d);
    run_core([&] {
      kernels().of<T>().lstm_backward(
          d, opts, data_or_null(dya), data_or_null(dha), data_or_null(dca), in.x.data(),
          data_or_null(in.mask), data_or_null(rmask),
          {in.kernel.data(), in.recurrent_kernel.data(), data_or_null(in.bias), data_or_null(peephole)},
          {read_only(gates), read_only(cell), read_only(h_prev), read_only(c_prev), pre ? read_only(*pre) : nullptr},
          {dx.mutable_data(), dh0.mutable_data(), dc0.mutable_data(), dkernel.mutable_data(),
           drec.mutable_data(), mutable_data_or_null(dbias), mutable_data_or_null(dpeephole),
           mutable_data_or_null(dh_steps), mutable_data_or_null(dc_steps)});
    });
    py::dict grads("x"_a = dx, "h0"_a = dh0, "c0"_a = dc0, "kernel"_a = dkernel,
                   "recurrent_kernel"_a = drec);
    if (dbias) grads["bias"] = *dbias;
    if (dpeephole) grads["peephole_kernel"] = *dpeephole;
    if (dh_steps) grads["h_steps"] = *dh_steps;
    if (dc_steps) grads["c_steps"] = *dc_steps;
    return std::move(grads);
  });
}

// ---------------------------------------------------------------- GRU

py::object gru_forward(py::handle x, py::handle kernel, py::handle recurrent_kernel,
                       py::handle bias, py::handle h0, py::handle mask, py::handle recurrent_dropout_mask,
                       py::handle activation, py::handle recurrent_activation,
                       py::handle reset_after_arg, py::handle go_backwards, py::handle return_sequences_arg, py::handle keep_cache_arg) {
  const Checker check("gru_forward");
  const bool reset_after = check.flag("reset_after", reset_after_arg);
  const bool return_sequences = check.flag("return_sequences", return_sequences_arg);
  const bool keep_cache = check.flag("keep_cache", keep_cache_arg);
  return check.by_dtype(x, [&](auto tag) -> py::object {
    using T = decltype(tag);
    auto in = sequence_inputs<T>(check, 3, x, kernel, recurrent_kernel, bias, reset_after, mask);
    const auto& d = in.dims;
    auto rmask = state<T>(check, "recurrent_dropout_mask", recurrent_dropout_mask, d);
    auto h0a = state<T>(check, "h0", h0, d);
    const auto opts = options(check, activation, recurrent_activation, go_backwards);
    std::optional<Array<T>> y;
    if (return_sequences) y = empty<T>(sequence_shape(d, d.units));
    Array<T> h_last = empty<T>({d.batch, d.units});
    CacheBuffers<T> cache(keep_cache);
    const Shape per_unit = sequence_shape(d, d.units);
    const rnnkit::GruCache<T> buffers{cache.always("gates", sequence_shape(d, 3 * d.units)),
                                      cache.for_backward("h_prev", per_unit),
                                      cache.for_backward("hh_recurrent", per_unit),
                                      cache.pre_gates(opts, sequence_shape(d, 3 * d.units))};
    run_core([&] {
      kernels().of<T>().gru_forward(
          d, opts, in.x.data(), data_or_null(h0a), data_or_null(in.mask), data_or_null(rmask),
          {in.kernel.data(), in.recurrent_kernel.data(), data_or_null(in.bias), reset_after},
          mutable_data_or_null(y), h_last.mutable_data(), buffers);
    });
    return py::make_tuple(y ? py::object(*y) : py::none(), h_last, cache.fields());
  });
}

py::object gru_backward(py::handle x, py::handle kernel, py::handle recurrent_kernel,
                        py::handle bias, py::handle mask, py::handle recurrent_dropout_mask, py::handle cache, py::handle dy,
                        py::handle dh, py::handle activation,
                        py::handle recurrent_activation, py::handle reset_after_arg,
                        py::handle go_backwards, py::handle keep_state_gradients_arg) {
  const Checker check("gru_backward");
  const bool reset_after = check.flag("reset_after", reset_after_arg);
  const bool keep_state_gradients = check.flag("keep_state_gradients", keep_state_gradients_arg);
  return check.by_dtype(x, [&](auto tag) -> py::object {
    using T = decltype(tag);
    auto in = sequence_inputs<T>(check, 3, x, kernel, recurrent_kernel, bias, reset_after, mask);
    const auto& d = in.dims;
    auto rmask = state<T>(check, "recurrent_dropout_mask", recurrent_dropout_mask, d);
    const auto opts = options(check, activation, recurrent_activation, go_backwards);
    const std::string seq = "(batch, time, units)";
    Array<T> gates = cache_field<T>(check, cache, "gates", sequence_shape(d, 3 * d.units), "(batch, time, 3*units)");
    Array<T> h_prev = cache_field<T>(check, cache, "h_prev", sequence_shape(d, d.units), seq);
    Array<T> hh_rec = cache_field<T>(check, cache, "hh_recurrent", sequence_shape(d, d.units), seq);
    auto pre = pre_gates_field<T>(check, cache, opts, sequence_shape(d, 3 * d.units), "(batch, time, 3*units)");
    auto dya = output_gradient<T>(check, dy, d);
    auto dha = state<T>(check, "dh", dh, d);
    Array<T> dx = empty<T>(sequence_shape(d, d.features)), dh0 = empty<T>({d.batch, d.units});
    Array<T> dkernel = empty<T>({d.features, 3 * d.units}), drec = empty<T>({d.units, 3 * d.units});
    std::optional<Array<T>> dbias;
    if (in.bias) dbias = empty<T>(shape_of(*in.bias));
    auto dh_steps = state_gradients<T>(keep_state_gradients, d);
    run_core([&] {
      kernels().of<T>().gru_backward(
          d, opts, data_or_null(dya), data_or_null(dha), in.x.data(), data_or_null(in.mask), data_or_null(rmask),
          {in.kernel.data(), in.recurrent_kernel.data(), data_or_null(in.bias), reset_after},
          {read_only(gates), read_only(h_prev), read_only(hh_rec), pre ? read_only(*pre) : nullptr},
          {dx.mutable_data(), dh0.mutable_data(), dkernel.mutable_data(), drec.mutable_data(),
           mutable_data_or_null(dbias), mutable_data_or_null(dh_steps)});
    });
    py::dict grads("x"_a = dx, "h0"_a = dh0, "kernel"_a = dkernel, "recurrent_kernel"_a = drec);
    if (dbias) grads["bias"] = *dbias;
    if (dh_steps) grads["h_steps"] = *dh_steps;
    return std::move(grads);
  });
}

// ---------------------------------------------------------------- Dense

// Dense's validated inputs: x (..., F) taken as M = prod(...) rows, kernel (F, U), bias (U,).
template <typename T>
struct DenseInputs {
  Index rows = 0, features = 0, units = 0;
  Shape output_shape;
  Array<T> x, kernel;
  std::optional<Array<T>> bias;
};

template <typename T>
DenseInputs<T> dense_inputs(const Checker& check, const py::handle& x, const py::handle& kernel,
                            const py::handle& bias) {
  DenseInputs<T> in;
  py::array xa = check.ndarray("x", x);
  if (xa.ndim() < 2) {
    check.value_error("'x' must be at least 2-D (batch, ..., features), got shape " +
                      format_shape(shape_of(xa)));
  }
  in.rows = 1;
  for (py::ssize_t k = 0; k + 1 < xa.ndim(); ++k) in.rows *= xa.shape(k);
  in.features = xa.shape(xa.ndim() - 1);
  if (in.rows == 0 || in.features == 0) {
    check.value_error("'x' must not be empty, got shape " + format_shape(shape_of(xa)));
  }
  py::array ka = check.ndarray("kernel", kernel);
  if (ka.ndim() != 2 || ka.shape(0) != in.features || ka.shape(1) == 0) {
    check.value_error("'kernel' must have shape (features, units) with features = " +
                      std::to_string(in.features) + " and units > 0, got " + format_shape(shape_of(ka)));
  }
  in.units = ka.shape(1);
  in.x = check.array<T>("x", x, shape_of(xa), "(batch, ..., features)");
  in.kernel = check.array<T>("kernel", kernel, {in.features, in.units}, "(features, units)");
  in.bias = check.optional_array<T>("bias", bias, {in.units}, "(units,)");
  in.output_shape = shape_of(xa);
  in.output_shape.back() = in.units;
  return in;
}

py::object dense_forward(py::handle x, py::handle kernel, py::handle bias,
                         py::handle activation) {
  const Checker check("dense_forward");
  return check.by_dtype(x, [&](auto tag) -> py::object {
    using T = decltype(tag);
    auto in = dense_inputs<T>(check, x, kernel, bias);
    const auto act = check.activation("activation", activation, true);
    Array<T> y = empty<T>(in.output_shape);
    run_core([&] {
      kernels().of<T>().dense_forward(in.rows, in.features, in.units, act, in.x.data(), in.kernel.data(),
                               data_or_null(in.bias), y.mutable_data());
    });
    return std::move(y);
  });
}

py::object dense_backward(py::handle x, py::handle kernel, py::handle bias, py::handle y,
                          py::handle dy, py::handle activation) {
  const Checker check("dense_backward");
  return check.by_dtype(x, [&](auto tag) -> py::object {
    using T = decltype(tag);
    auto in = dense_inputs<T>(check, x, kernel, bias);
    Array<T> ya = check.array<T>("y", y, in.output_shape, "(batch, ..., units)");
    Array<T> dya = check.array<T>("dy", dy, in.output_shape, "(batch, ..., units)");
    const auto act = check.activation("activation", activation, true);
    Array<T> dx = empty<T>(shape_of(in.x)), dkernel = empty<T>({in.features, in.units});
    std::optional<Array<T>> dbias;
    if (in.bias) dbias = empty<T>({in.units});
    run_core([&] {
      kernels().of<T>().dense_backward(in.rows, in.features, in.units, act, dya.data(), in.x.data(),
                                in.kernel.data(), data_or_null(in.bias), ya.data(), dx.mutable_data(),
                                dkernel.mutable_data(), mutable_data_or_null(dbias));
    });
    py::dict grads("x"_a = dx, "kernel"_a = dkernel);
    if (dbias) grads["bias"] = *dbias;
    return std::move(grads);
  });
}

// ---------------------------------------------------------------- Optimizers

// The slots each rule reads, by position (see rnnkit/optimizers.hpp), given its settings.
std::array<bool, 3> slots_needed(rnnkit::OptimizerRule rule, double momentum, bool amsgrad, bool centered) {
  switch (rule) {
    case rnnkit::OptimizerRule::Sgd:
      return {momentum != 0, false, false};
    case rnnkit::OptimizerRule::Adam:
      return {true, true, amsgrad};
    case rnnkit::OptimizerRule::RMSprop:
      return {true, momentum != 0, centered};
    case rnnkit::OptimizerRule::Adagrad:
    case rnnkit::OptimizerRule::Lion:
      return {true, false, false};
    case rnnkit::OptimizerRule::Nadam:
    case rnnkit::OptimizerRule::Adamax:
    case rnnkit::OptimizerRule::Adadelta:
    case rnnkit::OptimizerRule::Ftrl:
      return {true, true, false};
  }
  return {false, false, false};
}

rnnkit::OptimizerRule optimizer_rule(const Checker& check, const std::string& name) {
  if (name == "sgd") return rnnkit::OptimizerRule::Sgd;
  if (name == "adam") return rnnkit::OptimizerRule::Adam;
  if (name == "rmsprop") return rnnkit::OptimizerRule::RMSprop;
  if (name == "adagrad") return rnnkit::OptimizerRule::Adagrad;
  if (name == "nadam") return rnnkit::OptimizerRule::Nadam;
  if (name == "adamax") return rnnkit::OptimizerRule::Adamax;
  if (name == "adadelta") return rnnkit::OptimizerRule::Adadelta;
  if (name == "lion") return rnnkit::OptimizerRule::Lion;
  if (name == "ftrl") return rnnkit::OptimizerRule::Ftrl;
  check.value_error("'rule' must be one of 'sgd', 'adam', 'rmsprop', 'adagrad', 'nadam', 'adamax', 'adadelta', "
                    "'lion', 'ftrl', got '" + name + "'");
}

// An array the core updates in place: dtype T, `shape`, C-contiguous and writeable (a copy
// would leave the caller's array unchanged, so none is made).
template <typename T>
Array<T> in_place(const Checker& check, const std::string& name, const py::handle& obj, const Shape& shape) {
  py::array a = check.ndarray(name.c_str(), obj);
  if (!is_dtype_of<T>(a.dtype()) || shape_of(a) != shape) {
    check.type_error("'" + name + "' must have dtype " + std::string(py::str(py::dtype::of<T>())) + " and shape " +
                     format_shape(shape) + ", got " + std::string(py::str(a.dtype())) + " " + format_shape(shape_of(a)));
  }
  if (!(a.flags() & py::array::c_style) || !(a.flags() & kAligned) || !a.writeable()) {
    check.value_error("'" + name + "' must be a writeable, aligned, C-contiguous array: it is updated in place");
  }
  return py::reinterpret_borrow<Array<T>>(a);
}

// Whether two of one variable's buffers overlap: the core reads and writes them as distinct.
bool overlapping(const std::vector<std::pair<const char*, const char*>>& ranges) {
  for (size_t i = 0; i < ranges.size(); ++i) {
    for (size_t j = i + 1; j < ranges.size(); ++j) {
      if (ranges[i].first < ranges[j].second && ranges[j].first < ranges[i].second) return true;
    }
  }
  return false;
}

py::object optimizer_update(py::handle rule_arg, py::handle values_arg, py::handle gradients_arg,
                            py::handle slots_arg, py::handle decay_arg, py::handle settings) {
  const Checker check("optimizer_update", "values[0]");
  if (!py::isinstance<py::str>(rule_arg)) check.type_error("'rule' must be a str, got " + type_name(rule_arg));
  if (!py::isinstance<rnnkit::OptimizerStep>(settings)) {
    check.type_error("'settings' must be an rnnkit._core.OptimizerStep, got " + type_name(settings));
  }
  const std::string rule_name = rule_arg.cast<std::string>();
  rnnkit::OptimizerStep step = settings.cast<rnnkit::OptimizerStep>();
  step.rule = optimizer_rule(check, rule_name);
  const py::sequence values = check.sequence("values", values_arg), gradients = check.sequence("gradients", gradients_arg);
  const py::sequence slots = check.sequence("slots", slots_arg), decay = check.sequence("decay", decay_arg);
  const size_t count = values.size();
  if (gradients.size() != count || slots.size() != count || decay.size() != count) {
    check.value_error("'values', 'gradients', 'slots' and 'decay' must have one entry per variable, got " +
                      std::to_string(count) + ", " + std::to_string(gradients.size()) + ", " +
                      std::to_string(slots.size()) + " and " + std::to_string(decay.size()));
  }
  if (count == 0) return py::none();
  const auto needed = slots_needed(step.rule, step.momentum, step.amsgrad, step.centered);
  return check.by_dtype(values[0], [&](auto tag) -> py::object {
    using T = decltype(tag);
    std::vector<Array<T>> held;  // keeps every array (and any contiguous copy of a gradient) alive
    std::vector<rnnkit::OptimizerVariable<T>> variables(count);
    for (size_t k = 0; k < count; ++k) {
      const std::string at = "[" + std::to_string(k) + "]";
      Array<T> value = in_place<T>(check, "values" + at, values[k], shape_of(check.ndarray("values", values[k])));
      const Shape shape = shape_of(value);
      Array<T> gradient = check.array<T>(("gradients" + at).c_str(), gradients[k], shape, "like 'values" + at + "'");
      auto& variable = variables[k];
      variable.size = value.size();
      variable.value = value.mutable_data();
      variable.gradient = gradient.data();
      variable.decay = check.flag(("decay" + at).c_str(), decay[k]);
      std::vector<std::pair<const char*, const char*>> ranges;
      auto add_range = [&](const T* data) {
        ranges.emplace_back(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data + variable.size));
      };
      add_range(variable.value);
      add_range(variable.gradient);
      const py::sequence slot_list = check.sequence(("slots" + at).c_str(), slots[k]);
      if (slot_list.size() != 3) check.value_error("'slots" + at + "' must hold 3 entries (arrays or None)");
      for (size_t j = 0; j < 3; ++j) {
        const py::object slot = slot_list[j];
        const std::string name = "slots" + at + "[" + std::to_string(j) + "]";
        if (slot.is_none() != !needed[j]) {
          check.value_error("'" + name + "' must be " + (needed[j] ? "an array" : "None") + " for rule '" +
                            rule_name + "' with these settings");
        }
        if (slot.is_none()) continue;
        Array<T> array = in_place<T>(check, name, slot, shape);
        variable.slots[j] = array.mutable_data();
        add_range(variable.slots[j]);
        held.push_back(std::move(array));
      }
      if (overlapping(ranges)) check.value_error("the arrays of variable " + at + " must not overlap");
      held.push_back(std::move(value));
      held.push_back(std::move(gradient));
    }
    run_core([&] { kernels().of<T>().optimizer_update(step, variables.data(), static_cast<Index>(count)); });
    return py::none();
  });
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  using namespace pybind11::literals;
  m.doc() = "rnnkit's C++ core. Use rnnkit.ops, which documents shapes and fills defaults.";
  // A call stopped between time steps raises what Python's SIGINT handler raises, or else
  // KeyboardInterrupt (see SigintStopsCore).
  // The kernels for this CPU, from the directory this module was loaded from; RNNKIT_ISA
  // names a lower instruction set to use instead of the best one.
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&sigints_to_stop), &self) == 0 || self.dli_fname == nullptr) {
    throw std::runtime_error("rnnkit._core: cannot find the directory it was loaded from");
  }
  const std::string module_path = self.dli_fname;
  const char* forced_isa = std::getenv("RNNKIT_ISA");
  try {
    rnnkit::binding::load_kernels(module_path.substr(0, module_path.find_last_of('/')),
                                  forced_isa == nullptr ? "" : forced_isa);
  } catch (const std::runtime_error& error) {
    throw py::import_error(std::string("rnnkit: ") + error.what());
  }
  // _signal's getsignal returns the handler as it is; signal's wraps it in an enum on every call.
  const py::module_ signal = py::module_::import("_signal");
  python_signals = new PythonSignals{
      py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>(),
      signal.attr("getsignal"), signal.attr("SIGINT"), signal.attr("default_int_handler")};
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const rnnkit::Interrupted&) {
      if (PyErr_CheckSignals() != 0) return;
      PyErr_SetString(PyExc_KeyboardInterrupt, "stopped by Ctrl-C between time steps");
    }
  });
  const auto none = py::none();
  m.def("simple_rnn_forward", &simple_rnn_forward, "x"_a, "kernel"_a, "recurrent_kernel"_a,
        "bias"_a = none, "h0"_a = none, "mask"_a = none, "recurrent_dropout_mask"_a = none, "activation"_a = "tanh",
        "go_backwards"_a = false, "return_sequences"_a = true, "keep_cache"_a = true);
  m.def("simple_rnn_backward", &simple_rnn_backward, "x"_a, "kernel"_a, "recurrent_kernel"_a,
        "bias"_a, "mask"_a, "recurrent_dropout_mask"_a, "cache"_a, "dy"_a = none, "dh"_a = none, "activation"_a = "tanh",
        "go_backwards"_a = false, "keep_state_gradients"_a = false);
  m.def("lstm_forward", &lstm_forward, "x"_a, "kernel"_a, "recurrent_kernel"_a, "bias"_a = none,
        "h0"_a = none, "c0"_a = none, "peephole_kernel"_a = none, "mask"_a = none, "recurrent_dropout_mask"_a = none,
        "activation"_a = "tanh", "recurrent_activation"_a = "sigmoid", "go_backwards"_a = false,
        "return_sequences"_a = true, "keep_cache"_a = true);
  m.def("lstm_backward", &lstm_backward, "x"_a, "kernel"_a, "recurrent_kernel"_a, "bias"_a,
        "peephole_kernel"_a, "mask"_a, "recurrent_dropout_mask"_a, "cache"_a, "dy"_a = none, "dh"_a = none, "dc"_a = none,
        "activation"_a = "tanh", "recurrent_activation"_a = "sigmoid", "go_backwards"_a = false,
        "keep_state_gradients"_a = false);
  m.def("gru_forward", &gru_forward, "x"_a, "kernel"_a, "recurrent_kernel"_a, "bias"_a = none,
        "h0"_a = none, "mask"_a = none, "recurrent_dropout_mask"_a = none, "activation"_a = "tanh",
        "recurrent_activation"_a = "sigmoid", "reset_after"_a = true, "go_backwards"_a = false,
        "return_sequences"_a = true, "keep_cache"_a = true);
  m.def("gru_backward", &gru_backward, "x"_a, "kernel"_a, "recurrent_kernel"_a, "bias"_a,
        "mask"_a, "recurrent_dropout_mask"_a, "cache"_a, "dy"_a = none, "dh"_a = none, "activation"_a = "tanh",
        "recurrent_activation"_a = "sigmoid", "reset_after"_a = true, "go_backwards"_a = false,
        "keep_state_gradients"_a = false);
  py::class_<rnnkit::OptimizerStep>(m, "OptimizerStep", "The settings of one optimizer step (rnnkit/optimizers.hpp).")
      .def(py::init([](double learning_rate, double weight_decay, double momentum, bool nesterov, double beta_1,
                       double beta_2, double epsilon, bool amsgrad, double rho, bool centered, Index step,
                       double u_t, double u_next, double u_product, double learning_rate_power, double l1,
                       double l2, double l2_shrinkage, double beta, bool coupled_weight_decay, bool torch) {
             rnnkit::OptimizerStep s;
             s.learning_rate = learning_rate;
             s.weight_decay = weight_decay;
             s.momentum = momentum;
             s.nesterov = nesterov;
             s.beta_1 = beta_1;
             s.beta_2 = beta_2;
             s.epsilon = epsilon;
             s.amsgrad = amsgrad;
             s.rho = rho;
             s.centered = centered;
             s.step = step;
             s.u_t = u_t;
             s.u_next = u_next;
             s.u_product = u_product;
             s.learning_rate_power = learning_rate_power;
             s.l1 = l1;
             s.l2 = l2;
             s.l2_shrinkage = l2_shrinkage;
             s.beta = beta;
             s.coupled_weight_decay = coupled_weight_decay;
             s.torch = torch;
             return s;
           }),
           "learning_rate"_a, "weight_decay"_a = 0.0, "momentum"_a = 0.0, "nesterov"_a = false, "beta_1"_a = 0.0,
           "beta_2"_a = 0.0, "epsilon"_a = 0.0, "amsgrad"_a = false, "rho"_a = 0.0, "centered"_a = false,
           "step"_a = 1, "u_t"_a = 0.0, "u_next"_a = 0.0, "u_product"_a = 1.0, "learning_rate_power"_a = -0.5,
           "l1"_a = 0.0, "l2"_a = 0.0, "l2_shrinkage"_a = 0.0, "beta"_a = 0.0, "coupled_weight_decay"_a = false,
           "torch"_a = false);
  m.def("optimizer_update", &optimizer_update, "rule"_a, "values"_a, "gradients"_a, "slots"_a, "decay"_a,
        "settings"_a,
        "Updates every variable (and its slots) in place with one step of the rule; see rnnkit.optimizers.");
  m.def("set_num_threads", [](int threads) {
    if (threads < 1) throw py::value_error("set_num_threads: threads must be at least 1, got " + std::to_string(threads));
    kernels().set_num_threads(threads);
  }, "threads"_a);
  m.def("num_threads", [] { return kernels().num_threads(); });
  m.def("isa", [] { return std::string(kernels().isa); }, "The instruction set of the kernels in use.");
  m.def("built_isas", &rnnkit::binding::built_isas, "The instruction sets this build has kernels for, best first.");
  m.def("runnable_isas", &rnnkit::binding::runnable_isas, "Those this CPU runs, best first.");
  m.def("blas", [] { return std::string(kernels().blas); }, "What computes the matrix products.");
  m.def("dense_forward", &dense_forward, "x"_a, "kernel"_a, "bias"_a = none,
        "activation"_a = "linear");
  m.def("dense_backward", &dense_backward, "x"_a, "kernel"_a, "bias"_a, "y"_a, "dy"_a,
        "activation"_a = "linear");
}
