"""The answer against the user's schema: after unwrapping, a document's values must satisfy it (nulls
allowed, since a field may be absent from the document)."""

from __future__ import annotations

from schemas.catalog import ExtractionSchema, answer_schema


def answer_validator(schema: ExtractionSchema):
    """A jsonschema validator for documents' answers: the user's schema with nulls allowed."""
    import jsonschema

    return jsonschema.validators.validator_for(schema.json_schema)(answer_schema(schema.json_schema))


def answer_problem(answer: dict, validator) -> str | None:
    """First way the unwrapped answer breaks the schema of `validator`, or None."""
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(answer))
    return None if error is None else f"{error.json_path}: {error.message[:160]}"
