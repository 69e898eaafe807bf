"""Layers, as ``keras.layers``."""

from .base import Input, InputLayer, Layer
from .core import Dense, Dropout
from .recurrent import GRU, LSTM, SimpleRNN

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Dropout", "SimpleRNN", "LSTM", "GRU"]
