"""rnnkit: recurrent networks (SimpleRNN, LSTM, GRU) with a fast C++ core.

``rnnkit.ops`` holds the differentiable forward/backward operations on NumPy arrays;
``rnnkit.gradcheck`` checks any forward/backward pair against finite differences.
"""

from . import ops
from .gradcheck import GradcheckError, GradcheckReport, gradcheck

__version__ = "0.1.0"

__all__ = ["ops", "gradcheck", "GradcheckReport", "GradcheckError", "__version__"]
