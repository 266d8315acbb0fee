#!/usr/bin/env bash
# CI set-up for the WebGPU tests: a CPU Vulkan driver (Mesa lavapipe) that Dawn accepts.
# Debian 12's own mesa-vulkan-drivers (22.3) is too old for Dawn; bookworm-backports (25.x)
# works. The backports suite is added with the same URI as the machine's existing bookworm
# source. Idempotent: does nothing when a lavapipe ICD from backports is already installed.
set -euo pipefail
have() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q bpo; }
if have; then echo "ci-vulkan: lavapipe $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) already installed"; exit 0; fi
src=/etc/apt/sources.list.d/debian.sources
list=/etc/apt/sources.list.d/pita-backports.sources
if [ ! -f "$list" ]; then
  uri=$(awk '/^URIs:/ {print $2; exit}' "$src")
  [ -n "$uri" ] || { echo "ci-vulkan: no URIs line in $src" >&2; exit 1; }
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$list"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
echo "ci-vulkan: installed lavapipe $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
