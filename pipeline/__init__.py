"""Document stages: discover, ingest, packing, prompt, parse, grounding, outputs. Never imports prefect."""
