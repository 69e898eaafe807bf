"""What the API pages need beyond autodoc and napoleon, read from the code at build time:

- the full signatures of SimpleRNN, LSTM and GRU, whose ``__init__`` takes ``units, **kwargs``
  and hands the keyword arguments to their cell and to ``RNN``;
- the ``rnnkit-layer-arguments`` directive: a table of every layer in ``rnnkit.layers`` with
  the arguments it takes and their defaults (used by the "Coming from Keras" page);
- "Bases:" lines that name the nearest public base instead of a private helper class;
- attribute docstrings read as prose: napoleon would read ``"Keras' autocast: inputs are
  cast ..."`` as a type (``Keras' autocast``) followed by a description;
- no docstrings borrowed from outside rnnkit (NumPy's, the standard library's).
"""

from __future__ import annotations

import inspect
import sys
from typing import Any, List, Optional, Tuple

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _chain(cls: type, stop: type) -> List[inspect.Parameter]:
    """The arguments of ``cls.__init__`` and, while an ``__init__`` passes ``**kwargs`` on, of its
    bases' up to ``stop`` (excluded); private arguments (``_owner``) are left out."""
    params: List[inspect.Parameter] = []
    seen = set()
    for klass in cls.__mro__:
        if klass is stop or klass is object:
            break
        if "__init__" not in vars(klass):
            continue
        passes_on = False
        for param in list(inspect.signature(klass.__init__).parameters.values())[1:]:
            if param.kind is param.VAR_KEYWORD:
                passes_on = True
            elif param.kind is not param.VAR_POSITIONAL and not param.name.startswith("_") \
                    and param.name not in seen:
                seen.add(param.name)
                params.append(param)
        if not passes_on:
            break
    return params


def _default(param: inspect.Parameter) -> str:
    """``name=default`` as the source writes it (strings in double quotes), or ``name``."""
    if param.default is inspect.Parameter.empty:
        return param.name
    value = param.default
    return f'{param.name}="{value}"' if isinstance(value, str) else f"{param.name}={value!r}"


def _cell_layer(cls: Any) -> bool:
    from rnnkit.layers.recurrent import _CellLayer

    return isinstance(cls, type) and issubclass(cls, _CellLayer)


def layer_arguments(cls: type) -> List[inspect.Parameter]:
    """The arguments a layer class takes besides :class:`rnnkit.layers.Layer`'s own."""
    from rnnkit.layers import RNN, Layer

    if _cell_layer(cls):  # units and the cell's arguments, then RNN's (but its cell)
        cell = _chain(cls.cell_class, Layer)
        return cell + [p for p in _chain(RNN, Layer) if p.name != "cell" and p.name not in {c.name for c in cell}]
    return _chain(cls, Layer)


def _cell_layer_signature(app: Sphinx, what: str, name: str, obj: Any, options: Any, signature: Optional[str],
                          return_annotation: Optional[str]) -> Optional[Tuple[str, Optional[str]]]:
    if what != "class" or not _cell_layer(obj):
        return None
    params = layer_arguments(obj)
    rendered = [params[0].name, "*"] + [_default(p) for p in params[1:]] + ["**kwargs"]
    return f"({', '.join(rendered)})", return_annotation


def _public_bases(app: Sphinx, name: str, obj: Any, options: Any, bases: List[type]) -> None:
    """Replaces private bases (``_CellLayer``) by their nearest public ones (``RNN``)."""
    public: List[type] = []
    pending = list(bases)
    while pending:
        base = pending.pop(0)
        if base.__name__.startswith("_"):
            pending[0:0] = list(base.__bases__)
        elif base not in public:
            public.append(base)
    bases[:] = public


def _prose_attributes(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: List[str]) -> None:
    """A first line holding only an escaped line break (reST drops it) keeps napoleon from
    reading the text before a colon as a type."""
    if what in ("attribute", "property", "data") and lines and ":" in lines[0]:
        lines.insert(0, "\\")


def _borrowed_docstring(app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any) -> Optional[bool]:
    """Leaves out class members whose only docstring comes from outside rnnkit: a NumPy
    function held as a class attribute, or an undocumented override of a standard-library
    method (``concurrent.futures.Executor.submit``), whose docstrings are not rnnkit's."""
    if what != "class" or skip:
        return None
    module = getattr(obj, "__module__", None) or ""
    if callable(obj) and not isinstance(obj, type) and not module.startswith("rnnkit"):
        return True
    function = getattr(obj, "__func__", obj)
    if not callable(function) or getattr(function, "__doc__", None) is not None or not module.startswith("rnnkit"):
        return None
    owner = sys.modules.get(module)
    for part in getattr(function, "__qualname__", "").split(".")[:-1]:
        owner = getattr(owner, part, None)
    for klass in getattr(owner, "__mro__", ())[1:]:
        inherited = vars(klass).get(name)
        if inherited is not None and getattr(inherited, "__doc__", None):
            return True if not klass.__module__.startswith("rnnkit") else None
    return None


def _reference(target: str, text: str, reftype: str = "class") -> nodes.Node:
    ref = addnodes.pending_xref("", refdomain="py", reftype=reftype, reftarget=target, refexplicit=True,
                                refwarn=False)
    ref += nodes.literal(text, text)
    return ref


class LayerArguments(SphinxDirective):
    """``.. rnnkit-layer-arguments::``: a table, one row per layer of ``rnnkit.layers.__all__``
    (then the arguments every layer takes), listing each argument with its default."""

    has_content = False

    def _row(self, first: nodes.Node, params: List[inspect.Parameter]) -> nodes.row:
        row = nodes.row()
        name_cell, args_cell = nodes.entry(), nodes.entry()
        name_cell += nodes.paragraph("", "", first)
        paragraph = nodes.paragraph()
        for k, param in enumerate(params):
            if k:
                paragraph += nodes.Text(", ")
            text = _default(param)
            paragraph += nodes.literal(text, text)
        args_cell += paragraph
        row += name_cell
        row += args_cell
        return row

    def run(self) -> List[nodes.Node]:
        from rnnkit import layers

        table = nodes.table(classes=["rnnkit-layer-arguments"])
        group = nodes.tgroup(cols=2)
        table += group
        group += nodes.colspec(colwidth=20)
        group += nodes.colspec(colwidth=80)
        head = nodes.thead()
        header = nodes.row()
        for title in ("Layer", "Arguments and their defaults"):
            entry = nodes.entry()
            entry += nodes.paragraph(title, title)
            header += entry
        head += header
        group += head
        body = nodes.tbody()
        for name in layers.__all__:
            obj = getattr(layers, name)
            if isinstance(obj, type) and issubclass(obj, layers.Layer) and obj is not layers.Layer:
                body += self._row(_reference(f"rnnkit.layers.{name}", name), layer_arguments(obj))
            elif name == "Input":
                params = list(inspect.signature(obj).parameters.values())
                body += self._row(_reference("rnnkit.layers.Input", "Input", "func"), params)
        common = _chain(layers.Layer, object)
        body += self._row(nodes.Text("every layer (and model)"), common)
        group += body
        return [table]


def setup(app: Sphinx) -> dict:
    app.connect("autodoc-process-signature", _cell_layer_signature)
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("autodoc-skip-member", _borrowed_docstring)
    app.connect("autodoc-process-docstring", _prose_attributes, priority=400)  # before napoleon's (500)
    app.add_directive("rnnkit-layer-arguments", LayerArguments)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
