"""Query efficiency: test accuracy against training queries for the registered estimators, seeds 1-3.

BlackVIP's Coordinator (pooled-pixel encoder) trained by each estimator through the package's own loop
(`blackvip.train.run`), with the main job's setting (batch 4, a = 0.005, o = 100) and one fixed query budget,
on the embedded Loc-MNIST 1:1 (shipped digit classifier) and Biased MNIST 0.9 (the colour-on-black stand-in,
on which that set is a fair test). Test accuracy is recorded along the way. Every run is a run folder under
--out (resumed or reported if already there), so the table and the picture are regenerated from the records:

    python bench/query_efficiency.py [--budget 40000] [--eval-every 50] [--seeds 1 2 3] [--workers 2]
    python bench/query_efficiency.py --report-only      # table and picture from the records in --out

It prints, per set and estimator, the final accuracy (mean +- std over seeds) and the queries the mean curve
needed to reach plain SPSA-GC's final mean accuracy, as a ratio to SPSA-GC's own; it writes table.md and
curves.png (mean curve, band from the lowest to the highest seed) and settings.json (what was run) into --out.
"""
import argparse
import json
from dataclasses import asdict
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SETS = {'loc_mnist_1to1': 'embedded', 'biased_mnist_0.9': 'results/black_standin/digit_cnn_black.pt', 'loc_mnist_1to4': 'embedded'}
MAIN_JOB = dict(method='blackvip', encoder='pixels', shots=16, batch_size=4, a=0.005, o=100.0)
ESTIMATORS = {   # each estimator's own hyperparameters on top of the main job's (04b_optimisers defaults otherwise)
    'spsa-gc': {},
    'spsa': {},                     # plain SPSA, no look-ahead correction: the paper's SPSA / SPSA-GC ablation
    'spsa-gc-clip': {'clip': 0.3},
    'subspace-spsa-gc': {'subspace_dim': 512, 'clip': 0.3},
    'cma-es': {'cma_sigma': 0.01, 'popsize': 10},
    'subspace-cma-es': {'subspace_dim': 512, 'cma_sigma': 0.01, 'popsize': 10},
    'spsa-gc-one-sided': {},
    'spsa-gc-one-sided-a0.0025': {'estimator': 'spsa-gc-one-sided', 'a': 0.0025},   # the one-sided estimate at half the step size: it takes 1,666 steps where SPSA-GC takes 1,000
    'transfer-prior-gc': {'a': 1.0, 'surrogate': 'uci-digits', 'budget': {'loc_mnist_1to1': 8_000}},   # a tuned on seed 1 of Loc-MNIST 1:1 (1 of 1, 4, 16)
    'history-prior-gc': {'a': 1.0, 'budget': {'loc_mnist_1to1': 8_000}},   # the transfer prior's step size and budgets
    'exact-gc': {'a': 1.0, 'budget': 4_000},   # a measurement: the target's exact gradient (unit length), same update; a chosen on seed 1 of Loc-MNIST 1:4 (1 of 1, 3)
    'subspace-exact-gc': {'a': 0.22, 'budget': 4_000},   # a measurement: exact-gc in subspace-spsa-gc's 512-d subspace; a = 1 x sqrt(512 / 9,920), as |P u| = sqrt(9,920 / 512) |u|
}
RUN_FIELDS = ('surrogate',)   # estimator settings that are run-level fields, not hyperparameters
NOT_HPARAMS = ('a', 'budget', 'estimator')
# a row's name is its registered estimator's unless it says `estimator` (the same estimator with other settings);
# a row with a `budget` of its own, on every set or ({set: budget}) on some, is run only that far there (a fifth of SPSA-GC's:
# whether it gets there within 0.20 of the queries)


def row_budget(row, dataset):
    "The training images a row has of its own on `dataset`, or None (the run's budget)."
    own = ESTIMATORS[row].get('budget')
    return own.get(dataset) if isinstance(own, dict) else own


def registered(row):
    "The registered estimator a row of the table runs."
    return ESTIMATORS[row].get('estimator', row)


def row_config(row, dataset, hparams=None, **fields):
    ("The run config of a row on `dataset`: the main job's settings with the row's step size, hyperparameters "
     "(and `hparams`) and run-level fields, plus `fields`.")
    from blackvip.config import RunConfig
    spec = ESTIMATORS[row]
    return RunConfig(**{**MAIN_JOB, 'a': spec.get('a', MAIN_JOB['a'])}, dataset=dataset, target=SETS[dataset],
                     **{k: v for k, v in spec.items() if k in RUN_FIELDS}, **fields,
                     hparams={'estimator': registered(row), **{k: v for k, v in spec.items() if k not in RUN_FIELDS + NOT_HPARAMS},
                              **(hparams or {})})


