"""Write the settings reference of docs/integration.md from collab/conf.py (run after changing a setting).

python scripts/export_settings.py          # rewrite the table
python scripts/export_settings.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collab.conf import reference_table  # noqa: E402

DOC = ROOT / "docs" / "integration.md"
START, END = "<!-- settings:start (scripts/export_settings.py) -->\n", "<!-- settings:end -->\n"


def with_table(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + START + reference_table() + END + tail


def main(argv: list[str]) -> int:
    text = DOC.read_text("utf-8")
    fresh = with_table(text)
    if "--check" in argv:
        if fresh != text:
            print(
                "docs/integration.md's settings table is stale: run python scripts/export_settings.py",
                file=sys.stderr,
            )
        return 1 if fresh != text else 0
    if fresh != text:
        DOC.write_text(fresh, "utf-8")
        print("wrote docs/integration.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
