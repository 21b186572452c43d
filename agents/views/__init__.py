"""The agent console's HTTP side: pages (pages.py), actions (actions.py), who may use them (access.py)."""