def main_job_data(dataset, seed):
    ("The main job's resolved run config on `dataset` at `seed` (the embedded target) and its few-shot training set "
     "as tensors `(cfg, X, Y)`, in the set's order.")
    import torch
    from blackvip.config import RunConfig, make_dataset
    from blackvip.data import few_shot
    cfg = RunConfig(**MAIN_JOB, dataset=dataset, target='embedded', seed=seed).resolve()
    ds = few_shot(make_dataset(cfg.dataset, True), cfg.shots, seed=cfg.seed)
    return cfg, torch.stack([ds[i][0] for i in range(len(ds))]), torch.tensor([ds[i][1] for i in range(len(ds))])



def shuffled_main_job_data(dataset, seed):
    ("`main_job_data` with the training set in an order drawn from `seed`, so that consecutive groups of 4 are random "
     "batches (the measurements at initialisation).")
    import torch
    cfg, X, Y = main_job_data(dataset, seed)
    order = torch.randperm(len(Y), generator=torch.Generator().manual_seed(seed))
    return cfg, X[order], Y[order]


def save_measurement(out, dataset, seed, md):
    "Write a measurement's Markdown table to `out/DATASET_seedSEED.md` and print it."
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f'{dataset}_seed{seed}.md').write_text(md + '\n')
    print(md)

def steps_for(row, budget, batch_size=MAIN_JOB['batch_size']):
    "Steps a row's estimator takes within `budget` training images: each step sends `queries_per_step` prompted copies of the batch."
    from blackvip.optimisers import OPTIMISERS
    return budget // (batch_size * OPTIMISERS.get(registered(row))(row_config(row, 'loc_mnist_1to1').resolve()).queries_per_step)


def one_run(args):
    "Train one (set, row, seed) run into its folder (resumed or reported if done); returns the folder."
    dataset, row, seed, budget, every, out = args
    steps = steps_for(row, row_budget(row, dataset) or budget)
    return run_once(row_config(row, dataset, seed=seed, steps=steps, eval_every=every, ckpt_every=every), out)


def run_once(cfg, out):
    "Train `cfg` into the run folder `out` on one thread, unless `out` holds its finished record; returns `out`."
    import torch
    torch.set_num_threads(1)
    from blackvip.train import run
    if not recorded(out, cfg): run(cfg, out, progress=False)   # committed records come without checkpoints: never re-run
    return out


def recorded(out, cfg):
    "Whether `out` holds a finished record of exactly `cfg` (its settings, steps and estimator)."
    from blackvip.runfolder import settings_differ
    record = Path(out) / 'result.json'
    if not record.exists(): return False
    rec, now = json.loads(record.read_text()), cfg.resolve()
    saved = json.loads(json.dumps(rec['settings']))   # a record made before a setting existed ran with its default
    return rec.get('status') == 'finished' and not settings_differ(saved, now, list(json.loads(json.dumps(asdict(now)))))


def curve(folder):
    "The run's test accuracy along the way: [(queries, accuracy)], from its metrics.jsonl and record."
    rec = json.loads((Path(folder) / 'result.json').read_text())
    per_step = (rec['queries'] - rec['queries_redone']) / rec['steps']   # an interrupted and resumed run paid for redone steps too
    rows = [json.loads(l) for l in (Path(folder) / 'metrics.jsonl').read_text().splitlines() if l.strip()]
    points = {r['step']: r['test_acc'] for r in rows if r.get('test_acc') is not None}
    return [(round(step * per_step), acc) for step, acc in sorted(points.items())]


def first_reaching(points, level):
    "Queries at the first point of a curve at or above `level`, or None."
    return next((q for q, acc in points if acc >= level - 1e-9), None)


