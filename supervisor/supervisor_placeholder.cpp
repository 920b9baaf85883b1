// Replaced by the supervisor sources (issue #4).
