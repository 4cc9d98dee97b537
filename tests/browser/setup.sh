#!/usr/bin/env bash
# Test set-up of the page tests: Debian's chromium (headless) and a font, with apt-get.
# Exits 0 when chromium is there (already, or installed now); otherwise non-zero with the reason on
# stderr, and the page tests are skipped printing it. CI runs as root on Debian.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "chromium is not installed and installing it needs root (apt-get install chromium)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is not installed and there is no apt-get to install it (not Debian?)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || { echo "apt-get update failed (no package registry?)" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2 \
    || { echo "apt-get install chromium failed" >&2; exit 1; }
command -v chromium >/dev/null 2>&1 || { echo "chromium still not on the PATH after apt-get" >&2; exit 1; }
