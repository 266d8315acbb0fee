#!/usr/bin/env bash
# The GPU checks of issue 16 as one command, for the GPU machine:
#   bash scripts/pack-device.sh                      (here: builds dist/, packs .device/)
#   bash .device/run.sh bash scripts/gpu-bench.sh    (there; results in $OUT/results.tgz)
# Its parts, most needed first (PARTS=rows,products,... runs some of them):
#   rows      pita bench on WebGPU (the four rows) and PyTorch CUDA on the same workloads, same run, and each
#             row's ratio (progress.txt: "pita / PyTorch speed", median step against median step); the
#             DiT row's first step times every variant of pita's tiled kernel on its large products and
#             keeps the fastest (`matmul variant` lines; docs/tensor-engine.md §2.31);
#   products  the DiT's matrix products each alone (pita bench --only ditproducts, GPU time) on pita's
#             tiled kernel, every variant timed on each, on tfjs's kernels, and with the split weight
#             gradients' operands never swapped (PITA_MATMUL_SWAP=0), beside PyTorch's
#             (products_bench.py; progress.txt lists each product's TFLOP/s beside PyTorch's:
#             scripts/gpu-summary.mjs), and the DiT row on one variant for all its products;
#   profile   where the GPU time goes: one more step of each row with every kernel timed (--profile);
#   knobs     the rows and the products without Dawn's index clamps in shaders (PITA_ROBUSTNESS=0);
#             the rows again with one knob turned back: tfjs's matmul kernels (PITA_MATMUL=tfjs) and
#             transposes (PITA_TRANSPOSE=tfjs), one
#             thread per row (PITA_LANES=0), sums without trees (PITA_SUM_TREE=0) and in passes of 16
#             and 256 numbers a thread (PITA_SUM_CHUNK),
#             one command buffer a step (PITA_SUBMIT_EVERY=0), the optimiser
#             per parameter with copied weight blocks (PITA_FLAT=0 PITA_VIEWS=0, also whole training steps);
#   dit512    the DiT at B=512, pita and PyTorch;
#   steps     whole training steps (PITA's Trainer, EGNN LJ-13, B=512) one at a time and through
#             Trainer.train (each submitted before the one before is read), and whole annealing steps
#             (evaluations, host work, round trips) at two chunk sizes;
#   parity    the same small-batch steps on WebGPU and on the CPU (`pita bench --against-cpu`);
#   dw4       whole DW-4 quick runs on WebGPU (seeds DW4_SEEDS, default "0 1"; RESULTS.md, "On WebGPU"):
#             their distance W2 against the CPU runs' spread, with whatever time the command has left.
# A dry run anywhere (lavapipe): BATCH=8 STEPS=1 DW4_SEEDS= bash scripts/gpu-bench.sh shrinks every
# workload and skips the DW-4 runs (2 h each on lavapipe).
set -uo pipefail
OUT=${OUT:-/tmp/pita-gpu}
SIZE=${BATCH:+--batch $BATCH}
# Everything is written under $W. Only 8 files come back from the GPU machine's $OUT, so each log line
# also bundles $W into $OUT/results.tgz (the DW-4 runs without their samples and checkpoints): a run
# stopped at its time limit still returns all it finished. Unpack with `tar -xzf results.tgz`.
W=$(mktemp -d)
mkdir -p "$OUT"
bundle() { tar -C "$W" -czf "$OUT/results.tgz.part" --exclude=samples --exclude=checkpoints . && mv "$OUT/results.tgz.part" "$OUT/results.tgz"; }
log() { echo "[$(date +%T)] $*" | tee -a "$W/progress.txt"; bundle; }
# PARTS (comma-separated, default all) runs some parts only, e.g. the rest after a run stopped at its time limit.
part() { [ -z "${PARTS:-}" ] || [[ ",${PARTS// /,}," == *",$1,"* ]]; }
parts=${PARTS:-}
for p in ${parts//,/ }; do
  case $p in rows | products | profile | knobs | dit512 | steps | parity | dw4) ;; *) echo "gpu-bench: unknown part '$p' (rows, products, profile, knobs, dit512, steps, parity, dw4)" >&2; exit 2 ;; esac
