// Replaced by upstream client sources.
