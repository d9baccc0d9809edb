"""Does an estimate need a smaller cosine where there are fewer parameters? The decoder's trigger and output layer.

`p_trigger` (the 800 learned inputs beside the encoder's features on the decoder's 7 x 7 grid), the last BatchNorm
and the output convolution (`BLOCK`, 1,024 of the 9,920 parameters) hold about a third of a batch's squared gradient
at initialisation, and the exact gradient restricted to them still learns Loc-MNIST 1:4. Restricted to them, SPSA's
estimate from the same 10 queries has a larger cosine with the gradient there than with the whole gradient in all
parameters. Each row trains the main job's Coordinator on Loc-MNIST 1:4 for 1,000 steps (SPSA-GC's steps within
40,000 images) with SPSA-GC's update, every other parameter left at its initialisation: the exact gradient in the
block as a unit vector (a measurement, at exact-gc's a = 1), the same degraded to a cosine by isotropic noise drawn
in the block (as `bench/cosine_needed.py` degrades it in all parameters), and SPSA-GC's own estimate in the block (at
the main job's a and at three times it). Beside the table, measured at initialisation: the block's share of the
gradient, SPSA's cosines in the block and in all parameters, and how far a unit step of isotropic noise moves the
prompted images in the block and in all parameters.

    python bench/decoder_blocks.py [--seeds 1 2 3] [--workers 2]    # about 25 minutes on 2 cores
    python bench/decoder_blocks.py --report-only

Every run is a run folder under --out (resumed or reported if there); the table is written to --out/table.md.
"""
import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
from blackvip.estimates import ExactGradient, SPSA

from prompt_space import image_change
from query_efficiency import ESTIMATORS, row_config, run_all, run_once, shuffled_main_job_data

BLOCK = ('p_trigger', 'body.14.weight', 'body.14.bias', 'body.16.weight')   # the trigger, last BatchNorm, output layer
ROWS = {   # folder: (what the table calls it, registered estimator, its settings); exact rows at exact-gc's a = 1
    'exact': ('exact gradient', 'block-exact-gc', {'a': 1.0}),
    'cos0.1': ('isotropic, cosine 0.1', 'block-exact-gc', {'a': 1.0, 'exact_cos': 0.1}),
    'cos0.05': ('isotropic, cosine 0.05', 'block-exact-gc', {'a': 1.0, 'exact_cos': 0.05}),
    'spsa-gc': ("SPSA-GC's (5 two-sided), a = 0.005", 'block-spsa-gc', {}),
    'spsa-gc-a0.015': ("SPSA-GC's (5 two-sided), a = 0.015", 'block-spsa-gc', {'a': 0.015}),
}
STEPS = 1000


def block_indices(decoder, names=BLOCK):
    "Positions of the tensors `names` in the decoder's flat parameter vector."
    out, start = [], 0
    for name, p in decoder.named_parameters():
        if name in names: out.append(torch.arange(start, start + p.numel()))
        start += p.numel()
    return torch.cat(out)


@dataclass
class InBlock:
    "Any estimate of the gradient in the parameters at `idx` alone (every other parameter held where it is)."
    base: object
    idx: torch.Tensor

    @property
    def queries_per_step(self): return self.base.queries_per_step

    def estimate(self, loss_fn, w, k, generator=None):
        def inside(U):
            W = w.expand(len(U), -1).clone()
            W[:, self.idx] = U
            return loss_fn(W)
        def gradient():   # the exact gradient's measurement, where the oracle has one, in the block
            g, loss = loss_fn.gradient()
            return g[self.idx], loss
        if hasattr(loss_fn, 'gradient'): inside.gradient = gradient
        g, loss = self.base.estimate(inside, w[self.idx], k, generator)
        return torch.zeros_like(w).index_copy_(0, self.idx, g), loss


def register():
    "Register this measurement's two rows: the exact gradient (or degraded) and SPSA's estimate, in `BLOCK` alone."
    from blackvip.config import make_prompter
    from blackvip.optimisers import EXACT, OPTIMISERS, _stepping
    if 'block-exact-gc' in OPTIMISERS: return
    idx = lambda cfg: block_indices(make_prompter(cfg).trainable())
    OPTIMISERS.register('block-exact-gc', "a measurement (bench/decoder_blocks.py): exact-gc in the decoder's trigger "
                        'and output layer', EXACT, gradients=True)(
        lambda cfg: _stepping(InBlock(ExactGradient(cfg.exact_cos), idx(cfg)), cfg))
    OPTIMISERS.register('block-spsa-gc', "a measurement (bench/decoder_blocks.py): spsa-gc in the decoder's trigger "
                        'and output layer')(
        lambda cfg: _stepping(InBlock(SPSA(cfg.c, cfg.gamma, cfg.sp_avg, cfg.perturbation), idx(cfg)), cfg))