done
nvidia-smi > "$W/nvidia-smi.txt" 2>&1
python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))' > "$W/torch.txt" 2>&1
log "start: node $(node --version), torch: $(tail -1 "$W/torch.txt"), parts: ${PARTS:-all}"
if part rows; then
  # Peak GPU memory of the pita bench, sampled by nvidia-smi (device memory in use, all processes).
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$W/gpu-mem.txt" 2>/dev/null &
  smi=$!
  log "rows: pita webgpu bench"
  timeout 300 node bin/pita.js bench --device webgpu $SIZE --only egnn512,anneal5000,ditfull2048,mlp512 --steps ${STEPS:-20} --warmup 3 --json "$W/pita-webgpu.json" > "$W/pita-webgpu.txt" 2>&1
  kill $smi 2>/dev/null
  log "pita peak GPU memory (MiB): $(sort -n "$W/gpu-mem.txt" | tail -1)"
  log "rows: matmul variants chosen (count, variant): $(grep '^matmul variant' "$W/pita-webgpu.txt" | cut -f2 | sort | uniq -c | tr -s ' \n' ' ')"
  log "rows: pytorch cuda bench"
  for w in egnn512 anneal5000 ditfull2048 mlp512; do
    timeout 120 python3 bench/pytorch/nets_bench.py "$w" $SIZE --device cuda --steps ${STEPS:-20} --warmup 3 >> "$W/torch-cuda.jsonl" 2>> "$W/torch-cuda.err"
  done
  # The rows' ratios, median step against median step (BENCHMARKS.md's table).
  log "rows: pita / PyTorch speed: $(node scripts/gpu-summary.mjs rows "$W/pita-webgpu.json" "$W/torch-cuda.jsonl" 2>&1)"
fi
if part products; then
  log "products: the DiT's products each alone, on pita's tiled kernel (every variant timed on each, the fastest kept: 'matmul variant' lines) and on tfjs's kernels, and PyTorch's"
  for v in auto tfjs noswap; do
    case $v in tfjs) env=PITA_MATMUL=tfjs ;; noswap) env=PITA_MATMUL_SWAP=0 ;; *) env=PITA_GEMM=auto ;; esac
    env $env timeout 150 node bin/pita.js bench --device webgpu $SIZE --only ditproducts --steps 5 --warmup 2 --json "$W/products-$v.json" > "$W/products-$v.txt" 2>&1
  done
  timeout 120 python3 bench/pytorch/products_bench.py "$W/products-auto.json" --device cuda > "$W/products-torch.jsonl" 2>> "$W/torch-cuda.err"
  log "GPU time of all ten products: $(for f in "$W"/products-*.txt; do printf '%s %s; ' "$(basename "$f" .txt)" "$(awk -F'\t' '/^ditproducts/ { split($2, t, " "); s += t[1] } END { printf "%.3f ms", s }' "$f")"; done)"
  log "products: fastest variant (count, variant): $(grep '^matmul variant' "$W/products-auto.txt" | cut -f2 | sort | uniq -c | tr -s ' \n' ' ')"
  log "products: TFLOP/s on pita's kernels (auto) and PyTorch's: $(node scripts/gpu-summary.mjs products "$W/products-auto.json" "$W/products-torch.jsonl" 2>&1)"
  for v in blocked128x64 blocked128; do
    PITA_GEMM=$v timeout 120 node bin/pita.js bench --device webgpu $SIZE --only ditfull2048 --steps ${STEPS:-5} --warmup 2 --json "$W/pita-webgpu-dit-$v.json" > "$W/pita-webgpu-dit-$v.txt" 2>&1
  done
  log "the DiT row on one variant for every product (the rows part chose per product): $(for v in blocked128x64 blocked128; do printf '%s %s; ' $v "$(grep '^ditfull2048' "$W/pita-webgpu-dit-$v.txt" | cut -f2)"; done)"
