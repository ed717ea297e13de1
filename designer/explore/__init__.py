"""Explore the design space by measurement (torch-free; the runtime loads only when a trial runs).

space.py       `--vary KEY=VALUES` axes, grid / random samples, a point applied to a design
pareto.py      the Pareto front (minimising latency, FMA, params, -accuracy)
store.py       TrialStore (the seam to the workspace) and its JSON-lines implementation
runner.py      trials in interleaved rounds (each measured by runtime.explore.run_trial), the summary table
ray_runner.py  the trials as Ray tasks on a cluster (`--ray ADDRESS`)
sweep.py       plan_sweep / run_sweep / confirm_sweep: what `mixdesign sweep`, the Explore page and the advisor call
estimate.py    `--measure estimate` (this machine's latency model per design) and the `--confirm K` checks
output.py      the table, CSV and JSON written for a sweep
"""
