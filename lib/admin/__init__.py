"""Users and roles, backups and restore, the audit log reader, settings writes."""
