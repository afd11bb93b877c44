#!/usr/bin/env bash
# Install promtool and amtool (Debian packages prometheus, prometheus-alertmanager)
# for tests/deploy.  Idempotent: does nothing when both tools are on PATH.
# Never starts the services: a policy-rc.d forbids init-script starts during the
# install, and anything systemd would start is stopped and disabled afterwards.
set -euo pipefail

if command -v promtool >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: promtool/amtool missing; as root on Debian/Ubuntu run:" >&2
    echo "  apt-get install prometheus prometheus-alertmanager" >&2
    exit 1
fi

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# installed by install-system-deps.sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null

# Where systemd does run, the packages enable their units: the tests need the
# binaries only.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus.service prometheus-alertmanager.service \
        >/dev/null 2>&1 || true
fi

promtool --version 2>&1 | head -n 1
amtool --version 2>&1 | head -n 1
