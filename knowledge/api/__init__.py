"""/v1/files and /v1/vector_stores: OpenAI's Files and Vector Stores APIs over the knowledge app.

Views are thin, as the runtime's /v1 views (runtime.api) they build on: the API key, the per-key
throttle and the error envelope come from runtime.api.base.V1View; the caller's objects from
knowledge.access; every change goes through knowledge.services; objects from knowledge.objects.
"""
