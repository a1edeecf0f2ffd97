"""The reconciler: stage records, the stages after `build`, and the plan `reconcile` runs."""
