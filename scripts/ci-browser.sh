#!/usr/bin/env bash
# Browser and fonts for the report tests (test/report/browser.test.ts) and
# `pita report --png`: Debian's chromium at /usr/bin/chromium (never a
# browser downloaded by playwright) and a font for resvg (DejaVu).
# Installs only what is missing; needs apt-get (as root or via sudo).
set -euo pipefail

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
if ! find /usr/share/fonts /usr/local/share/fonts -type f \( -iname '*.ttf' -o -iname '*.otf' -o -iname '*.ttc' \) 2>/dev/null | grep -q .; then
  packages+=(fonts-dejavu-core)
fi
if [ ${#packages[@]} -eq 0 ]; then
  echo "ci-browser: chromium and fonts already present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "ci-browser: need root or sudo to install ${packages[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "ci-browser: installing ${packages[*]}"
$sudo apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${packages[@]}"
/usr/bin/chromium --version
