"""CLI command groups, one module per feature area, each with `register(subparsers)`."""
