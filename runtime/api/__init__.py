"""The Assistants-compatible REST API (/v1): OpenAI's Assistants API v2 wire format over Concierge's runtime.

Views are thin: they authenticate the API key, validate like the API, fetch the caller's objects
(support.api.access), call support.lifecycle (or support.api.services for plain configuration writes)
and answer with support.shapes. Streaming answers relay the runtime's events (support.api.sse).
"""
