// Replaced by the worker sources (issue #3).