fi
if part profile; then
  log "profile: pita webgpu kernel profile"
  timeout 240 node bin/pita.js bench --device webgpu $SIZE --only egnn512,anneal5000,ditfull2048,mlp512 --steps 2 --warmup 2 --profile --json "$W/pita-webgpu-profile.json" > "$W/pita-webgpu-profile.txt" 2>&1
fi
if part knobs; then
  log "knobs: shaders without Dawn's index clamps (PITA_ROBUSTNESS=0), the four rows and the DiT's products"
  PITA_ROBUSTNESS=0 timeout 150 node bin/pita.js bench --device webgpu $SIZE --only egnn512,anneal5000,ditfull2048,mlp512 --steps ${STEPS:-10} --warmup 3 --json "$W/pita-webgpu-no-robustness.json" > "$W/pita-webgpu-no-robustness.txt" 2>&1
  PITA_ROBUSTNESS=0 timeout 150 node bin/pita.js bench --device webgpu $SIZE --only ditproducts --steps 5 --warmup 2 --json "$W/products-no-robustness.json" > "$W/products-no-robustness.txt" 2>&1
  log "knobs: GPU time of all ten products without the clamps: $(awk -F'\t' '/^ditproducts/ { split($2, t, " "); s += t[1] } END { printf "%.3f ms", s }' "$W/products-no-robustness.txt"); the rows: $(grep -hP '^[a-z0-9]+\t[0-9.]+ ms/step' "$W/pita-webgpu-no-robustness.txt" | cut -f1,2 | tr '\t\n' ' ;')"
  log "knobs: tfjs's matmul kernels instead of pita's tiled one (PITA_MATMUL=tfjs), DiT and MLP rows"
  PITA_MATMUL=tfjs timeout 150 node bin/pita.js bench --device webgpu $SIZE --only ditfull2048,mlp512 --steps ${STEPS:-10} --warmup 3 --json "$W/pita-webgpu-tfjs-matmul.json" > "$W/pita-webgpu-tfjs-matmul.txt" 2>&1
  log "knobs: tfjs's transposes instead of pita's (PITA_TRANSPOSE=tfjs), DiT row"
  PITA_TRANSPOSE=tfjs timeout 120 node bin/pita.js bench --device webgpu $SIZE --only ditfull2048 --steps ${STEPS:-10} --warmup 3 --json "$W/pita-webgpu-tfjs-transpose.json" > "$W/pita-webgpu-tfjs-transpose.txt" 2>&1
  log "knobs: one thread per row (PITA_LANES=0) instead of lanes sharing each row, EGNN and DiT rows"
  PITA_LANES=0 timeout 150 node bin/pita.js bench --device webgpu $SIZE --only egnn512,ditfull2048 --steps ${STEPS:-10} --warmup 3 --json "$W/pita-webgpu-no-lanes.json" > "$W/pita-webgpu-no-lanes.txt" 2>&1
  log "knobs: sums without a workgroup's tree per output (PITA_SUM_TREE=0), EGNN, annealing and DiT rows; sums' passes of 16 and of 256 numbers a thread (PITA_SUM_CHUNK; 64 by default), EGNN and annealing rows"
  PITA_SUM_TREE=0 timeout 150 node bin/pita.js bench --device webgpu $SIZE --only egnn512,anneal5000,ditfull2048 --steps ${STEPS:-10} --warmup 3 --json "$W/pita-webgpu-sum-no-tree.json" > "$W/pita-webgpu-sum-no-tree.txt" 2>&1
  for c in 16 256; do
    PITA_SUM_CHUNK=$c timeout 120 node bin/pita.js bench --device webgpu $SIZE --only egnn512,anneal5000 --steps ${STEPS:-10} --warmup 3 --json "$W/pita-webgpu-sum-chunk-$c.json" > "$W/pita-webgpu-sum-chunk-$c.txt" 2>&1
  done
  log "knobs: the rows with PITA_SUM_TREE=0, PITA_SUM_CHUNK=16 and 256: $(for c in no-tree chunk-16 chunk-256; do printf '%s: %s; ' $c "$(grep -hP '^[a-z0-9]+\t[0-9.]+ ms/step' "$W/pita-webgpu-sum-$c.txt" | cut -f1,2 | tr '\t\n' ' ,')"; done)"
  log "knobs: each step in one command buffer (PITA_SUBMIT_EVERY=0) instead of pieces the GPU starts on while the host encodes the rest"
  PITA_SUBMIT_EVERY=0 timeout 150 node bin/pita.js bench --device webgpu $SIZE --only egnn512,anneal5000,ditfull2048,mlp512 --steps ${STEPS:-10} --warmup 3 --json "$W/pita-webgpu-one-buffer.json" > "$W/pita-webgpu-one-buffer.txt" 2>&1
  log "knobs: the optimiser in kernels per parameter and weight blocks copied (PITA_FLAT=0 PITA_VIEWS=0) instead of flat kernels and views, the rows and whole training steps"
  PITA_FLAT=0 PITA_VIEWS=0 timeout 150 node bin/pita.js bench --device webgpu $SIZE --only egnn512,anneal5000,ditfull2048,mlp512 --steps ${STEPS:-10} --warmup 3 --json "$W/pita-webgpu-no-flat.json" > "$W/pita-webgpu-no-flat.txt" 2>&1
  PITA_FLAT=0 PITA_VIEWS=0 timeout 150 node bin/pita.js bench --device webgpu --only train256 --batch ${BATCH:-512} --steps ${STEPS:-10} --warmup 3 --json "$W/pita-webgpu-train-no-flat.json" > "$W/pita-webgpu-train-no-flat.txt" 2>&1
