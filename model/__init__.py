"""Model stage: one backend interface (count tokens, generate a batch) and its implementations.
Imports only torch/transformers-side libraries and `schemas`."""
