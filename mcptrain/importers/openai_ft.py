"""An OpenAI fine-tuning JSONL file (one `{"messages": [...], "tools": [...]}` per line)
as the seed's training dataset, so the seed importer converts it: the same rows, the
same checks, the same never-overwrite files. Positions come back as `FILE:LINE`."""

from __future__ import annotations

import json
from pathlib import Path

from mcptrain.errors import Diagnostic
from mcptrain.importers.json_document import MAX_BYTES, JsonDocument
from mcptrain.locations import dotted


def read_openai_jsonl(path: Path, service: str, diags: list[Diagnostic]) -> tuple[JsonDocument | None, list[int]]:
    """The file as one training-dataset document, and each row's line in the file."""
    if path.stat().st_size > MAX_BYTES:
        diags.append(Diagnostic(str(path), 1, 1, "", f"file is over {MAX_BYTES // 1048576} MiB"))
        return None, []
    rows, lines = [], []
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        diags.append(Diagnostic(str(path), 1, 1, "", f"file is not valid UTF-8 (byte at offset {e.start})"))
        return None, []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            diags.append(Diagnostic(str(path), n, getattr(e, "colno", 1), "", f"invalid JSON: {getattr(e, 'msg', e)}"))
            continue
        if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
            diags.append(Diagnostic(str(path), n, 1, "", "expected an object with 'messages' (OpenAI chat fine-tuning)"))
            continue
        rows.append(row)
        lines.append(n)
    data = {"service": service, "training_examples": rows}
    return JsonDocument(str(path), json.dumps(data), data), lines


def relocate(diags: list[Diagnostic], path: str, lines: list[int]) -> list[Diagnostic]:
    """Diagnostics of the wrapped document pointed at the JSONL lines they are about."""
    out = []
    for d in diags:
        if d.path != path or not d.where.startswith("training_examples["):
            out.append(d)
            continue
        index = int(d.where[len("training_examples["):].split("]", 1)[0])
        rest = d.where.split("]", 1)[1].lstrip(".")
        line = lines[index] if index < len(lines) else 1
        out.append(Diagnostic(path, line, 1, rest or dotted(()), d.message, d.severity, d.hint, d.extra))
    return out
