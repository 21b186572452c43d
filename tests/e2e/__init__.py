"""End-to-end tests: a live daphne (tests/e2e/conftest.py), the official SDKs, a real browser."""
