"""Is it the estimate's noise or the directions themselves? The exact gradient projected on pulled-back directions.

`bench/prompt_space.py` draws an estimator's directions where the decoder moves the prompted images most, `J^T r` for
coarse noise `r` on a 7 x 7 grid of tiles, and measures the loss along 9 of them; trained, it learns nothing on
Loc-MNIST 1:4. Here no direction is measured: each step takes the target's exact gradient (a measurement) and keeps
only its projection on `N` such directions, drawn afresh each step (`pulled_back_directions`), as a unit vector with
SPSA-GC's update at exact-gc's step size (a = 1), for exact-gc's 1,000 steps. Beside it, exact-gc itself from
`bench/query_efficiency.py`'s records. If the projection learns, what the pulled-back estimator lacks is a better
measurement of the gradient in those directions; if it does not, no estimate confined to them can learn.

    python bench/projected_gradient.py [--seeds 1 2 3] [--directions 90] [--workers 2]   # about 30 minutes a run
    python bench/projected_gradient.py --report-only

Every run is a run folder under --out (resumed or reported if there); the table is written to --out/table.md.
"""
import argparse
import statistics
from dataclasses import dataclass
from pathlib import Path

from blackvip.estimates import ExactGradient

from cosine_needed import accuracy_by_step
from prompt_space import hand_batch_to_estimates, pulled_back_directions
from query_efficiency import ESTIMATORS, row_config, run_all, run_once

TILES, STEPS = 7, 1000


@dataclass
class Projected(ExactGradient):
    ("A measurement: the exact gradient's projection on `n` pulled-back directions (`pulled_back_directions`, `tiles`) "
     "drawn afresh each step, as a unit vector (1 vector per step).")
    n: int = 90
    tiles: int = TILES
    prompter = x = None   # the step's prompter and batch, set by the learner below

    def estimate(self, loss_fn, w, k, generator=None):
        g, loss = super().estimate(loss_fn, w, k, generator)
        U = pulled_back_directions(self.prompter, self.x, self.n, self.tiles, generator).to(w)
        v = (U @ g) @ U
        return v / v.norm().clamp_min(1e-12), loss


def register():
    "Register `projected-exact-gc` (this measurement's row, SPSA-GC's update)."
    from blackvip.optimisers import OPTIMISERS, _stepping
    from blackvip.registry import HParam
    if 'projected-exact-gc' in OPTIMISERS: return
    OPTIMISERS.register('projected-exact-gc', "a measurement (bench/projected_gradient.py): exact-gc's gradient "
                        'projected on pj_directions pulled-back directions (needs the target\'s gradients)',
                        dict(pj_directions=HParam(90, 'pulled-back directions per step', low=1, strict=False)),
                        gradients=True)(lambda cfg: _stepping(Projected(1.0, cfg.pj_directions), cfg))
    hand_batch_to_estimates()


def config(seed, directions):
    "The run config of one run: exact-gc's settings on Loc-MNIST 1:4 with the projected gradient."
    ESTIMATORS['projected-exact-gc'] = {'a': ESTIMATORS['exact-gc']['a']}
    return row_config('projected-exact-gc', 'loc_mnist_1to4', {'pj_directions': directions}, seed=seed, steps=STEPS,
                      eval_every=100, ckpt_every=100)


def folder(root, directions, seed): return Path(root) / f'n{directions}' / f'seed{seed}'


def one_run(args):
    "Train one run into its folder (resumed, or reported if its record is there); returns the folder."
    seed, directions, root = args
    register()
    return run_once(config(seed, directions), folder(root, directions, seed))


def table(root, seeds, directions, exact_root='results/query_efficiency', at=(100, 200, 500, 1000)):
    "The Markdown table: test accuracy along each seed's run, projected and exact-gc's own, from their records."
    runs = {f'projected on {directions} pulled-back directions': [folder(root, directions, s) for s in seeds],
            'exact-gc (all of the exact gradient)': [Path(exact_root) / 'loc_mnist_1to4' / 'exact-gc' / f'seed{s}'
                                                     for s in seeds]}
    acc = {name: [[dict(accuracy_by_step(run))[step] for step in at] for run in folders]
           for name, folders in runs.items()}
    lines = ['| estimate | seed | ' + ' | '.join(f'step {s:,}' for s in at) + ' |', '|---|---|' + '---|' * len(at)]
    lines += [f'| {name} | {s} | ' + ' | '.join(f'{100 * a:.1f}%' for a in row) + ' |'
              for name, rows in acc.items() for s, row in zip(seeds, rows)]
    projected, exact = (statistics.mean(row[-1] for row in rows) for rows in acc.values())
    return ("Loc-MNIST 1:4, test accuracy along the run (SPSA-GC's update, a = 1, unit-length steps):\n\n"
            + '\n'.join(lines) + f'\n\nMean at step {at[-1]:,}: projected {100 * projected:.1f}%, exact-gc '
            f'{100 * exact:.1f}%.')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3])
    p.add_argument('--directions', type=int, default=90)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--out', default='results/projected_gradient')
    p.add_argument('--report-only', action='store_true', help='only summarise the records already in --out')
    a = p.parse_args()
    root = Path(a.out)
    if not a.report_only: run_all(one_run, [(s, a.directions, root) for s in a.seeds], a.workers)
    md = table(root, a.seeds, a.directions)
    (root / 'table.md').write_text(md + '\n')
    print(md)


if __name__ == '__main__':
    main()
