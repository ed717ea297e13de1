"""The one base class of every error a user's input can cause.

`MixdesignError` carries where the problem is: a file, a line in it, a darknet layer index or a design block
("b3.1", "row 3"). Every front end (the CLI, the app, `python -m runtime.train`) catches this class and shows
`str(error)` as one line; anything else that escapes is a bug in the designer, not in the user's input.

Subclasses: CfgError (cfg text, designer.ir), DesignError (designer.spec), DesignFormatError (design YAML and
block strings, designer.design_io), SourceError (what a command-line SOURCE names, designer.api.sources),
WeightsError (runtime.weights), BenchError (runtime.bench), DataError (runtime.train.data), DeviceError
(designer.machine), BundleError (runtime.bundle.check), OutputError (a file or folder that cannot be
written, designer.files), EditError (a network edit for training or bundling, designer.edits and
designer.yolo_head). The command line reports them all in one place, designer/commands.py.
"""

from __future__ import annotations

EXCERPT = 60  # characters of the user's input an error message quotes
MAX_MESSAGE = 2000  # a message longer than this is cut in the middle (a safety net; excerpt() is the rule)


def excerpt(text: object, limit: int = EXCERPT) -> str:
    """repr() of the user's text, cut to `limit` characters with how much was left out (a 2 MB one-line cfg or
    a file of NUL bytes is quoted as its first few characters, never whole)."""
    s = str(text)
    if len(s) <= limit:
        return repr(s)
    return repr(s[:limit]) + f"... ({len(s):,} characters)"


class MixdesignError(ValueError):
    """A problem with what the user gave. `file`, `line` (1-based), `layer` (darknet index) and `block` say
    where, when known; `str(e)` is the one-line message with the location in front."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        layer: int | None = None,
        block: str | None = None,
    ):
        self.message = message
        self.file = file
        self.line = line
        self.layer = layer
        self.block = block
        super().__init__(self._render())

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.line:
            parts.append(f"line {self.line}")
        if self.layer is not None:
            parts.append(f"layer {self.layer}")
        if self.block:
            parts.append(self.block)
        return ": ".join(parts)

    def _render(self) -> str:
        w = self.where()
        text = f"{w}: {self.message}" if w else self.message
        if len(text) > MAX_MESSAGE:
            text = (
                text[: MAX_MESSAGE - 200]
                + f" ... [{len(text) - MAX_MESSAGE + 100:,} characters left out] ... "
                + text[-100:]
            )
        return text

    def __str__(self) -> str:
        return self._render()


class OutputError(MixdesignError):
    """A file or folder the user asked for cannot be written (names the user's path, never a temp name)."""


class EditError(MixdesignError):
    """A network that cannot take an edit the user asked for: a classifier tail to retarget, a detection head to
    attach, a training [net] recipe (designer.edits, designer.yolo_head)."""
