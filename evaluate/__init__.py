"""`gemmadoc eval`: score an output folder against labelled documents (a reader of the output folder;
the pipeline never imports it)."""
