"""The `basin` command: log in, submit a checkpoint, follow its status, read the leaderboard."""
__version__ = "0.1.0"
