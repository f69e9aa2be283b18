"""Celery tasks of monitoring: thin wrappers that build their input and call a service.

None yet: rule evaluation and graph checks come with the monitoring rules."""
