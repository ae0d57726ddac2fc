#!/usr/bin/env bash
# Multi-seed sweep on a lent GPU (device tool): every (grid, label, seed) in its own process, 6 at a time.
# The packaged MiniLM rounded to float16 and the data travel in the ignored .gpu/ folder (carry it).
# Usage there: bash benchmarks/gpu_seeds.sh OUTDIR
set -u
out=${1:-/tmp/seeds}; mkdir -p "$out"
export HEADSTART_DATA=$PWD/.gpu/data PYTHONPATH=$PWD/src:$PWD/.gpu/site HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=2
jobs=()
for ds in sst2 banking77; do
  labels=$(python3 -c "import sys; sys.path.insert(0,'benchmarks'); import sweep; print('\n'.join(l for l,_ in sweep.GRIDS['seeds-$ds']))")
  seeds="0 1 2 3 4"; [ $ds = banking77 ] && seeds="0 1 2"
  while IFS= read -r label; do for s in $seeds; do jobs+=("$ds|$label|$s"); done; done <<<"$labels"
done
printf '%s\n' "${jobs[@]}" | xargs -P 6 -I{} bash -c '
  IFS="|" read -r ds label seed <<<"{}"
  python3 benchmarks/sweep.py $ds --grid seeds-$ds --backbone .gpu/minilm --seed $seed --only "$label" \
    >>"'"$out"'/$ds.jsonl" 2>>"'"$out"'/err.log"'
