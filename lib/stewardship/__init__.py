"""Import, quality rules, the review queue, duplicates, steward edits."""