def config(row, seed):
    "The run config of one (row, seed) run: the main job's settings on Loc-MNIST 1:4 with the row's estimator."
    _, estimator, spec = ROWS[row]
    ESTIMATORS[estimator] = {k: v for k, v in spec.items() if k == 'a'}
    return row_config(estimator, 'loc_mnist_1to4', {k: v for k, v in spec.items() if k != 'a'}, seed=seed, steps=STEPS,
                      eval_every=100, ckpt_every=100)


def folder(root, row, seed): return Path(root) / row / f'seed{seed}'


def one_run(args):
    "Train one (row, seed) run into its folder (resumed, or reported if its record is there); returns the folder."
    row, seed, root = args
    register()
    return run_once(config(row, seed), folder(root, row, seed))


def at_initialisation(seed, draws=4, eps=1e-3):
    ("What the block holds at initialisation (4 batches of 4): its share of the parameters and of a batch's squared "
     "gradient, SPSA's estimate's cosine with the gradient in the block and in all parameters, and the RMS change of "
     "the prompted images per unit step along isotropic noise, in the block and in all parameters.")
    from blackvip.config import make_prompter
    from blackvip.learners import exact_gradient, make_loss_fn
    from blackvip.targets import DigitTarget
    cfg, X, Y = shuffled_main_job_data('loc_mnist_1to4', seed)
    prompter, target, gen = make_prompter(cfg), DigitTarget(), torch.Generator().manual_seed(0)
    w, idx = prompter.params(), block_indices(prompter.trainable())
    cos = lambda a, b: torch.nn.functional.cosine_similarity(a, b, dim=0).item()
    out = {}
    add = lambda name, values: out.setdefault(name, []).extend(values)
    spsa = SPSA(cfg.c, cfg.gamma, cfg.sp_avg, cfg.perturbation)
    for b in range(4):
        x, y = X[4 * b:4 * b + 4], Y[4 * b:4 * b + 4]
        g = exact_gradient(prompter, target, x, y)
        add("block's share of a batch's squared gradient", [(g[idx].norm() ** 2 / g.norm() ** 2).item()])
        ctx = prompter.context(x)
        loss_fn = make_loss_fn(prompter, target, ctx, y, cfg.max_batch)
        with prompter.unmoved():
            for _ in range(draws):
                v = InBlock(spsa, idx).estimate(loss_fn, w, 1, gen)[0]
                add("cosine of SPSA's estimate in the block with the gradient in the block", [cos(v[idx], g[idx])])
                add("cosine of SPSA's estimate in the block with the whole gradient", [cos(v, g)])
                add("cosine of SPSA's estimate in all parameters with the whole gradient",
                    [cos(spsa.estimate(loss_fn, w, 1, gen)[0], g)])
        for where in ('the block', 'all parameters'):
            V = torch.randn(draws, len(w), generator=gen)
            if where == 'the block': V = torch.zeros_like(V).index_copy_(1, idx, V[:, idx])
            V = V / V.norm(dim=1, keepdim=True)
            add(f'RMS change of the prompted images per unit step of isotropic noise in {where}',
                image_change(prompter, ctx, w, V, eps).pow(2).mean(1).sqrt().tolist())
    return len(idx), len(w), {name: statistics.mean(values) for name, values in out.items()}


def table(root, seeds):
    "The Markdown table: each row's test accuracy per seed from its record, and what the block holds at initialisation."
    finals = {row: [json.loads((folder(root, row, s) / 'result.json').read_text())['accuracy'] for s in seeds]
              for row in ROWS}
    lines = ['| estimate, in the trigger and output layer only | ' + ' | '.join(f'seed {s}' for s in seeds)
             + ' | mean |', '|---|' + '---|' * (len(seeds) + 1)]
    lines += [f'| {ROWS[row][0]} | ' + ' | '.join(f'{100 * a:.1f}%' for a in accs)
              + f' | {100 * statistics.mean(accs):.1f}% |' for row, accs in finals.items()]
    n, total, init = at_initialisation(seeds[0])
    return ("Loc-MNIST 1:4, test accuracy after 1,000 steps (40,000 images for SPSA-GC's), SPSA-GC's update, every "
            'other parameter at its initialisation:\n\n' + '\n'.join(lines)
            + f'\n\nAt initialisation, seed {seeds[0]}, 4 batches of 4 (the block: {n:,} of the {total:,} parameters, '
            f'{n / total:.3f}):\n\n| quantity | value |\n|---|---|\n'
            + '\n'.join(f'| {name} | {value:.4f} |' for name, value in init.items()))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3])
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--out', default='results/decoder_blocks')
    p.add_argument('--report-only', action='store_true', help='only summarise the records already in --out')
    a = p.parse_args()
    root = Path(a.out)
    if not a.report_only: run_all(one_run, [(row, s, root) for s in a.seeds for row in ROWS], a.workers)
    torch.set_num_threads(a.workers)
    md = table(root, a.seeds)
    (root / 'table.md').write_text(md + '\n')
    print(md)


if __name__ == '__main__':
    main()
