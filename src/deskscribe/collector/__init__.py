"""The collector: enrolment, uploads and the audit log, over HTTP, on SQLite or PostgreSQL."""
