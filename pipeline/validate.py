"""The answer against the user's schema: after unwrapping, a document's values must satisfy it (nulls
allowed, since a field may be absent from the document)."""

from __future__ import annotations

from schemas.catalog import ExtractionSchema, answer_schema


def answer_validator(schema: ExtractionSchema):
    """A jsonschema validator for documents' answers: the user's schema with nulls allowed."""
    import jsonschema

    return jsonschema.validators.validator_for(schema.json_schema)(answer_schema(schema.json_schema))


def answer_problem(answer: dict, validator) -> str | None:
    """First way the unwrapped answer breaks the schema of `validator`, or None: jsonschema's message with
    a long value shortened (the reason comes after the value) and the limit a length check broke."""
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(answer))
    if error is None:
        return None
    message = error.message
    value = repr(error.instance)
    if len(value) > 60:
        message = message.replace(value, _shortened(error.instance), 1)
    limits = {"maxItems": "at most {} items", "minItems": "at least {} items",
              "maxLength": "at most {} characters", "minLength": "at least {} characters"}
    if error.validator in limits:
        message += f" (the schema allows {limits[error.validator].format(error.validator_value)})"
    return f"{error.json_path}: {message[:200]}"


def _shortened(value) -> str:
    """A value for a one-line message: a list or object by its size, text cut at 40 characters."""
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"an object of {len(value)} fields"
    text = repr(value)
    return text[:40] + "...'" if isinstance(value, str) else text[:40] + "..."
