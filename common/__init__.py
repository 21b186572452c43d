"""The ground floor: what every app shares and nothing of the project's own (no app imports here)."""
