"""The Assistants-compatible REST API (/v1): OpenAI's Assistants API v2 wire format over Concierge's runtime.

Views are thin: they authenticate the API key, validate like the API, fetch the caller's objects
(runtime.api.access), call runtime.runs (or runtime.api.services for the assistants' configuration)
and answer with runtime.serializers. Streaming answers relay the runtime's events (runtime.api.sse).
"""
