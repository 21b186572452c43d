"""The runtime's Prometheus metrics: runs, tools and model calls, as the engine sees them.

Defined here, where they are measured; served by ops (/metrics). With PROMETHEUS_MULTIPROC_DIR set
in the environment of every process (daphne and the Celery workers of one host), prometheus_client
writes them to files there and /metrics adds up the host's processes.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Seconds, from a fast tool or first token to a long run waiting on a slow model.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

RUNS = Counter("concierge_runs", "Runs come to rest, by their status then.", ["status"])
RUN_SECONDS = Histogram(
    "concierge_run_seconds", "From a run's creation to its coming to rest.", buckets=LATENCY_BUCKETS
)
TOOL_CALLS = Counter("concierge_tool_calls", "Server-side tool calls, by tool and outcome.", ["tool", "outcome"])
TOOL_SECONDS = Histogram(
    "concierge_tool_seconds", "Server-side tool calls' duration.", ["tool"], buckets=LATENCY_BUCKETS
)
MODEL_CALLS = Counter("concierge_model_calls", "Model calls, by outcome (ok, or the failure's code).", ["outcome"])
MODEL_RETRIES = Counter("concierge_model_retries", "Model call attempts retried, by the failure's code.", ["code"])
MODEL_FIRST_TOKEN_SECONDS = Histogram(
    "concierge_model_first_token_seconds",
    "From sending a model request to its first streamed chunk (the last attempt's).",
    buckets=LATENCY_BUCKETS,
)
MODEL_TOKENS = Counter("concierge_model_tokens", "Tokens of completed model calls.", ["kind"])
MODEL_COST = Counter(
    "concierge_model_cost", "Cost of completed model calls at COST_PER_MILLION_*_TOKENS (in that currency)."
)
EVENTS_UNPUBLISHED = Counter(
    "concierge_events_unpublished",
    "Thread events, sequence numbers and stream snapshots Redis did not take (it was down), by what failed.",
    ["what"],
)
REDIS_OUTAGES = Counter("concierge_redis_outages", "Times this process found Redis, the live wire, not answering.")
SOCKETS_RESYNCED = Counter(
    "concierge_sockets_resynced", "Sockets sent the conversation again from the database after Redis came back."
)
