"""The cells and variants every gradient and step test runs over, with random inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Dict

import numpy as np

from rnnkit import ops


@dataclass(frozen=True)
class Cell:
    name: str
    forward: Callable[..., Any]
    gates: int
    options: Dict[str, Any] = field(default_factory=dict)
    has_cell_state: bool = False
    peephole: bool = False
    smooth: bool = True  # False where the activations have kinks (relu, hard_sigmoid)

    def bias_shape(self, units: int):
        if self.options.get("reset_after", self.forward is ops.gru_forward):
            return (2, self.gates * units)
        return (self.gates * units,)

    def inputs(self, rng: np.random.Generator, N: int, T: int, F: int, H: int, scale: float = 0.5):
        """float64 inputs named as the forward's arguments."""
        def normal(*shape):
            return rng.standard_normal(shape) * scale

        inputs = {
            "x": normal(N, T, F),
            "kernel": normal(F, self.gates * H),
            "recurrent_kernel": normal(H, self.gates * H),
            "bias": normal(*self.bias_shape(H)),
            "h0": normal(N, H),
        }
        if self.has_cell_state:
            inputs["c0"] = normal(N, H)
        if self.peephole:
            inputs["peephole_kernel"] = normal(3, H)
        return inputs

    def bind(self, **options):
        return partial(self.forward, **{**self.options, **options})


CELLS = [
    Cell("simple_rnn_tanh", ops.simple_rnn_forward, 1, {"activation": "tanh"}),
    Cell("simple_rnn_sigmoid", ops.simple_rnn_forward, 1, {"activation": "sigmoid"}),
    Cell("simple_rnn_linear", ops.simple_rnn_forward, 1, {"activation": "linear"}),
    Cell("simple_rnn_relu", ops.simple_rnn_forward, 1, {"activation": "relu"}, smooth=False),
    Cell("lstm", ops.lstm_forward, 4, has_cell_state=True),
    Cell("lstm_peephole", ops.lstm_forward, 4, has_cell_state=True, peephole=True),
    Cell("lstm_hard_sigmoid", ops.lstm_forward, 4, {"recurrent_activation": "hard_sigmoid"},
         has_cell_state=True, smooth=False),
    Cell("gru_reset_after", ops.gru_forward, 3, {"reset_after": True}),
    Cell("gru_reset_before", ops.gru_forward, 3, {"reset_after": False}),
    Cell("gru_hard_sigmoid", ops.gru_forward, 3,
         {"reset_after": True, "recurrent_activation": "hard_sigmoid"}, smooth=False),
]
CELL_IDS = [cell.name for cell in CELLS]


def mask_options(mode: str, N: int, T: int, rng: np.random.Generator) -> Dict[str, Any]:
    """No mask, per-sample lengths (including 0 and T), or an arbitrary mask with holes."""
    if mode == "none":
        return {}
    if mode == "lengths":
        lengths = rng.integers(0, T + 1, size=N)
        lengths[0], lengths[-1] = T, 0 if N > 1 else T
        return {"lengths": lengths}
    mask = rng.random((N, T)) < 0.6
    return {"mask": mask}
