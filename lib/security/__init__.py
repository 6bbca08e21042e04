"""Roles and require(), page access, the audit writer, privacy primitives."""
