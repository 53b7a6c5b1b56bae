"""``python -m collab.client``: see ``collab.client.cli``. Without websockets, says how to run it."""

from __future__ import annotations

import sys


def run() -> int:
    try:
        from .cli import main
    except ModuleNotFoundError as exc:
        from . import is_websockets, missing_websockets_message

        if not is_websockets(exc):
            raise
        print(f"collab: {missing_websockets_message()}", file=sys.stderr)
        return 1
    return main()


if __name__ == "__main__":
    sys.exit(run())
