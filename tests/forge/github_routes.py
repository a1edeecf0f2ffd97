"""The GitHub emulator's endpoints and the payloads they answer (the fields github3.py reads)."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.forge.github_emulator import GitHubEmulator

from tests.forge.github_emulator import NOW, HTTPFault, _sha


# ---------------------------------------------------------------- payloads
def user(e: GitHubEmulator, login: str = "mcptrain-bot") -> dict[str, Any]:
    u = f"{e.url}/users/{login}"
    return {"login": login, "id": 1, "avatar_url": "", "gravatar_id": "", "url": u, "html_url": f"https://github.com/{login}",
            "type": "User", "site_admin": False, "events_url": f"{u}/events{{/privacy}}", "followers_url": f"{u}/followers",
            "following_url": f"{u}/following{{/other_user}}", "gists_url": f"{u}/gists{{/gist_id}}",
            "organizations_url": f"{u}/orgs", "received_events_url": f"{u}/received_events", "repos_url": f"{u}/repos",
            "starred_url": f"{u}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{u}/subscriptions"}


URLS = {  # github3.py reads every one of these (as URI templates where GitHub gives one)
    "archive_url": "{archive_format}{/ref}", "assignees_url": "assignees{/user}", "blobs_url": "git/blobs{/sha}",
    "branches_url": "branches{/branch}", "collaborators_url": "collaborators{/collaborator}",
    "comments_url": "comments{/number}", "commits_url": "commits{/sha}", "compare_url": "compare/{base}...{head}",
    "contents_url": "contents/{+path}", "git_commits_url": "git/commits{/sha}", "git_refs_url": "git/refs{/sha}",
    "git_tags_url": "git/tags{/sha}", "issue_comment_url": "issues/comments{/number}",
    "issue_events_url": "issues/events{/number}", "issues_url": "issues{/number}", "keys_url": "keys{/key_id}",
    "labels_url": "labels{/name}", "milestones_url": "milestones{/number}",
    "notifications_url": "notifications{?since,all,participating}", "pulls_url": "pulls{/number}",
    "releases_url": "releases{/id}", "statuses_url": "statuses/{sha}", "trees_url": "git/trees{/sha}",
    **{f"{k}_url": k for k in ("contributors", "deployments", "downloads", "events", "forks", "hooks", "languages",
                               "merges", "stargazers", "subscribers", "subscription", "tags", "teams")},
}


def repository(e: GitHubEmulator) -> dict[str, Any]:
    base = f"{e.url}/repos/{e.owner}/{e.name}"
    return {"url": base, "id": 7, "name": e.name, "full_name": f"{e.owner}/{e.name}",
            "owner": user(e, e.owner), "private": True, "fork": False, "description": None,
            "html_url": f"https://github.com/{e.owner}/{e.name}", "default_branch": "main",
            "archived": False, "clone_url": "", "git_url": "", "ssh_url": "", "svn_url": "",
            "mirror_url": None, "homepage": None, "language": None, "created_at": NOW,
            "updated_at": NOW, "pushed_at": NOW, "size": 1, "forks_count": 0, "network_count": 0,
            "open_issues_count": 0, "stargazers_count": 0, "subscribers_count": 0,
            "watchers_count": 0, "has_downloads": True, "has_issues": True, "has_pages": False,
            "has_projects": True, "has_wiki": True, **{k: f"{base}/{v}" for k, v in URLS.items()}}


def commit_data(e: GitHubEmulator, sha: str) -> dict[str, Any]:
    c = e.state.commits[sha]
    base = f"{e.url}/repos/{e.owner}/{e.name}"
    return {"sha": sha, "url": f"{base}/git/commits/{sha}", "html_url": f"https://github.com/x/commit/{sha}",
            "author": c["author"], "committer": c["committer"], "message": c["message"],
            "tree": {"sha": c["tree"], "url": f"{base}/git/trees/{c['tree']}"},
            "parents": [{"sha": p, "url": f"{base}/git/commits/{p}"} for p in c["parents"]],
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None}}


def short_commit(e: GitHubEmulator, sha: str) -> dict[str, Any]:
    base = f"{e.url}/repos/{e.owner}/{e.name}"
    return {"sha": sha, "url": f"{base}/commits/{sha}", "html_url": "", "comments_url": f"{base}/commits/{sha}/comments",
            "commit": commit_data(e, sha), "author": None, "committer": None,
            "parents": [{"sha": p} for p in e.state.commits[sha]["parents"]]}


def ref(e: GitHubEmulator, name: str) -> dict[str, Any]:
    base = f"{e.url}/repos/{e.owner}/{e.name}"
    sha = e.state.refs[name]
    kind = "tag" if sha in e.state.tags else "commit"
    return {"ref": name, "url": f"{base}/git/{name}", "node_id": "",
            "object": {"sha": sha, "type": kind, "url": f"{base}/git/{kind}s/{sha}"}}


def tree(e: GitHubEmulator, sha: str, recursive: bool) -> dict[str, Any]:
    base = f"{e.url}/repos/{e.owner}/{e.name}"
    paths = e.state.trees[sha]
    entries = [{"path": p, "mode": "100644", "type": "blob", "sha": b, "size": len(e.state.blobs[b]),
                "url": f"{base}/git/blobs/{b}"} for p, b in paths.items() if recursive or "/" not in p]
    dirs = sorted({p.rsplit("/", 1)[0] for p in paths if "/" in p})
    entries += [{"path": d, "mode": "040000", "type": "tree", "sha": "0" * 40, "url": ""} for d in dirs
                if recursive or "/" not in d]
    return {"sha": sha, "url": f"{base}/git/trees/{sha}", "tree": sorted(entries, key=lambda x: x["path"]),
            "truncated": False}


def label(e: GitHubEmulator, name: str) -> dict[str, Any]:
    data = e.state.labels[name]
    return {"id": abs(hash(name)) % 10**6, "url": f"{e.url}/repos/{e.owner}/{e.name}/labels/{name}", "name": name,
            "color": data["color"], "description": data.get("description"), "default": False}


def pull(e: GitHubEmulator, number: int) -> dict[str, Any]:
    p = e.state.pulls[number]
    base = f"{e.url}/repos/{e.owner}/{e.name}"
    repo = repository(e)

    def side(branch: str) -> dict[str, Any]:
        sha = e.state.refs.get(f"refs/heads/{branch}", p.get(f"last_{branch}", "0" * 40))
        return {"ref": branch, "label": f"{e.owner}:{branch}", "sha": sha, "user": user(e, e.owner), "repo": repo}

    issue = f"{base}/issues/{number}"
    return {"url": f"{base}/pulls/{number}", "id": 1000 + number, "number": number, "state": p["state"],
            "title": p["title"], "body": p["body"], "body_html": "", "body_text": "", "user": user(e),
            "labels": [label(e, n) for n in p["labels"]], "head": side(p["head"]), "base": side(p["base"]),
            "html_url": f"https://github.com/{e.owner}/{e.name}/pull/{number}", "issue_url": issue,
            "comments_url": f"{issue}/comments", "commits_url": f"{base}/pulls/{number}/commits",
            "review_comments_url": f"{base}/pulls/{number}/comments",
            "review_comment_url": f"{base}/pulls/comments{{/number}}", "statuses_url": f"{base}/statuses/x",
            "diff_url": "", "patch_url": "", "_links": {"comments": {"href": f"{issue}/comments"}},
            "active_lock_reason": None, "assignee": None, "assignees": [], "locked": False, "closed_at": None,
            "created_at": NOW, "updated_at": NOW, "merged_at": p.get("merged_at"), "merge_commit_sha": None,
            "additions": 0, "deletions": 0, "commits": 1, "comments": 0, "review_comments": 0, "draft": False,
            "mergeable": True, "mergeable_state": "clean", "merged": bool(p.get("merged_at")), "merged_by": None,
            "author_association": "NONE", "requested_reviewers": [], "requested_teams": []}


def issue(e: GitHubEmulator, number: int) -> dict[str, Any]:
    p = pull(e, number)
    base = f"{e.url}/repos/{e.owner}/{e.name}/issues/{number}"
    return {"url": base, "id": 2000 + number, "number": number, "title": p["title"], "body": p["body"],
            "body_html": "", "body_text": "", "state": p["state"], "labels": p["labels"], "user": p["user"],
            "assignee": None, "assignees": [], "milestone": None, "locked": False, "comments": 0,
            "comments_url": f"{base}/comments", "events_url": f"{base}/events", "labels_url": f"{base}/labels{{/name}}",
            "html_url": p["html_url"], "closed_at": None, "closed_by": None, "created_at": NOW, "updated_at": NOW,
            "pull_request": {"url": p["url"]}}


def comment(e: GitHubEmulator, cid: int) -> dict[str, Any]:
    c = e.state.comments[cid]
    base = f"{e.url}/repos/{e.owner}/{e.name}/issues"
    return {"id": cid, "url": f"{base}/comments/{cid}", "html_url": "", "issue_url": f"{base}/{c['issue']}",
            "body": c["body"], "body_html": "", "body_text": "", "user": user(e), "created_at": NOW,
            "updated_at": NOW, "author_association": "NONE"}


def status(e: GitHubEmulator, s: dict[str, Any]) -> dict[str, Any]:
    return {**s, "url": f"{e.url}/repos/{e.owner}/{e.name}/statuses/x", "created_at": NOW, "updated_at": NOW,
            "creator": user(e)}


# ---------------------------------------------------------------- endpoints
def route(e: GitHubEmulator, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
    prefix = f"/repos/{e.owner}/{e.name}"
    if method == "GET" and path.startswith("/repos/") and path.rstrip("/") == prefix:
        return 200, repository(e)
    if not path.startswith(prefix + "/"):
        raise HTTPFault(404, "Not Found")
    rest = path[len(prefix) + 1:]
    for verb, pattern, handler in ROUTES:
        m = re.fullmatch(pattern, rest)
        if m and verb == method:
            return handler(e, query, body, *m.groups())  # type: ignore[no-any-return]
    raise HTTPFault(404, "Not Found")


def get_ref(e: GitHubEmulator, q: dict[str, str], body: Any, name: str) -> tuple[int, Any]:
    if f"refs/{name}" not in e.state.refs:
        raise HTTPFault(404, "Not Found")
    return 200, ref(e, f"refs/{name}")


def create_ref(e: GitHubEmulator, q: dict[str, str], body: Any) -> tuple[int, Any]:
    name, sha = body["ref"], body["sha"]
    if name in e.state.refs:
        raise HTTPFault(422, "Reference already exists")
    if sha not in e.state.commits and sha not in e.state.tags:
        raise HTTPFault(422, "Object does not exist")
    e.state.refs[name] = sha
    return 201, ref(e, name)


def update_ref(e: GitHubEmulator, q: dict[str, str], body: Any, name: str) -> tuple[int, Any]:
    full = f"refs/{name}"
    if full not in e.state.refs:
        raise HTTPFault(422, "Reference does not exist")
    if body["sha"] not in e.state.commits:
        raise HTTPFault(422, "Object does not exist")
    if not body.get("force") and e.state.refs[full] not in e.ancestors(body["sha"]):
        raise HTTPFault(422, "Update is not a fast forward")
    e.state.refs[full] = body["sha"]
    return 200, ref(e, full)


def create_blob(e: GitHubEmulator, q: dict[str, str], body: Any) -> tuple[int, Any]:
    content = base64.b64decode(body["content"]) if body.get("encoding") == "base64" else body["content"].encode()
    sha = e._blob(content)
    return 201, {"sha": sha, "url": f"{e.url}/repos/{e.owner}/{e.name}/git/blobs/{sha}"}


def create_tree(e: GitHubEmulator, q: dict[str, str], body: Any) -> tuple[int, Any]:
    paths = dict(e.state.trees[body["base_tree"]]) if body.get("base_tree") else {}
    if body.get("base_tree") and body["base_tree"] not in e.state.trees:
        raise HTTPFault(422, "Invalid tree info")
    for entry in body["tree"]:
        if entry["sha"] is None:
            if entry["path"] not in paths:
                raise HTTPFault(422, "GitRPC::BadObjectState", [{"message": f"{entry['path']} is not in the base tree"}])
            del paths[entry["path"]]
        elif entry["sha"] not in e.state.blobs:
            raise HTTPFault(422, "Invalid tree info", [{"message": f"tree.sha {entry['sha']} is not a blob"}])
        else:
            paths[entry["path"]] = entry["sha"]
    return 201, tree(e, e._tree(paths), recursive=True)


def get_tree(e: GitHubEmulator, q: dict[str, str], body: Any, sha: str) -> tuple[int, Any]:
    if sha not in e.state.trees:
        raise HTTPFault(404, "Not Found")
    return 200, tree(e, sha, recursive=q.get("recursive") not in (None, "0", "false"))


def create_commit(e: GitHubEmulator, q: dict[str, str], body: Any) -> tuple[int, Any]:
    if body["tree"] not in e.state.trees or any(p not in e.state.commits for p in body["parents"]):
        raise HTTPFault(422, "Invalid tree or parent")
    author = body.get("author") or {"name": "token owner", "email": "owner@example.com"}
    sha = e._commit(body["tree"], body["parents"], body["message"], author, body.get("committer") or author)
    return 201, commit_data(e, sha)


def get_commit(e: GitHubEmulator, q: dict[str, str], body: Any, sha: str) -> tuple[int, Any]:
    if sha not in e.state.commits:
        raise HTTPFault(404, "Not Found")
    return 200, commit_data(e, sha)


def create_tag(e: GitHubEmulator, q: dict[str, str], body: Any) -> tuple[int, Any]:
    base = f"{e.url}/repos/{e.owner}/{e.name}"
    if body["object"] not in e.state.commits:
        raise HTTPFault(422, "Object does not exist")
    data = {"tag": body["tag"], "message": body["message"], "tagger": body["tagger"],
            "object": {"sha": body["object"], "type": body["type"], "url": f"{base}/git/commits/{body['object']}"}}
    sha = _sha("tag", data)
    e.state.tags[sha] = data
    return 201, {**data, "sha": sha, "url": f"{base}/git/tags/{sha}", "verification": {"verified": False}}


def compare(e: GitHubEmulator, q: dict[str, str], body: Any, base: str, head: str) -> tuple[int, Any]:
    resolve = {**{k.removeprefix("refs/heads/"): v for k, v in e.state.refs.items()}}
    b, h = resolve.get(base, base), resolve.get(head, head)
    if b not in e.state.commits or h not in e.state.commits:
        raise HTTPFault(404, "Not Found")
    behind_set = set(e.ancestors(b))
    ahead = [c for c in e.ancestors(h) if c not in behind_set]
    behind = [c for c in e.ancestors(b) if c not in set(e.ancestors(h))]
    ahead.reverse()  # oldest first, as GitHub lists them
    state = "identical" if not ahead and not behind else "ahead" if not behind else "behind" if not ahead else "diverged"
    return 200, {"url": "", "html_url": "", "permalink_url": "", "diff_url": "", "patch_url": "", "status": state,
                 "ahead_by": len(ahead), "behind_by": len(behind), "total_commits": len(ahead),
                 "base_commit": short_commit(e, b), "merge_base_commit": short_commit(e, b),
                 "commits": [short_commit(e, c) for c in ahead], "files": []}


def contents(e: GitHubEmulator, q: dict[str, str], body: Any, path: str) -> tuple[int, Any]:
    branch = q.get("ref", "main")
    sha = e.state.refs.get(f"refs/heads/{branch}", branch)
    blob = e.state.trees[e.state.commits[sha]["tree"]].get(path) if sha in e.state.commits else None
    if blob is None:
        raise HTTPFault(404, "Not Found")
    url = f"{e.url}/repos/{e.owner}/{e.name}/contents/{path}"
    return 200, {"type": "file", "encoding": "base64", "size": len(e.state.blobs[blob]), "name": path.rsplit("/", 1)[-1],
                 "path": path, "content": base64.b64encode(e.state.blobs[blob]).decode(), "sha": blob, "url": url,
                 "git_url": "", "html_url": "", "download_url": "", "_links": {"self": url}}


def list_pulls(e: GitHubEmulator, q: dict[str, str], body: Any) -> tuple[int, Any]:
    state = q.get("state", "open")
    found = [n for n, p in sorted(e.state.pulls.items()) if state == "all" or p["state"] == state]
    if q.get("head"):
        owner, _, branch = q["head"].partition(":")
        found = [n for n in found if owner == e.owner and e.state.pulls[n]["head"] == branch]
    if q.get("direction", "desc") == "desc":
        found.reverse()
    return 200, [pull(e, n) for n in found]


def create_pull(e: GitHubEmulator, q: dict[str, str], body: Any) -> tuple[int, Any]:
    head, base = body["head"].split(":")[-1], body["base"]
    for branch, field_ in ((head, "head"), (base, "base")):
        if f"refs/heads/{branch}" not in e.state.refs:
            raise HTTPFault(422, "Validation Failed", [{"resource": "PullRequest", "field": field_, "code": "invalid"}])
    if any(p["head"] == head and p["base"] == base and p["state"] == "open" for p in e.state.pulls.values()):
        raise HTTPFault(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                    "message": f"A pull request already exists for {e.owner}:{head}."}])
    number = max([*e.state.pulls, *[0]]) + 1
    e.state.pulls[number] = {"title": body["title"], "body": body.get("body") or "", "head": head, "base": base,
                             "state": "open", "labels": []}
    return 201, pull(e, number)


def get_pull(e: GitHubEmulator, q: dict[str, str], body: Any, number: str) -> tuple[int, Any]:
    if int(number) not in e.state.pulls:
        raise HTTPFault(404, "Not Found")
    return 200, pull(e, int(number))


def edit_pull(e: GitHubEmulator, q: dict[str, str], body: Any, number: str) -> tuple[int, Any]:
    p = e.state.pulls[int(number)]
    p.update({k: v for k, v in body.items() if k in ("title", "body", "state", "base")})
    return 200, pull(e, int(number))


def get_issue(e: GitHubEmulator, q: dict[str, str], body: Any, number: str) -> tuple[int, Any]:
    if int(number) not in e.state.pulls:
        raise HTTPFault(404, "Not Found")
    return 200, issue(e, int(number))


def replace_labels(e: GitHubEmulator, q: dict[str, str], body: Any, number: str) -> tuple[int, Any]:
    names = body["labels"] if isinstance(body, dict) else body
    for name in names:  # GitHub creates a label it has not seen, in grey
        e.state.labels.setdefault(name, {"color": "ededed"})
    e.state.pulls[int(number)]["labels"] = list(names)
    return 200, [label(e, n) for n in names]


def get_label(e: GitHubEmulator, q: dict[str, str], body: Any, name: str) -> tuple[int, Any]:
    if name not in e.state.labels:
        raise HTTPFault(404, "Not Found")
    return 200, label(e, name)


def create_label(e: GitHubEmulator, q: dict[str, str], body: Any) -> tuple[int, Any]:
    if body["name"] in e.state.labels:
        raise HTTPFault(422, "Validation Failed", [{"resource": "Label", "code": "already_exists", "field": "name"}])
    e.state.labels[body["name"]] = {"color": body["color"], "description": body.get("description") or ""}
    return 201, label(e, body["name"])


def list_comments(e: GitHubEmulator, q: dict[str, str], body: Any, number: str) -> tuple[int, Any]:
    return 200, [comment(e, c) for c, d in sorted(e.state.comments.items()) if d["issue"] == int(number)]


def create_comment(e: GitHubEmulator, q: dict[str, str], body: Any, number: str) -> tuple[int, Any]:
    cid = max([*e.state.comments, 0]) + 1
    e.state.comments[cid] = {"issue": int(number), "body": body["body"]}
    return 201, comment(e, cid)


def edit_comment(e: GitHubEmulator, q: dict[str, str], body: Any, cid: str) -> tuple[int, Any]:
    e.state.comments[int(cid)]["body"] = body["body"]
    return 200, comment(e, int(cid))


def create_status(e: GitHubEmulator, q: dict[str, str], body: Any, sha: str) -> tuple[int, Any]:
    if sha not in e.state.commits:
        raise HTTPFault(422, "No commit found for SHA: " + sha)
    if body["state"] not in ("pending", "success", "failure", "error"):
        raise HTTPFault(422, "Validation Failed", [{"resource": "Status", "field": "state", "code": "custom"}])
    s = {"id": sum(map(len, e.state.statuses.values())) + 1, "state": body["state"],
         "context": body.get("context", "default"), "description": body.get("description"),
         "target_url": body.get("target_url")}
    e.state.statuses.setdefault(sha, []).insert(0, s)
    return 201, status(e, s)


def list_statuses(e: GitHubEmulator, q: dict[str, str], body: Any, sha: str) -> tuple[int, Any]:
    return 200, [status(e, s) for s in e.state.statuses.get(sha, [])]


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", r"git/ref/(.+)", get_ref),
    ("POST", r"git/refs", create_ref),
    ("PATCH", r"git/refs/(.+)", update_ref),
    ("POST", r"git/blobs", create_blob),
    ("POST", r"git/trees", create_tree),
    ("GET", r"git/trees/([0-9a-f]+)", get_tree),
    ("POST", r"git/commits", create_commit),
    ("GET", r"git/commits/([0-9a-f]+)", get_commit),
    ("POST", r"git/tags", create_tag),
    ("GET", r"compare/(.+)\.\.\.(.+)", compare),
    ("GET", r"contents/(.+)", contents),
    ("GET", r"pulls", list_pulls),
    ("POST", r"pulls", create_pull),
    ("GET", r"pulls/(\d+)", get_pull),
    ("PATCH", r"pulls/(\d+)", edit_pull),
    ("GET", r"issues/(\d+)", get_issue),
    ("PUT", r"issues/(\d+)/labels", replace_labels),
    ("GET", r"issues/(\d+)/comments", list_comments),
    ("POST", r"issues/(\d+)/comments", create_comment),
    ("PATCH", r"issues/comments/(\d+)", edit_comment),
    ("GET", r"labels/(.+)", get_label),
    ("POST", r"labels", create_label),
    ("POST", r"statuses/([0-9a-f]+)", create_status),
    ("GET", r"statuses/([0-9a-f]+)", list_statuses),
]