def summarise(root, sets, estimators, seeds):
    "Per set: rows of the table and the mean curves, from the run folders under `root`."
    out = {}
    for ds in sets:
        curves = {e: [curve(root / ds / e / f'seed{s}') for s in seeds] for e in estimators
                  if all((root / ds / e / f'seed{s}' / 'result.json').exists() for s in seeds)}
        mean = {e: [(c[0][i][0], statistics.mean(x[i][1] for x in c), min(x[i][1] for x in c), max(x[i][1] for x in c))
                    for i in range(min(len(x) for x in c))] for e, c in curves.items()}
        finals = {e: [json.loads((root / ds / e / f'seed{s}' / 'result.json').read_text())['accuracy'] for s in seeds] for e in curves}
        goal = statistics.mean(finals['spsa-gc'])
        base = first_reaching([(q, m) for q, m, _, _ in mean['spsa-gc']], goal)
        rows = []
        for e in curves:
            reach = first_reaching([(q, m) for q, m, _, _ in mean[e]], goal)
            rows.append({'estimator': e, 'mean': statistics.mean(finals[e]), 'std': statistics.stdev(finals[e]) if len(seeds) > 1 else 0.0,
                         'reach': reach, 'ratio': reach / base if reach is not None else None, 'budget': mean[e][-1][0]})
        out[ds] = {'rows': rows, 'mean': mean, 'goal': goal}
    return out


def table(summary, seeds):
    "The Markdown table of a summary."
    lines = [f'| set | estimator | training images | final accuracy (mean +- std, seeds {", ".join(map(str, seeds))}) | queries to reach SPSA-GC\'s final accuracy | ratio to SPSA-GC |',
             '|---|---|---|---|---|---|']
    for ds, s in summary.items():
        for r in s['rows']:
            reach = f"{r['reach']:,}" if r['reach'] is not None else f"not within {r['budget']:,}"
            ratio = f"{r['ratio']:.2f}" if r['ratio'] is not None else '-'
            lines.append(f"| {ds} | {r['estimator']} | {r['budget']:,} | {100 * r['mean']:.1f} +- {100 * r['std']:.1f} | {reach} | {ratio} |")
    return '\n'.join(lines)


def picture(summary, path):
    ("Mean test accuracy against queries per row, with a band from the lowest to the highest seed (dashed: a row run to "
     "its own, smaller budget).")
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = list(dict.fromkeys(e for s in summary.values() for e in s['mean']))
    colour = {e: plt.cm.tab20(i % 20) for i, e in enumerate(rows)}   # one colour per row, the same in every panel
    fig, axes = plt.subplots(1, len(summary), figsize=(5.5 * len(summary), 3.8), squeeze=False)
    for ax, (ds, s) in zip(axes[0], summary.items()):
        for e, pts in s['mean'].items():
            q, m, lo, hi = zip(*pts)
            ax.plot(q, m, color=colour[e], ls='--' if row_budget(e, ds) else '-', label=e)
            ax.fill_between(q, lo, hi, color=colour[e], alpha=0.15)
        ax.axhline(s['goal'], color='grey', ls=':', lw=1, label="SPSA-GC's final accuracy")
        ax.set_title(ds); ax.set_xlabel('training queries (images sent to the target)'); ax.set_ylabel('test accuracy')
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run_all(one_run, jobs, workers):
    "Run `one_run` on every job in `workers` processes, saying which folder each finished."
    with ProcessPoolExecutor(workers) as pool:
        for done in pool.map(one_run, jobs): print(f'done: {done}', flush=True)


def report(root, settings, md, draw):
    "Write what was run (settings.json), the table (table.md) and the picture (`draw(path)`, curves.png) into `root`."
    (root / 'settings.json').write_text(json.dumps(settings, indent=1) + '\n')
    (root / 'table.md').write_text(md + '\n')
    draw(root / 'curves.png')
    print(md)
    print(f"table and picture written to {root / 'table.md'} and {root / 'curves.png'}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--sets', nargs='+', default=list(SETS), choices=list(SETS))
    p.add_argument('--estimators', nargs='+', default=list(ESTIMATORS), choices=list(ESTIMATORS))
    p.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3])
    p.add_argument('--budget', type=int, default=40_000, help='training images per run; each estimator takes the steps that fit in it')
    p.add_argument('--eval-every', type=int, default=50)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--out', default='results/query_efficiency')
    p.add_argument('--report-only', action='store_true', help='only summarise the records already in --out')
    a = p.parse_args()
    if 'spsa-gc' not in a.estimators: p.error('--estimators must include spsa-gc, the reference every ratio is taken against.')
    root = Path(a.out)
    if not a.report_only:
        run_all(one_run, [(ds, e, s, a.budget, a.eval_every, root / ds / e / f'seed{s}')
                          for ds in a.sets for e in a.estimators for s in a.seeds], a.workers)
    settings = {'sets': a.sets, 'estimators': a.estimators, 'seeds': a.seeds, 'budget': a.budget, 'eval_every': a.eval_every}
    summary = summarise(root, a.sets, a.estimators, a.seeds)
    report(root, settings, table(summary, a.seeds), lambda path: picture(summary, path))


if __name__ == '__main__':
    main()
