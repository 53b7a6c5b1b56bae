"""Write collab/static/collab/codes.json and codes.js from collab/codes.py (run after changing a code).

python scripts/export_codes.py          # rewrite both files
python scripts/export_codes.py --check  # exit 1 if either is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collab.codes import to_javascript, to_json  # noqa: E402

STATIC = ROOT / "collab" / "static" / "collab"
FILES = {STATIC / "codes.json": to_json(), STATIC / "codes.js": to_javascript()}


def main(argv: list[str]) -> int:
    stale = [path for path, text in FILES.items() if not path.exists() or path.read_text("utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run python scripts/export_codes.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(FILES[path], "utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
