"""The `basin` command: log in, submit a checkpoint, follow its status, read the leaderboard."""
BASE_VERSION = "0.1.0"
try:  # a wheel a Basin server built (basin.toolkit) carries its full version, the digest of its files
    from ._build import VERSION as __version__
except ImportError:  # running from Basin's own sources
    __version__ = BASE_VERSION
