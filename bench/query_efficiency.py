"""Query efficiency on the embedded task: accuracy against training queries for SPSA, SPSA-GC and BAR's RGF.

The same Coordinator (pooled-pixel encoder) on embedded Loc-MNIST 1:1 against the embedded digit classifier,
optimised by plain SPSA, SPSA-GC, or the one-sided RGF estimator, several seeds. Saves a plot and prints the
queries each needed to reach a fixed accuracy (or that it did not within the budget).

    python bench/query_efficiency.py [--steps 40] [--seeds 2] [--reach 0.30] [--out bench/query_efficiency.png]
"""
import argparse

import torch

from blackvip.estimators import RGF, SPSA, ZOOptimizer
from blackvip.targets import evaluate
from blackvip.config import RunConfig
from blackvip.train import batch_indices, build, get_batch
from blackvip.methods import make_loss_fn


def curve(estimator, seed, steps, every, batch_size, a):
    cfg = RunConfig(method='blackvip', dataset='loc_mnist_1to1', seed=seed, batch_size=batch_size, test_shots=10, a=a).resolve()
    train_set, test, target, coord, _ = build(cfg)
    rule = {'spsa': 'spsa', 'spsa-gc': 'spsa-gc', 'rgf': 'sgd'}[estimator]
    est = RGF(beta=0.01, q=5) if estimator == 'rgf' else SPSA(cfg.c, cfg.gamma, cfg.sp_avg)
    opt = ZOOptimizer(est, rule=rule, a=cfg.a, o=cfg.o, alpha=cfg.alpha, beta=cfg.beta if rule == 'spsa-gc' else 0.0)
    g = torch.Generator().manual_seed(seed)
    points, queries = [(0, evaluate(target, test, coord))], 0
    target.images = 0
    for step in range(steps):
        x, y = get_batch(train_set, batch_indices(len(train_set), batch_size, seed, step))
        fn = make_loss_fn(coord, target, coord.context(x), y, cfg.max_batch)
        w, _ = opt.step(fn, coord.params(), g)
        coord.set_params(w)
        queries += est.queries_per_step * len(y)
        if (step + 1) % every == 0: points.append((queries, evaluate(target, test, coord)))
    return points


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--steps', type=int, default=40)
    p.add_argument('--every', type=int, default=10)
    p.add_argument('--seeds', type=int, default=2)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--a', type=float, default=0.0005)
    p.add_argument('--reach', type=float, default=0.30)
    p.add_argument('--out', default='bench/query_efficiency.png')
    a = p.parse_args()
    torch.set_num_threads(2)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    print(f'| estimator | seed | accuracy at start | final accuracy | training queries | queries to reach {a.reach:.0%} |')
    print('|---|---|---|---|---|---|')
    for name, colour in (('spsa', 'C0'), ('spsa-gc', 'C1'), ('rgf', 'C2')):
        for seed in range(1, a.seeds + 1):
            pts = curve(name, seed, a.steps, a.every, a.batch_size, a.a)
            q, acc = zip(*pts)
            ax.plot(q, acc, color=colour, alpha=0.8, label=name if seed == 1 else None)
            reach = next((qq for qq, aa in pts if aa >= a.reach), None)
            print(f"| {name} | {seed} | {acc[0]:.3f} | {acc[-1]:.3f} | {q[-1]:,} | {f'{reach:,}' if reach is not None else 'not reached'} |")
    ax.set_xlabel('training queries (images sent)')
    ax.set_ylabel('test accuracy')
    ax.legend()
    fig.tight_layout()
    fig.savefig(a.out, dpi=90)
    print(f'plot saved to {a.out}')


if __name__ == '__main__':
    main()
