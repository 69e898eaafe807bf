"""What every model shares: training (Trainer), being a layer, layer lookup, summary, files."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import saving, traces
from .._arguments import check_flag
from ..layers.base import InputLayer, Layer, Pullback
from .training import Trainer

__all__ = ["BaseModel"]

_BOX = "┏┳┓┃┡╇┩━│├┼┤─└┴┘"
_ASCII = "+++|+++=|+++-+++"


def _box_characters(print_fn: Any) -> Dict[str, str]:
    """Keras' box-drawing characters, or ASCII where stdout cannot encode them."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    if print_fn is print:
        try:
            _BOX.encode(encoding)
        except (UnicodeEncodeError, LookupError):
            return dict(zip(_BOX, _ASCII))
    return dict(zip(_BOX, _BOX))



# Trainer.trace(x, y) takes the place of Layer.trace(inputs): a model is traced on a batch the way
# fit sees it (mypy reports the two definitions as incompatible).
class BaseModel(Trainer, Layer):  # type: ignore[misc]
    """A model: a layer of layers with compile, fit, evaluate, predict, summary and saving.

    Subclasses give ``layers``, ``propagate(inputs, mask, training)`` and the summary rows.
    """

    casts_inputs = False

    def __init__(self, name: str, trainable: bool = True) -> None:
        Trainer.__init__(self)
        Layer.__init__(self, name=name, trainable=trainable)

    @property
    def layers(self) -> List[Layer]:
        """The model's layers, a new list each time (see Sequential's and Model's)."""
        raise NotImplementedError

    def _sublayers(self) -> List[Layer]:
        return [layer for layer in self.layers if not isinstance(layer, InputLayer)]

    def forward(self, inputs: Any, *, mask: Any = None, training: bool = False,
                **kwargs: Any) -> Tuple[Any, Pullback]:
        """The outputs and the pullback ``d_outputs -> (d_inputs, {variable: gradient})``."""
        outputs, _, pullback = self.propagate(inputs, mask, training, **kwargs)
        return outputs, pullback

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return self.propagate(inputs, mask, training=False)[1]

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Layer:
        """The layer of that name, or at that index of ``layers``."""
        layers = self.layers
        if index is not None:
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {[layer.name for layer in layers]}")

    # ------------------------------------------------------------------ summary
    def _summary_rows(self) -> List[Tuple[str, str, str, Optional[str]]]:
        """(layer (type), output shape, parameters, connected to or None) per row."""
        raise NotImplementedError

    def summary(self, line_length: Optional[int] = None, print_fn: Any = None, gates: bool = False) -> None:
        """Prints the layers, their output shapes and parameter counts (and, for a graph, what
        each is connected to), as Keras 3 does.

        Args:
            line_length: the table's width in characters.
            print_fn: called with each line (default ``print``).
            gates: also break every recurrent layer's parameters down per gate block: the
                kernel, recurrent kernel, bias (and peephole) parameters of each gate.
        """
        if not self.built:
            raise ValueError("the model is not built yet: declare its input shape or call build() or fit() first")
        rows = self._summary_rows()
        connected = any(r[3] is not None for r in rows)
        line_length = line_length or (110 if connected else 84)
        print_fn = print_fn or print
        widths = [line_length - 42, 25, 15] if not connected else [line_length - 82, 25, 13, 42]
        box = _box_characters(print_fn)
        aligns = "<<><"

        def row(cells: Sequence[Any], left: str = box["│"], mid: str = box["│"], right: str = box["│"]) -> str:
            wrapped = [_wrap(str(c), w - 2) for c, w in zip(cells, widths)]
            lines = []
            for k in range(max(len(w) for w in wrapped)):
                parts = [f" {(w[k] if k < len(w) else ''):{a}{width - 2}} "
                         for w, a, width in zip(wrapped, aligns, widths)]
                lines.append(left + mid.join(parts) + right)
            return "\n".join(lines)

        def rule(left: str, mid: str, right: str, fill: str) -> str:
            return box[left] + box[mid].join(box[fill] * w for w in widths) + box[right]

        header = ("Layer (type)", "Output Shape", "Param #", "Connected to")[:len(widths)]
        lines = [f'Model: "{self.name}"', rule("┏", "┳", "┓", "━"), row(header, box["┃"], box["┃"], box["┃"]),
                 rule("┡", "╇", "┩", "━")]
        for k, cells in enumerate(rows):
            lines.append(row(cells[:len(widths)]))
            lines.append(rule("├", "┼", "┤", "─") if k < len(rows) - 1 else rule("└", "┴", "┘", "─"))

        def size(count: int) -> str:
            nbytes = sum(w.value.nbytes for w in self.weights) * count / max(1, self.count_params())
            for unit in ("B", "KB", "MB", "GB"):
                if nbytes < 1024 or unit == "GB":
                    return f"{count:,} ({nbytes:.2f} {unit})"
                nbytes /= 1024
            return ""

        trainable = sum(w.value.size for w in self.trainable_weights)
        lines += [f" Total params: {size(self.count_params())}", f" Trainable params: {size(trainable)}",
                  f" Non-trainable params: {size(self.count_params() - trainable)}"]
        if check_flag("summary", "gates", gates):
            lines += _gate_breakdown(self)
        for line in "\n".join(lines).split("\n"):
            print_fn(line)

    # ------------------------------------------------------------------ files
    def save(self, filepath: str, overwrite: bool = True) -> None:
        """Saves architecture, weights, compile settings and optimizer state (see rnnkit.saving)."""
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        """Saves the weights only, e.g. to ``"model.weights.npz"``."""
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"'{filepath}' exists and overwrite=False")
        saving.save_weights(self, filepath)

    def load_weights(self, filepath: str) -> None:
        """Loads weights saved by ``save_weights`` or ``save``; the model must match."""
        saving.load_weights(self, filepath)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as JSON (``{"class_name", "config"}``); ``models.model_from_json`` reads it."""
        from .. import layers
        return json.dumps(layers.serialize(self), **kwargs)


def _wrap(text: str, width: int) -> List[str]:
    """A table cell over several lines of at most ``width`` characters, broken after commas
    where possible (Keras wraps long shapes and connection lists the same way)."""
    lines: List[str] = []
    while len(text) > width:
        cut = text.rfind(", ", 0, width)
        cut = cut + 1 if cut > 0 else width
        lines.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return lines + [text]


def _gate_breakdown(model: BaseModel) -> List[str]:
    """Per recurrent layer, a table of each gate block's parameters: every weight of a cell
    holds its gates side by side on its last axis (the peephole kernel one row per gate)."""
    lines: List[str] = []
    for path, cell in traces.recurrent_cells(model):
        kind = getattr(cell, "cell_type", None)
        if kind is None or not cell.built:
            continue  # a cell written in Python has no gate layout
        titles = traces.GATE_TITLES[kind]
        columns = [(name, v) for name, v in (("kernel", cell.kernel), ("recurrent_kernel", cell.recurrent_kernel),
                                             ("bias", cell.bias)) if v is not None]
        peephole = getattr(cell, "peephole_kernel", None) if getattr(cell, "peephole", False) else None
        header = ["gate"] + [name for name, _ in columns] + (["peephole"] if peephole is not None else []) + ["total"]
        rows = []
        for gate in titles:
            counts = [v.value.size // len(titles) for _, v in columns]
            if peephole is not None:
                counts.append(cell.units if gate in "ifo" else 0)
            rows.append([titles[gate]] + [f"{n:,}" for n in counts] + [f"{sum(counts):,}"])
        widths = [max(len(r[k]) for r in rows + [header]) for k in range(len(header))]
        lines += ["", f" Parameters per gate of {path} ({cell.units} units):"]
        for r in [header] + rows:
            cells = (c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths)))
            lines.append("   " + "  ".join(cells))
    return lines
