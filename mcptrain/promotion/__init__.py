"""Promotion: the model registry in git, semantic versions, the promotion pull request,
release tags and CODEOWNERS (see docs/architecture.md)."""
