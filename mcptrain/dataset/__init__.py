"""The dataset: specs compiled into canonical rows, split, checked, exported and versioned."""
