"""The plan as one pull-request comment (`mcptrain plan --comment`), found again by its
hidden marker and edited in place on every push, like Atlantis; secrets redacted."""

from __future__ import annotations

import os
import re
from typing import Any

from mcptrain.errors import ConfigError, Diagnostic
from mcptrain.forge import marker
from mcptrain.redaction import redact

_PULL_REF = re.compile(r"refs/pull/(\d+)/(?:merge|head)")


def pull_request_number(given: int | None, environ: dict[str, str] | None = None) -> int:
    """`--pr N`, or in GitHub Actions the pull request the run is for (GITHUB_REF)."""
    if given is not None:
        return given
    env = os.environ if environ is None else environ
    m = _PULL_REF.fullmatch(env.get("GITHUB_REF", ""))
    if m is None:
        raise ConfigError("plan --comment needs the pull request to comment on",
                          hint="pass --pr N (in a GitHub Actions pull_request run it is read from GITHUB_REF)")
    return int(m.group(1))


def comment_marker(model: str) -> str:
    return marker("plan", model)


def render_comment(model: str, document: dict[str, Any] | None, errors: list[Diagnostic]) -> str:
    """Markdown: the actions and why, the version, the inputs (folded), or the validation errors."""
    lines = [comment_marker(model), f"### mcptrain plan for `{model}`", ""]
    if errors:
        lines += [f"**The specs do not validate: {len(errors)} error{'s' if len(errors) != 1 else ''}; "
                  "nothing can be planned until they are fixed.**", "", "```"]
        lines += [d.format() for d in errors] + ["```"]
        return redact("\n".join(lines) + "\n")
    assert document is not None
    changes = [a for a in document["actions"] if a["action"] == "run"]
    lines.append(f"**{len(changes)} to run** ({', '.join(a['stage'] for a in changes)})" if changes
                 else "**Nothing to do**: the model, its evaluation and its gate verdict are up to date.")
    lines += ["", "| stage | action | why |", "| --- | --- | --- |"]
    lines += [f"| {a['stage']} | {a['action']} | {_cell(a['reason'])} |" for a in document["actions"]]
    version = document.get("version")
    if version:
        lines.append("")
        if version["level"] is None:
            lines.append(f"**Version**: no change since production v{version['version']}")
        else:
            over = f"{version['level']} over production v{version['production']}" if version["production"] \
                else "the first version"
            lines.append(f"**Version**: {version['version']} ({over})")
            lines += [f"- {r['level']}: {_cell(r['text'])}" for r in version["reasons"]]
    inputs = document["inputs"]
    lines += ["", "<details><summary>Inputs (fingerprints)</summary>", "", "| input | fingerprint |", "| --- | --- |"]
    lines += [f"| `{name}` | `{digest[:12]}` |" for name, digest in inputs["groups"].items()]
    lines += [f"| {name} | `{inputs[key][:12]}` |" for name, key in
              (("dataset", "dataset"), ("training data", "training_data"), ("train inputs", "train"),
               ("eval inputs", "eval"), ("gate inputs", "gate"))]
    lines += ["", "</details>", "", f"_Updated on every push; made by mcptrain {document['mcptrain_version']}._"]
    return redact("\n".join(lines) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
