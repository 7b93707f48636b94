"""What the process tells its operators: Prometheus metrics and logs (text or JSON)."""
