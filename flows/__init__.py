"""Prefect wiring and the CLI. Holds no business logic; prefect is imported lazily."""
