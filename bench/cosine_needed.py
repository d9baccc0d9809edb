"""How good must a gradient estimate be? Final accuracy against the estimate's cosine with the exact gradient.

BlackVIP's Coordinator (pooled-pixel encoder, the main job's batch 4) trained by SPSA-GC's update along the embedded
target's exact gradient, made a unit vector and degraded to a fixed cosine by isotropic noise orthogonal to it
(`blackvip train --estimator exact-gc --exact-cos COS`, a measurement that reads the target's gradients), for as many
steps as SPSA-GC takes within the query-efficiency budget (1,000 steps: 40,000 images at 10 prompted copies of a
batch of 4), with the step size of the exact-gradient row of `query_efficiency.py` (a = 1). The cosine of 1 is the
exact gradient itself. With `--row subspace-exact-gc` the same ladder runs in the 512-dimensional random subspace of
`subspace-spsa-gc` (the gradient in it `P^T g`, degraded there; that row's step size). Every run is a run folder
under --out (resumed or reported if already there):

    python bench/cosine_needed.py [--sets loc_mnist_1to4] [--cosines 1 0.1 0.05 0.02] [--seeds 1 2 3] [--workers 2]
    python bench/cosine_needed.py --row subspace-exact-gc --cosines 1 0.1 --out results/cosine_needed_subspace
    python bench/cosine_needed.py --report-only      # table and picture from the records in --out

It writes table.md (final accuracy per set and cosine, mean +- std over seeds), curves.png (mean test accuracy
against steps per cosine) and settings.json (what was run) into --out. The cosine each real estimator reaches is
measured by `blackvip.quality` (`nbs/06c_estimate_quality.ipynb`, `results/estimate_quality/`).
"""
import argparse
import json
import statistics
from pathlib import Path

from query_efficiency import ESTIMATORS, SETS, report, row_config, run_all, run_once


ROWS = ('exact-gc', 'subspace-exact-gc')   # the rows of query_efficiency.py that step along the exact gradient


def config(dataset, cos, seed, steps, every, row='exact-gc'):
    "The run config of one (set, cosine, seed) run: an exact-gradient `row` of query_efficiency.py at cosine `cos`."
    return row_config(row, dataset, {'exact_cos': cos}, seed=seed, steps=steps, eval_every=every, ckpt_every=every)


def one_run(args):
    "Train one run into its folder (resumed, or reported if its record is already there); returns the folder."
    dataset, cos, seed, steps, every, out, row = args
    return run_once(config(dataset, cos, seed, steps, every, row), out)


def folder(root, dataset, cos, seed): return Path(root) / dataset / f'cos{cos:g}' / f'seed{seed}'


def accuracy_by_step(run):
    "[(step, test accuracy)] along a run, from its metrics.jsonl."
    rows = [json.loads(line) for line in (run / 'metrics.jsonl').read_text().splitlines() if line.strip()]
    return sorted({r['step']: r['test_acc'] for r in rows if r.get('test_acc') is not None}.items())


def summarise(root, sets, cosines, seeds):
    "Per set and cosine: the seeds' final accuracies and the mean curve against steps."
    out = {}
    for ds in sets:
        for cos in cosines:
            runs = [folder(root, ds, cos, s) for s in seeds]
            if not all((r / 'result.json').exists() for r in runs): continue
            finals = [json.loads((r / 'result.json').read_text())['accuracy'] for r in runs]
            curves = [accuracy_by_step(r) for r in runs]
            mean = [(curves[0][i][0], statistics.mean(c[i][1] for c in curves)) for i in range(min(map(len, curves)))]
            out[(ds, cos)] = {'finals': finals, 'mean': mean}
    return out


def table(summary, seeds):
    "The Markdown table of a summary."
    lines = [f"| set | estimate's cosine | steps | final accuracy (mean +- std, seeds {', '.join(map(str, seeds))}) |",
             '|---|---|---|---|']
    for (ds, cos), s in summary.items():
        std = statistics.stdev(s['finals']) if len(s['finals']) > 1 else 0.0
        lines.append(f"| {ds} | {cos:g} | {s['mean'][-1][0]:,} | {100 * statistics.mean(s['finals']):.1f} +- {100 * std:.1f} |")
    return '\n'.join(lines)


def picture(summary, path):
    "Mean test accuracy against steps, one line per cosine, one panel per set."
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    sets = list(dict.fromkeys(ds for ds, _ in summary))
    fig, axes = plt.subplots(1, len(sets), figsize=(5.5 * len(sets), 3.8), squeeze=False)
    for ax, ds in zip(axes[0], sets):
        for i, ((d, cos), s) in enumerate(x for x in summary.items() if x[0][0] == ds):
            steps, acc = zip(*s['mean'])
            ax.plot(steps, acc, color=f'C{i}', label=f'cosine {cos:g}')
        ax.set_title(ds); ax.set_xlabel('steps (one estimate each)'); ax.set_ylabel('test accuracy')
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--sets', nargs='+', default=['loc_mnist_1to4'], choices=list(SETS))
    p.add_argument('--row', default='exact-gc', choices=ROWS,
                   help="the exact gradient in the full space, or in subspace-spsa-gc's random subspace")
    p.add_argument('--cosines', nargs='+', type=float, default=[1.0, 0.1, 0.05, 0.02])
    p.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3])
    p.add_argument('--steps', type=int, default=1000, help="steps per run (SPSA-GC's within 40,000 images)")
    p.add_argument('--eval-every', type=int, default=50)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--out', default='results/cosine_needed')
    p.add_argument('--report-only', action='store_true', help='only summarise the records already in --out')
    a = p.parse_args()
    bad = [c for c in a.cosines if not 0 < c <= 1]
    if bad: p.error(f'--cosines {bad}: each cosine must be in (0, 1].')
    root = Path(a.out)
    if not a.report_only:
        run_all(one_run, [(ds, c, s, a.steps, a.eval_every, folder(root, ds, c, s), a.row)
                          for ds in a.sets for c in a.cosines for s in a.seeds], a.workers)
    settings = {'sets': a.sets, 'cosines': a.cosines, 'seeds': a.seeds, 'steps': a.steps, 'eval_every': a.eval_every,
                'row': a.row, 'a': ESTIMATORS[a.row]['a']}
    summary = summarise(root, a.sets, a.cosines, a.seeds)
    report(root, settings, table(summary, a.seeds), lambda path: picture(summary, path))


if __name__ == '__main__':
    main()