fi
if part dit512; then
  log "dit512: the DiT at B=512, pita and PyTorch"
  timeout 120 node bin/pita.js bench --device webgpu --only ditfull2048 --batch ${BATCH:-512} --steps ${STEPS:-20} --warmup 3 --json "$W/pita-webgpu-dit512.json" > "$W/pita-webgpu-dit512.txt" 2>&1
  timeout 120 python3 bench/pytorch/nets_bench.py ditfull2048 --batch ${BATCH:-512} --device cuda --steps ${STEPS:-20} --warmup 3 >> "$W/torch-cuda.jsonl" 2>> "$W/torch-cuda.err"
fi
if part steps; then
  log "steps: whole training steps at B=512, one at a time and overlapped (Trainer.train)"
  timeout 150 node bin/pita.js bench --device webgpu --only train256 --batch ${BATCH:-512} --steps ${STEPS:-20} --warmup 3 --json "$W/pita-webgpu-train.json" > "$W/pita-webgpu-train.txt" 2>&1
  log "steps: whole annealing steps, 5000 particles in chunks of 512 (the default) and in one"
  for c in 512 5000; do
    timeout 150 node bin/pita.js bench --device webgpu --only annealstep5000 $SIZE --chunk $c --steps ${STEPS:-10} --warmup 2 --json "$W/pita-webgpu-annealstep-$c.json" > "$W/pita-webgpu-annealstep-$c.txt" 2>&1
  done
fi
if part parity; then
  log "parity: the same small-batch steps on the CPU (pita bench --against-cpu)"
  timeout 240 node bin/pita.js bench --device webgpu --against-cpu --batch 16 --steps 3 --warmup 1 --only egnn512,anneal5000,ditfull2048,mlp512 --json "$W/parity.json" > "$W/parity.txt" 2>&1
  log "$(grep -h 'check' "$W/parity.txt" | cut -f1,2 | tr '\t\n' ' ;')"
fi
if part dw4; then
  for s in ${DW4_SEEDS-0 1}; do
    log "dw4: pita run dw4 --scale quick --device webgpu --seed $s"
    timeout 240 node bin/pita.js run dw4 --scale quick --device webgpu --seed $s --quiet --out "$W/dw4-s$s" > "$W/dw4-s$s.txt" 2>&1
    log "$(grep -h '^PITA ' "$W/dw4-s$s.txt")"
  done
fi
log done
