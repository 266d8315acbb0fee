#!/usr/bin/env bash
# Packs .device/ for the GPU machine (../shared/device/pack.sh), then drops the Dawn builds of other
# platforms from the packed node_modules (the copied tree may hold 64 MiB in all).
set -euo pipefail
npm run build --silent
bash ../shared/device/pack.sh
tmp=$(mktemp -d)
tar -C "$tmp" -xJf .device/node_modules.tar.xz
rm -rf "$tmp"/node_modules/webgpu/dist/{darwin-universal,linux-arm64,win32-arm64,win32-x64}
tar -C "$tmp" -cJf .device/node_modules.tar.xz node_modules
rm -rf "$tmp"
du -sh .device dist
