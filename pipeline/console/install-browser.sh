#!/usr/bin/env bash
# Install headless Chromium, its WebDriver and a CJK font (Debian packages
# chromium, chromium-driver, fonts-wqy-zenhei) for the console's browser test;
# the font makes the Chinese pages legible in screenshots.  Idempotent and
# quiet: does nothing when all are present.  Root + apt only; never downloads a
# browser any other way.
set -euo pipefail

have_cjk_font() { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family)" ]; }

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && have_cjk_font; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: chromium/chromedriver/CJK font missing; as root on Debian/Ubuntu run:" >&2
    echo "  apt-get install chromium chromium-driver fonts-wqy-zenhei" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver fonts-wqy-zenhei; } >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
