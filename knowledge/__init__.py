"""The shop's knowledge, a plug-in: files, vector stores, ingestion, hybrid search and the
file_search tool. It plugs into the runtime through the tool registry and imports neither agents
nor orders."""
