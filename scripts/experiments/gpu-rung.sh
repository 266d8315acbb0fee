#!/usr/bin/env bash
# Single-rung LJ-13 experiments (issue 14's diagnosis) on the GPU machine, three at once:
#   bash scripts/pack-device.sh && bash scripts/experiments/pack-rung.sh      (here)
#   bash .device/run.sh bash scripts/experiments/gpu-rung.sh                   (there; results under $OUT)
# pack-rung.sh bundles scripts/experiments/rung.ts into .device/rung.mjs and copies the two
# reference samples it reads into .device/data (the machine has no ../shared).
set -uo pipefail
OUT=${OUT:-/tmp/pita-rung}
mkdir -p "$OUT"
D=.device/data
AT=${AT:-500,1000,2000,4000}
LIMIT=${LIMIT:-480}
common=(--config configs/lj13.quick.yaml --from 1.2 --to 1 --data $D/train_T1.2.npy --ref $D/val_T1.0.npy
  --set device=webgpu --set training.batchSize=512 --set annealing.particles=2000 --set annealing.chunkSize=2000 --gamma1 --at "$AT")
run() { name=$1; shift; timeout "$LIMIT" node .device/rung.mjs "${common[@]}" "$@" --out "$OUT/$name.jsonl" > "$OUT/$name.log" 2>&1; echo "$name exit $?" >> "$OUT/$name.log"; }
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader -l 5 > "$OUT/smi.txt" 2>&1 &
smi=$!
run base &
run steps500 --set annealing.steps=500 &
run hidden64 --set model.options.hidden=64 &
wait %2 %3 %4
kill $smi 2>/dev/null
for f in "$OUT"/*.log; do echo "== $f"; grep -v '^    at ' "$f" | tail -12; done
echo "== smi"; sort -t, -k1 -n "$OUT/smi.txt" | tail -3
