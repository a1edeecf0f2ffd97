"""Errors a person reads. One base class; every error carries where it happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# What a predictor answers for a prompt it refused to generate for (longer than the model
# was trained on); the evaluator scores it as malformed, with this reason, never as a reply.
PROMPT_TOO_LONG = "<mcptrain:prompt-too-long>"


class MCPTrainError(Exception):
    """Base class: a user-fixable problem (exit code 1).

    `hint` is the exact fix, when there is one; `format()` (what `output.failure` prints)
    puts it on its own indented line after the message.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def format(self) -> str:
        return self.message + (f"\n    hint: {self.hint}" if self.hint else "")

    def __str__(self) -> str:
        return self.format()


class SpecError(MCPTrainError):
    """One or more specs are invalid; `diagnostics` holds every one of them."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.format() for d in diagnostics))


class ConfigError(MCPTrainError):
    """mcptrain.yaml or the environment asks for something that cannot be done."""


class StageError(MCPTrainError):
    """A pipeline stage (build, train, eval, ...) failed for a reason the user can fix."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem at one place: `path:line:col: dotted.path: message`."""

    path: str
    line: int
    col: int
    where: str
    message: str
    severity: Literal["error", "warning"] = "error"
    hint: str | None = None
    extra: tuple[str, ...] = field(default=())

    def format(self) -> str:
        prefix = f"{self.path}:{self.line}:{self.col}: "
        kind = "warning: " if self.severity == "warning" else ""
        where = f"{self.where}: " if self.where else ""
        text = f"{prefix}{kind}{where}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def annotation(self) -> str:
        """A GitHub Actions workflow command for this diagnostic."""
        level = "warning" if self.severity == "warning" else "error"
        msg = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            msg += f" (hint: {self.hint})"
        msg = msg.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::{level} file={self.path},line={self.line},col={self.col}::{msg}"
