"""`mcptrain release`: mark a merged candidate production, deprecate the previous one, tag
both in GTO's grammar. The release workflow runs it on merge of a promotion pull request."""

from __future__ import annotations

from pathlib import Path

from mcptrain import output


def run(root: Path, *, version: str | None = None) -> int:
    from mcptrain.promotion.release import release_version
    from mcptrain.workspace import Workspace

    model = Workspace(root).project.name
    done = release_version(root, model, version)
    if done.commit:
        output.info(f"mcptrain: {model} v{done.version} is production"
                    + (f"; v{done.previous} deprecated" if done.previous else "")
                    + f" (commit {done.commit[:12]})")
    else:
        output.info(f"mcptrain: {model} v{done.version} is already production")
    if done.tags:
        output.info(f"mcptrain: tagged {', '.join(done.tags)}")
        output.info("mcptrain: next: git push --follow-tags")
    else:
        output.info("mcptrain: its tags exist; nothing to do")
    return 0
