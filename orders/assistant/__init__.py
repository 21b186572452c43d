"""The shop as the assistant sees it: its order tools, the checks that prove an order is the
customer's, and the shop's own assistant (persona). It plugs into the runtime through the tool
registry and runtime.hooks; the rest of orders/ knows nothing of the runtime.
"""
