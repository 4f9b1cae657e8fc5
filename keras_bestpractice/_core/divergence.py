"""The two divergence factors, and why they differ.

Both say "the loss is now this many times its best value", but they judge
different things:

- `GUARD_DIVERGENCE_FACTOR` (3.0) is `DivergenceGuard`'s online rule. It reads
  Keras's running mean of the loss *inside* an epoch, batch after batch, and must
  act before the run is lost but never on an ordinary noisy stretch: early in an
  epoch the running mean averages a handful of batches and swings well above
  the best epoch mean on healthy runs (small batches, heavy Dropout). So it
  takes a wider margin, and `patience` (10) consecutive checks above it.
- `DIAGNOSE_DIVERGENCE_FACTOR` (2.0) is `diagnose()`'s offline rule. It reads
  whole epochs after the fact (means over every batch, far less noisy) and also
  requires the loss to have given back a quarter of what it had learned
  (`rules.DIVERGENCE_GIVEBACK`), so a lower factor is safe there and catches a
  run that doubled its loss by the end.

Near zero a factor alone misleads (issue #26): a loss that reached 0.0165 and runs at
0.076 after a recovery is 4.6x its best, yet a model that learned nothing has a loss of
ln C. So the guard also needs the loss to be back above `GUARD_NEAR_ZERO_FRACTION` (half)
of the level it started from: the loss's reference level where it is known (the chance
level of a classifier, the targets' variance for MSE), else the first settled value of
the run. A blow-up passes both; a wobble near zero passes neither.

Lightning's `EarlyStopping(divergence_threshold=...)` is neither: it is an
absolute value of the monitored quantity ("stop as soon as it is worse than
this"), not a factor of the best value.
"""

from __future__ import annotations

GUARD_DIVERGENCE_FACTOR = 3.0
GUARD_NEAR_ZERO_FRACTION = 0.5
DIAGNOSE_DIVERGENCE_FACTOR = 2.0
