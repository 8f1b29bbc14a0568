#!/usr/bin/env python
"""Django's command-line utility for Basin (`python manage.py demo` starts the embedded demo)."""
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basin.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise SystemExit("Basin is not installed in this Python: run `pip install -e .` first.") from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
