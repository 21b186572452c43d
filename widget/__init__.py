"""The customer's channel: the chat widget's sessions (who a visitor is, which thread is theirs),
its websocket, and the demo shop page that embeds it. A transport: it translates frames and
requests into the runtime's services and nothing more."""
