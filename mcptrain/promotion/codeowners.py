"""`.github/CODEOWNERS` from the specs: each service's folder to its `owners`, and the
Project's `owners` (the ML platform team) to `policies/`, `models/` and `mcptrain.yaml`.

mcptrain writes one block between two marker lines and keeps every other line a person
wrote; the block goes last, since in CODEOWNERS later lines win. `check_codeowners` is
what `mcptrain validate` reports when the block no longer matches the specs.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from mcptrain.errors import Diagnostic
from mcptrain.specs.loader import Specs

CODEOWNERS = ".github/CODEOWNERS"
BEGIN = "# mcptrain:begin — written by `mcptrain codeowners` from the specs; edit the specs, not this block"
END = "# mcptrain:end"
PLATFORM_PATHS = ("/policies/", "/models/", "/mcptrain.yaml")


def codeowners_block(specs: Specs) -> str:
    lines = [BEGIN]
    platform = specs.project_spec.owners
    if platform:
        lines += [f"{path:<24}{' '.join(platform)}" for path in PLATFORM_PATHS]
    for bundle in sorted(specs.services.values(), key=lambda b: _folder(b) or ""):
        folder = _folder(bundle)
        if folder is None or bundle.service is None or not bundle.service.spec.owners:
            continue
        lines.append(f"{folder:<24}{' '.join(bundle.service.spec.owners)}")
    lines.append(END)
    return "\n".join(lines) + "\n"


def _folder(bundle: object) -> str | None:
    service = getattr(bundle, "service", None)
    if service is None:
        return None
    return f"/{PurePosixPath(service.path).parent}/"


def updated_codeowners(current: str | None, block: str) -> str:
    """`current` with mcptrain's block replaced (or appended), every other line kept."""
    if not current:
        return block
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("# mcptrain:begin")), None)
    end = next((i for i, line in enumerate(lines) if line.rstrip("\n") == END), None)
    if start is None or end is None or end < start:
        return current.rstrip("\n") + "\n\n" + block
    return "".join(lines[:start]) + block + "".join(lines[end + 1:])


def check_codeowners(root: Path, specs: Specs) -> list[Diagnostic]:
    """A warning when `.github/CODEOWNERS` exists and its block is not what the specs say."""
    path = root / CODEOWNERS
    if not path.is_file():
        return []
    current = path.read_text(encoding="utf-8")
    wanted = updated_codeowners(current, codeowners_block(specs))
    if wanted == current:
        return []
    lines = current.splitlines()
    line = next((i + 1 for i, text in enumerate(lines) if text.startswith("# mcptrain:begin")), len(lines) or 1)
    return [Diagnostic(CODEOWNERS, line, 1, "", "out of date with the services' and the project's owners",
                       severity="warning", hint="mcptrain codeowners (then commit .github/CODEOWNERS)")]
