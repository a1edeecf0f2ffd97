"""What checking one Examples or EdgeCases file yields, as plain data.

The validator checks each such file on its own (against the tools, vocabularies and
services loaded from the other kinds) into a `RowSummary`, then runs the checks that span
files (duplicate ids, contamination, tool balance, the project's context template) over the
summaries. A summary holds no parsed document, so `mcptrain validate`'s cache
(`validate_cache.py`) can store it and hand it back for a file whose bytes did not change.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from mcptrain.errors import Diagnostic

# (line, col, where, message, severity, hint, extra): a Diagnostic without its file
Finding = tuple[int, int, str, str, str, "str | None", tuple[str, ...]]


class Claim(NamedTuple):
    """An id and where it is declared (`where` ends in `.id`)."""

    ident: str
    path: str
    line: int
    col: int
    where: str

    @property
    def item(self) -> str:
        """The dotted location of the example, edge case or scenario holding the id."""
        return self.where.removesuffix(".id")


@dataclass
class RowSummary:
    service: str
    findings: list[Finding] = field(default_factory=list)
    ids: list[tuple[str, int, int, str]] = field(default_factory=list)  # ident, line, col, where
    queries: dict[str, tuple[int, int]] = field(default_factory=dict)  # normalized query -> first position
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (service, tool) -> calls
    context_error: str | None = None  # the first context the project's context_template fails on
    cacheable: bool = True  # False when a check reported into another file
    contexts: set[str] = field(default_factory=set)  # contexts rendered (while checking only)

    def diagnostics(self, path: str) -> list[Diagnostic]:
        return [Diagnostic(path, line, col, where, message, severity=severity, hint=hint, extra=extra)  # type: ignore[arg-type]
                for line, col, where, message, severity, hint, extra in self.findings]

    def claims(self, path: str) -> list[Claim]:
        return [Claim(ident, path, line, col, where) for ident, line, col, where in self.ids]

    def to_json(self) -> dict[str, Any]:
        """Columns rather than rows: 50,000 ids decode and check several times faster."""
        return {
            "service": self.service,
            "findings": [list(f[:6]) + [list(f[6])] for f in self.findings],
            "ids": [list(column) for column in zip(*self.ids, strict=True)] or [[], [], [], []],
            "queries": [list(self.queries), [p[0] for p in self.queries.values()],
                        [p[1] for p in self.queries.values()]],
            "calls": [[svc, tool, n] for (svc, tool), n in self.calls.items()],
            "context_error": self.context_error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowSummary:
        """Raises KeyError, TypeError or ValueError on anything malformed."""
        findings: list[Finding] = []
        for line, col, where, message, severity, hint, extra in data["findings"]:
            if severity not in ("error", "warning") or not (hint is None or isinstance(hint, str)):
                raise ValueError(f"bad finding {message!r}")
            findings.append((_int(line), _int(col), _str(where), _str(message), severity, hint,
                             tuple(_str(e) for e in extra)))
        context_error = data["context_error"]
        if not (context_error is None or isinstance(context_error, str)):
            raise TypeError("context_error")
        idents, id_lines, id_cols, wheres = data["ids"]
        queries, q_lines, q_cols = data["queries"]
        _column(str, idents, wheres, queries)
        _column(int, id_lines, id_cols, q_lines, q_cols)
        if not len(idents) == len(id_lines) == len(id_cols) == len(wheres) or not (
                len(queries) == len(q_lines) == len(q_cols)):
            raise ValueError("columns of different lengths")
        return cls(
            service=_str(data["service"]),
            findings=findings,
            ids=list(zip(idents, id_lines, id_cols, wheres, strict=True)),
            queries=dict(zip(queries, zip(q_lines, q_cols, strict=True), strict=True)),
            calls=Counter({(_str(svc), _str(tool)): _int(n) for svc, tool, n in data["calls"]}),
            context_error=context_error,
        )


def _column(kind: type[Any], *columns: Any) -> None:
    for column in columns:
        if type(column) is not list or not set(map(type, column)) <= {kind}:
            raise TypeError(f"expected a list of {kind.__name__} values")


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an integer (got {value!r})")
    return value


def _str(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string (got {value!r})")
    return value
