"""A recurrent cell written by a user in Python, as the docs describe (Keras' MinimalRNNCell
with tanh): ``h_t = tanh(x_t W + h_{t-1} U)``, its ``call`` and ``backward`` for one step."""

import numpy as np

from rnnkit.layers import Layer


class MinimalRNNCell(Layer):
    """``list_grads`` returns the weight gradients as a list in ``weights`` order instead of a
    dict keyed by variable (both forms are accepted)."""

    def __init__(self, units, list_grads=False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.list_grads = units, list_grads
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), "glorot_uniform")
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, self.units), "orthogonal")
        super().build(input_shape)

    def call(self, inputs, states, training=False):
        h = np.tanh(inputs @ self.kernel.value + states[0] @ self.recurrent_kernel.value)
        return h, [h]

    def backward(self, inputs, states, d_output, d_new_states):
        h = np.tanh(inputs @ self.kernel.value + states[0] @ self.recurrent_kernel.value)
        d_pre = (d_output + d_new_states[0]) * (1 - h * h)
        grads = [inputs.T @ d_pre, states[0].T @ d_pre]
        return (d_pre @ self.kernel.value.T, [d_pre @ self.recurrent_kernel.value.T],
                grads if self.list_grads else dict(zip(self.weights, grads)))

    def get_config(self):
        return super().get_config() | {"units": self.units, "list_grads": self.list_grads}
