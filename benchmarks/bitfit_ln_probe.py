"""Probe, not a strategy: BitFit that also trains the LayerNorm gains. Does it close BitFit's gap to `full`
on SST-2 with the packaged MiniLM? Runs sweep.py's own loop with BitFit's `keep` widened to the norm weights.

    python benchmarks/bitfit_ln_probe.py > benchmarks/results/sweeps/sst2-bitfit-ln.jsonl

Seed 0, the 2-core machine, 2026-11-27: test accuracy 0.8349 and, at batch 16, 0.8372, against 0.8326 and
0.8360 for plain BitFit (`sweep.py sst2 --grid bitfit`): +0.2 and +0.1 point against a gap of 3.8, so it was not
built as an option (it would need a second save format for the gains).
"""

from __future__ import annotations

import re
import sys

import sweep
from headstart.strategies.bitfit import BitFit

NORM_WEIGHT = re.compile(r"(norm|ln_\w*)\.weight$", re.IGNORECASE)  # BERT LayerNorm, DistilBERT *_layer_norm, GPT-2 ln_*

BitFit.keep = lambda self, name: name.endswith("bias") or bool(NORM_WEIGHT.search(name))
sweep.GRIDS["bitfit-ln"] = [
    ("bitfit+ln", dict(strategy="bitfit")),
    ("bitfit+ln bs16", dict(strategy="bitfit", batch_size=16)),
]

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "sst2", "--grid", "bitfit-ln", *sys.argv[1:]]
    sweep.main()
