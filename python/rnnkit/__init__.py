"""rnnkit: recurrent networks (SimpleRNN, LSTM, GRU) with a fast C++ core and a Keras-like API.

``rnnkit.ops`` holds the differentiable forward/backward operations on NumPy arrays;
``rnnkit.gradcheck`` checks any forward/backward pair against finite differences; the
Keras-compatible API lives in ``rnnkit.models``, ``rnnkit.layers``, ``rnnkit.optimizers``,
``rnnkit.losses``, ``rnnkit.metrics``, ``rnnkit.callbacks``, with the common names here.
``rnnkit.datasets`` generates data to learn from; ``rnnkit.compare`` trains several models
on it and sets their results side by side; ``rnnkit.sweep`` trains a grid of settings over
several seeds, here or on an executor (local processes, Dask, Ray).
"""

from importlib import metadata as _metadata

from . import (
    activations,
    callbacks,
    config,
    constraints,
    conversion,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    regularizers,
    sweeps,
    traces,
    utils,
)
from .comparison import Comparison, compare
from .gradcheck import GradcheckError, GradcheckReport, gradcheck
from .layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Input,
    InputLayer,
    Layer,
    Masking,
    SimpleRNN,
    TimeDistributed,
)
from .models import Model, Sequential, load_model
from .sweeps import SweepResult, sweep

try:  # the version lives in pyproject.toml alone; the installed metadata carries it
    __version__ = _metadata.version("rnnkit")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ops", "gradcheck", "GradcheckReport", "GradcheckError", "compare", "Comparison", "sweep", "SweepResult",
    "__version__",
    "activations", "callbacks", "config", "constraints", "conversion", "datasets", "initializers", "layers", "losses",
    "metrics", "models", "optimizers", "regularizers", "sweeps", "traces", "utils",
    "Sequential", "Model", "load_model", "Input", "InputLayer", "Layer", "Dense", "Dropout", "SimpleRNN", "LSTM", "GRU",
    "RNN", "Masking", "Embedding", "Bidirectional", "TimeDistributed",
]
