#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing (Playwright
# drives it with executable_path; downloading browsers does not work here).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium is not installed and cannot be installed here (not root / no apt-get):" >&2
  echo "the browser tests will skip outside CI (and fail in CI)." >&2
fi
