// Replaced by provider state and request rewrite sources.
