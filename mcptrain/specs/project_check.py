"""The names mcptrain.yaml's `mcp_servers:`, `sources:` and `publish:` refer to.

`import mcp`, `drift`, `pull` and `serve` would each trip over a misspelt name only when
they run (a drift report of a service that does not exist, a pull refused over a
person's folder, a caller that always gets 403); `validate` reports them all at once,
at the key in mcptrain.yaml, with did-you-mean.
"""

from __future__ import annotations

from pathlib import Path

from mcptrain.specs import models as s
from mcptrain.specs.loader import Loaded, Specs, pulled_from
from mcptrain.specs.policy_check import Report
from mcptrain.suggestions import did_you_mean


def check_project(specs: Specs, report: Report) -> None:
    project = specs.project
    if project is None:
        return
    declared = sorted(name for name, b in specs.services.items() if b.service is not None)
    pulled = {name: source for name, b in specs.services.items()
              if b.files() and (source := pulled_from(specs.root, b.files()[0].path)) is not None}
    _check_mcp_servers(project, declared, report)
    _check_sources(project, declared, pulled, specs, report)
    _check_clients(project, report)


def _check_mcp_servers(project: Loaded[s.ProjectSpec], declared: list[str], report: Report) -> None:
    for name in project.spec.mcp_servers:
        if name not in declared:
            report(project, ("mcp_servers", name), f"no service {name!r} in specs/ (mcp_servers names a service)",
                   key=True, hint=did_you_mean(name, declared) or _new_service(name))


def _check_sources(project: Loaded[s.ProjectSpec], declared: list[str], pulled: dict[str, str], specs: Specs,
                   report: Report) -> None:
    first: dict[str, int] = {}
    for i, source in enumerate(project.spec.sources):
        loc = ("sources", i, "name")
        if source.name in first:
            report(project, loc, f"source {source.name!r} is listed twice (first as sources[{first[source.name]}])",
                   hint="a source fills one folder of its own: keep one entry")
            continue
        first[source.name] = i
        bundle = specs.services.get(source.name)
        if bundle is not None and bundle.files() and source.name not in pulled:
            folder = Path(bundle.files()[0].path).parent.as_posix()
            report(project, loc, f"{source.name!r} is a service of this repository ({folder}/ was written by a "
                                 "person, not pulled); `mcptrain pull` never writes over it",
                   hint="rename or remove the source, or move the local service away")
        elif source.name not in declared:
            others = [n for n in declared if n not in first]
            report(project, loc, f"no service {source.name!r} in specs/ yet: its data is not built until "
                                 "`mcptrain pull` fetches it", severity="warning",
                   hint=did_you_mean(source.name, others) or "run `mcptrain pull` (or `mcptrain build --pull`)")
    listed = {src.name for src in project.spec.sources}
    for service, origin in sorted(pulled.items()):
        if origin not in listed:
            folder = Path(specs.services[service].files()[0].path).parent.as_posix()
            report(project, ("sources",), f"{folder}/ was pulled from source {origin!r}, which sources: no longer "
                                          "lists; its data is still built", severity="warning", key=True,
                   hint=did_you_mean(origin, listed) or f"delete {folder}/, or add the source back")


def _check_clients(project: Loaded[s.ProjectSpec], report: Report) -> None:
    names: dict[str, int] = {}
    tokens: dict[str, int] = {}
    for i, client in enumerate(project.spec.publish.clients):
        base = ("publish", "clients", i)
        if client.name in names:
            report(project, (*base, "name"), f"caller {client.name!r} is listed twice (first as "
                                             f"publish.clients[{names[client.name]}]); the audit log could not "
                                             "tell them apart", hint="give each caller its own name")
        names.setdefault(client.name, i)
        if client.token_env in tokens:
            report(project, (*base, "token_env"), f"{client.token_env} is already the token of "
                                                  f"publish.clients[{tokens[client.token_env]}]; one token would "
                                                  "authenticate two callers", hint="give each caller its own variable")
        tokens.setdefault(client.token_env, i)
        for j, role in enumerate(client.roles):
            typo = did_you_mean(role, [s.ORCHESTRATOR_ROLE]) if role != s.ORCHESTRATOR_ROLE else None
            if typo is not None:  # other roles are a person's own words: such a caller reads discovery only
                report(project, (*base, "roles", j), f"role {role!r} is not {s.ORCHESTRATOR_ROLE!r}: `mcptrain "
                                                     f"serve` answers this caller 403 for the datasets",
                       severity="warning", hint=typo)


def _new_service(name: str) -> str:
    return f"for a new service, first write its specs/<dir>/service.yaml ('name: {name}'), then `mcptrain import mcp {name}`"
