"""`mcptrain pull`: fetch every `sources:` entry into its own spec folder.

A source that fails is reported and skipped (its folder keeps the last good pull); the
others are pulled. Exit 1 when any source failed, so CI sees it; `mcptrain build --pull`
goes on building with what it has.
"""

from __future__ import annotations

from pathlib import Path

from mcptrain import output


def run(root: Path) -> int:
    return 0 if pull(root) else 1


def pull(root: Path) -> bool:
    """Pull every source; whether all of them succeeded."""
    from mcptrain.sources.pull import pull_sources
    from mcptrain.workspace import SOURCES_LOCK, Workspace

    ws = Workspace(root)
    specs, diags = ws.load_specs()
    sources = specs.project_spec.sources
    if not sources:
        output.info("mcptrain: no sources in mcptrain.yaml; nothing to pull")
        return True
    results = pull_sources(ws, specs, sources)
    for r in results:
        if r.ok:
            output.info(f"pulled {r.name} {r.version or ''} from {r.url} into {r.folder}/ ({r.summary})".replace("  ", " "))
        else:
            output.diagnostics(r.diagnostics[:5])
            output.error(f"skipped source {r.name}: {r.error}")
    failed = [r for r in results if not r.ok]
    done = len(results) - len(failed)
    output.info(f"mcptrain: pulled {done} of {len(results)} source{'' if len(results) == 1 else 's'}; "
                f"provenance in {SOURCES_LOCK}; next: `mcptrain validate`, then `mcptrain build`")
    return not failed
