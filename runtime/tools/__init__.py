"""Server-side tools: registered in code, attached to assistants by name (Assistant.server_tools)."""
