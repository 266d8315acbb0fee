#!/usr/bin/env bash
# Bundles the single-rung experiment for the GPU machine (which has only production
# node_modules) and copies the LJ-13 samples it reads into the git-ignored .device/.
set -euo pipefail
npx esbuild scripts/experiments/rung.ts --bundle --platform=node --format=esm --packages=external --outfile=.device/rung.mjs --log-level=warning
mkdir -p .device/data
cp ../shared/data/lj13/train_T1.2.npy ../shared/data/lj13/val_T1.0.npy .device/data/
du -sh .device
