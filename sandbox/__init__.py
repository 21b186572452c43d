"""code_interpreter's sandbox: untrusted Python in bubblewrap, in persistent sessions (sessions.py)."""
