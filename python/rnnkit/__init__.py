"""rnnkit: recurrent networks (SimpleRNN, LSTM, GRU) with a fast C++ core and a Keras-like API."""

from . import activations, callbacks, config, initializers, layers, losses, metrics, ops, regularizers, utils
from .gradcheck import GradcheckError, GradcheckReport, gradcheck
from .layers import GRU, LSTM, Dense, Dropout, Input, InputLayer, Layer, SimpleRNN

__version__ = "0.1.0"
