"""Telemetry for operators: Prometheus metrics, OpenTelemetry traces and request-scoped logs."""
