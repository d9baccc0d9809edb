"""Why a high cosine in the decoder's parameters does not make an estimator learn Loc-MNIST 1:4.

The decoder is ours: its Jacobian J (parameters -> prompted images) costs local compute, no query. An estimator can
therefore draw its directions where the decoder moves the images most, `J^T r` for coarse Gaussian noise `r` on a grid
of tiles in the prompted images, orthonormalise them and measure the loss along each with one-sided differences against
a shared centre (9 directions and one centre: SPSA-GC's 10 prompted copies of the batch per step). Its estimate keeps
many times SPSA-GC's cosine with the exact gradient. Whether a step helps, though, depends on what it does to the
prompted images, where the target's curvature and the clamp to [0, 1] act: to first order a step `v` lowers the loss by
`g . v` and, for a loss about as curved in every direction of the images, costs in proportion to `|J v|^2`. The
figure of merit below is `(g . v)^2 / |J v|^2`, relative to the exact gradient's own, averaged over batches and draws.

Beside it, the isotropic estimates at a fixed cosine of `bench/cosine_needed.py` (whose training is recorded there) and
SPSA's own, and, with `--train`, the pulled-back estimator trained with SPSA-GC's update (unit-length estimate, as the
exact-gradient rows) for 40,000 images on seed 1 at each step size of `--a`, and at the first step size with each
`--penalty`: a restoring force on the prompt, the exact gradient of `penalty * mean(prompt^2) / 2` added to the estimate
(local compute, no query), which keeps the prompts from growing into the clamp. With `--structured`, the exact gradient
degraded to a cosine as `bench/cosine_needed.py` degrades it, but by noise drawn as the pulled-back directions are (one
`J^T r` per step) instead of isotropic noise, for the same 1,000 steps (`STRUCTURED`: cosine and step size a), beside
the undegraded gradient at the step size that moves as far along it per step as the smaller step does:

    python bench/prompt_space.py [--dataset loc_mnist_1to4] [--seed 1] [--batches 4] [--draws 4]
                                 [--train] [--structured] [--learned]

With `--learned` (after `--train` and `--structured`, or with them), what the pulled-back directions hold of the
gradient at initialisation and at two learned prompts, the exact gradient's (`STRUCTURED`'s last row) and the pulled-back
estimator's (`LEARNED_AT`): how much of a batch's gradient the training set shares, the cosines of the exact batch
gradient and of the pulled-back estimate (one-sided differences, as trained) with the other training images' mean
gradient, and the shares of the batch's and of the mean gradient's squared norm in 9 and 90 pulled-back directions; and,
as what a prompt has to do, the target's and the surrogate's accuracy on the training images as they are and with the
centre patch, where Loc-MNIST puts the fake digit, erased to black.

The table is printed and written to --out as DATASET_seedSEED.md (training runs under --out/runs/).
"""
import argparse
import json
import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from blackvip.estimates import ExactGradient

from query_efficiency import ESTIMATORS, row_config, save_measurement, shuffled_main_job_data

DIRECTIONS, TILES = 9, (7, 28, 224)
STEP = 0.16   # the first step's length of the exact-gradient rows (a = 1, o = 100: 1 / 101^0.4)
STRUCTURED = ((0.1, 1.0), (0.4, 1.0), (0.4, 0.2), (1.0, 0.08))   # (cosine, a); the last undegraded, 0.4 x 0.2 along g
LEARNED_AT = 0.1   # the step size whose trained pulled-back prompt --learned measures


def pulled_back(prompter, x, R):
    "`J^T r` for each image-space direction `r` of `R (n, N, C, H, W)`: rows `(n, P)`, the prompter left as it was."
    params = list(prompter.trainable().parameters())
    with prompter.unmoved(), torch.enable_grad():   # measuring moves no running statistic
        out = prompter.differentiable(x)
        rows = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(out, params, r, retain_graph=True)]) for r in R]
    return torch.stack(rows).detach()


def pulled_back_directions(prompter, x, n, tiles, generator):
    "`n` orthonormal rows spanning `J^T r` for Gaussian `r` constant on a `tiles x tiles` grid of each image."
    shape = (len(x), 3, prompter.image_size, prompter.image_size)
    r = torch.randn(n * shape[0], 3, tiles, tiles, generator=generator)
    r = F.interpolate(r, size=shape[-2:], mode='nearest').view(n, *shape)
    return torch.linalg.qr(pulled_back(prompter, x, r).T.double()).Q.T.float()


@dataclass
class PulledBack:
    ("The gradient's projection on `n` orthonormal directions `J^T r` (see `pulled_back_directions`), from one-sided "
     "differences against a shared centre (`n + 1` queries), as a unit vector.")
    c: float = 0.005
    n: int = DIRECTIONS
    tiles: int = 7
    penalty: float = 0.0
    prompter = x = None   # the step's prompter and batch, set by the learner below

    @property
    def queries_per_step(self): return self.n + 1

    def estimate(self, loss_fn, w, k, generator=None):
        U = pulled_back_directions(self.prompter, self.x, self.n, self.tiles, generator).to(w)
        h = self.c * w.numel() ** 0.5   # an SPSA perturbation's length
        losses = loss_fn(torch.cat([w[None], w + h * U]))
        g = ((losses[1:] - losses[0]) / h) @ U
        g = g / g.norm().clamp_min(1e-12)
        if self.penalty: g = g + self.penalty * prompt_energy_gradient(self.prompter, self.x).to(w)
        return g, losses[0].item()


@dataclass
class StructuredNoise(ExactGradient):
    ("A measurement: exact-gc's gradient degraded to cosine `cos`, its noise one pulled-back direction "
     "(`pulled_back_directions`, `tiles`) instead of an isotropic one (1 vector per step).")
    tiles: int = 7
    prompter = x = None   # the step's prompter and batch, set by the learner below

    def noise(self, w, generator=None):
        return pulled_back_directions(self.prompter, self.x, 1, self.tiles, generator)[0].to(w)


def image_change(prompter, ctx, w, V, eps=1e-3):
    ("`J v` for each row `v` of `V (K, P)` at the parameters `w`: central differences of the prompted images of `ctx`, "
     "flattened to `(K, pixels)`, the prompter left as it was.")
    with prompter.unmoved(): P = prompter.prompted(ctx, torch.cat([w + eps * V, w - eps * V]))
    return ((P[:len(V)] - P[len(V):]) / (2 * eps)).flatten(1)


def prompt_energy_gradient(prompter, x):
    "The gradient of `mean(prompt^2) / 2` over the batch's raw prompts in the decoder's parameters (no query)."
    params = list(prompter.trainable().parameters())
    with prompter.unmoved(), torch.enable_grad():
        prompt = prompter.decoder.train()(prompter.encoder(prompter.resize(x)))
        grads = torch.autograd.grad(prompt.pow(2).mean() / 2, params)
    return torch.cat([g.reshape(-1) for g in grads])


def register():
    "Register `prompt-pullback-gc` (this measurement's estimator, SPSA-GC's update) and its bench row."
    from blackvip.optimisers import OPTIMISERS, _stepping
    from blackvip.registry import HParam
    if 'prompt-pullback-gc' in OPTIMISERS: return
    @OPTIMISERS.register('prompt-pullback-gc', 'a measurement (bench/prompt_space.py): directions J^T r, '
                         'pb_tiles x pb_tiles noise r pulled back through the decoder (10 vectors per step)',
                         dict(pb_tiles=HParam(7, 'tiles per side of the noise r', low=1, strict=False),
                              pb_penalty=HParam(0.0, 'weight of the restoring force on the prompt', low=0,
                                                strict=False)))
    def _pulled_back_gc(cfg): return _stepping(PulledBack(cfg.c, DIRECTIONS, cfg.pb_tiles, cfg.pb_penalty), cfg)

    @OPTIMISERS.register('structured-exact-gc', "a measurement (bench/prompt_space.py): exact-gc's degraded gradient, "
                         'its noise a pulled-back direction (1 vector per step; needs the target\'s gradients)',
                         dict(sn_cos=HParam(0.1, "the estimate's cosine with the exact gradient", low=0),
                              sn_tiles=HParam(7, 'tiles per side of the noise r', low=1, strict=False)),
                         gradients=True)
    def _structured_exact_gc(cfg): return _stepping(StructuredNoise(cfg.sn_cos, cfg.sn_tiles), cfg)
    hand_batch_to_estimates()


def hand_batch_to_estimates():
    ("Make BlackVIP's zeroth-order learner hand each step's prompter and batch to its estimate (`prompter`, `x`), which "
     "this file's estimates draw their directions from.")
    from blackvip.learners import ZerothOrder
    import blackvip.methods as methods
    if methods.ZerothOrder is not ZerothOrder: return

    class Learner(ZerothOrder):
        def step(self, prompter, target, x, y, generator):
            self.opt.estimate.prompter, self.opt.estimate.x = prompter, x
            return super().step(prompter, target, x, y, generator)
    methods.ZerothOrder = Learner


def train_row(row, spec, dataset, seed, steps, folder):
    ("Train this measurement's estimator `row` with the settings `spec` for `steps` steps into `folder` (resumed or "
     "reported if done): its test accuracy and `prompt_size`.")
    torch.set_num_threads(1)
    register()
    from blackvip.train import run
    ESTIMATORS[row] = spec
    cfg = row_config(row, dataset, seed=seed, steps=steps, eval_every=100, ckpt_every=100)
    if not (folder / 'result.json').exists(): run(cfg, folder, progress=False)
    return json.loads((folder / 'result.json').read_text())['accuracy'], prompt_size(cfg, folder / 'prompt.pt')


def one_run(args):
    "Train the pulled-back estimator at step size `a` and `penalty` for `budget` images."
    dataset, seed, a, penalty, budget, out = args
    folder = Path(out) / (f'a{a}_penalty{penalty}' if penalty else f'a{a}') / f'seed{seed}'
    return a, penalty, *train_row('prompt-pullback-gc', {'a': a, **({'pb_penalty': penalty} if penalty else {})},
                                  dataset, seed, budget // (4 * (DIRECTIONS + 1)), folder)


def one_structured(args):
    "Train with the exact gradient degraded to `cos` by pulled-back noise for 1,000 steps at step size `a`."
    dataset, seed, cos, a, out = args
    return cos, a, *train_row('structured-exact-gc', {'a': a, 'sn_cos': cos}, dataset, seed, 1000,
                              Path(out) / f'structured_cos{cos}_a{a}' / f'seed{seed}')


def prompter_at(cfg, path, fix):
    "The run's prompter with the trained prompt saved at `path` loaded (at its initialisation when None); `fix` if absent."
    from blackvip.config import make_prompter
    from blackvip.targets import load_state, load_into
    prompter = make_prompter(cfg)
    if path is not None: load_into(prompter.trainable(), load_state(path, 'saved prompt', fix), path, 'the trained prompt',
                                   fix)
    return prompter


def batch_gradients(prompter, target, X, Y, batches):
    "Rows `(len(batches), P)`: the exact gradient of each batch of 4 of `X, Y` numbered in `batches`."
    from blackvip.learners import exact_gradient
    return torch.stack([exact_gradient(prompter, target, X[4 * b:4 * b + 4], Y[4 * b:4 * b + 4]) for b in batches])


def prompt_size(cfg, path=None):
    ("The RMS of the raw prompt and the share of prompted pixels clamped at 1 on the training images, as the test "
     "evaluates them, and the mean norm of the exact gradient over 10 training batches of 4, for the prompt saved at "
     "`path` (or at initialisation).")
    from blackvip.targets import DigitTarget
    from query_efficiency import main_job_data
    prompter, (_, X, Y) = prompter_at(cfg, path, 'Run --train.'), main_job_data(cfg.dataset, cfg.seed)
    ctx = prompter.context(X)
    prompt = prompter.prompts(ctx, prompter.params()[None], train=False)[0]
    norm = statistics.mean(batch_gradients(prompter, DigitTarget(), X, Y, range(10)).norm(dim=1).tolist())
    return prompt.pow(2).mean().sqrt().item(), (prompter.add(ctx['x'], prompt) >= 1).float().mean().item(), norm


def merit(prompter, target, X, Y, batches, draws, eps=1e-3):
    ("Rows `(estimate, cosine, cosine with the mean gradient of the other training images, figure of merit, loss "
     "change of one step)`, means over the first `batches` batches of 4 and `draws` draws each.")
    from blackvip.learners import exact_gradient
    from blackvip.estimates import segmented_uniform
    w, gen, rows = prompter.params(), torch.Generator().manual_seed(0), {}
    others = len(Y) // 4 - batches   # what the whole training set asks: the batches no row is measured on
    mean = batch_gradients(prompter, target, X, Y, range(batches, batches + others)).mean(0)

    def change(x, V): return image_change(prompter, prompter.context(x), w, V, eps).norm(dim=1)   # |J v| per row v

    def other_loss(W):   # the other training images' mean loss at each parameter vector of W
        total = 0
        for b in range(batches, batches + others):
            x, y = X[4 * b:4 * b + 4], Y[4 * b:4 * b + 4]
            with prompter.unmoved(): P = prompter.prompted(prompter.context(x), W)
            total = total + F.cross_entropy(target(P.flatten(0, 1)), y.repeat(len(W)), reduction='none').view(
                len(W), -1).mean(1)
        return total / others

    before = other_loss(w[None])[0]
    step_change = lambda V: other_loss(w - STEP * V) - before   # after one step of length STEP along -v, minus before

    for b in range(batches):
        x, y = X[4 * b:4 * b + 4], Y[4 * b:4 * b + 4]
        g = exact_gradient(prompter, target, x, y)
        unit = g / g.norm()
        best = g.norm() ** 2 / change(x, unit[None])[0] ** 2

        def add(name, V):
            V = V / V.norm(dim=1, keepdim=True)
            rows.setdefault(name, ([], [], [], []))
            rows[name][0].extend((V @ unit).tolist())
            rows[name][1].extend((V @ mean / mean.norm()).tolist())
            rows[name][2].extend(((V @ g) ** 2 / change(x, V) ** 2 / best).tolist())
            rows[name][3].extend(step_change(V).tolist())

        add('exact gradient', unit[None])
        for cos in (0.1, 0.05):
            noise = torch.randn(draws, len(w), generator=gen)
            noise = noise - (noise @ unit)[:, None] * unit
            add(f'isotropic, cosine {cos}', cos * unit + (1 - cos ** 2) ** 0.5 * F.normalize(noise, dim=1))
        deltas = segmented_uniform((draws, 5, len(w)), gen)
        add("SPSA-GC's (5 two-sided)", torch.stack([((d @ g)[:, None] / d).mean(0) for d in deltas]))
        for t in TILES:
            add(f'pulled back, {t} x {t} tiles', torch.stack([
                (lambda U: (U @ g) @ U)(pulled_back_directions(prompter, x, DIRECTIONS, t, gen))
                for _ in range(draws)]))
    return [(name, *map(statistics.mean, values)) for name, values in rows.items()]


def learned(cfg, X, Y, points, batches=4, draws=2, ks=(9, 90)):
    ("Per point `{name: prompt path or None}`, rows `{quantity: value}`: the training loss, how much of a batch's "
     "gradient the training set shares, cosines with the other training images' mean gradient and the shares of the "
     "squared norm in `ks` pulled-back directions (means over the first `batches` batches of 4 and `draws` draws).")
    from blackvip.learners import make_loss_fn
    from blackvip.targets import DigitTarget
    target, out = DigitTarget(), {}
    for point, path in points.items():
        prompter = prompter_at(cfg, path, 'Run --train --structured.')
        w, gen = prompter.params(), torch.Generator().manual_seed(0)
        G = batch_gradients(prompter, target, X, Y, range(len(Y) // 4))
        mean = G[batches:].mean(0)   # the other training images': the batches no row is measured on
        rows = {'loss of the measured batches': [],
                "share of a batch's gradient the training set shares (the mean gradient's squared norm over a batch's)":
                [(G.mean(0).norm() ** 2 / G.norm(dim=1).pow(2).mean()).item()]}
        cos = lambda a, b: F.cosine_similarity(a, b, dim=0).item()
        for b in range(batches):
            x, y, g = X[4 * b:4 * b + 4], Y[4 * b:4 * b + 4], G[b]
            rows.setdefault("cosine of the exact batch gradient with the others' mean gradient", []).append(cos(g, mean))
            estimator, loss_fn = PulledBack(), make_loss_fn(prompter, target, prompter.context(x), y, cfg.max_batch)
            estimator.prompter, estimator.x = prompter, x
            with prompter.unmoved():
                for _ in range(draws):
                    v, loss = estimator.estimate(loss_fn, w, 1, gen)
                    rows['loss of the measured batches'].append(loss)
                    rows.setdefault('cosine of the pulled-back estimate with the batch gradient', []).append(cos(v, g))
                    rows.setdefault("cosine of the pulled-back estimate with the others' mean gradient", []).append(
                        cos(v, mean))
            for k in ks:
                U = pulled_back_directions(prompter, x, k, 7, gen)
                for name, u in (("the batch's", g), ("the others' mean", mean)):
                    rows.setdefault(f"share of {name} gradient in {k} pulled-back directions (random: {k / len(w):.4f})",
                                    []).append(((U @ u).norm() ** 2 / u.norm() ** 2).item())
        out[point] = {name: statistics.mean(values) for name, values in rows.items()}
    return out


def centre_erased(cfg, X, Y):
    ("`{model: (accuracy as they are, accuracy with the centre patch erased)}` on the training images `X, Y`, for the "
     "target and the UCI-digits surrogate.")
    from blackvip.config import make_dataset
    from blackvip.data import CANVAS, centre_box
    from blackvip.prompting import Prompter
    from blackvip.surrogate import load_surrogate
    from blackvip.targets import DigitTarget
    x = Prompter().resize(X)
    top, size = centre_box(make_dataset(cfg.dataset, True).fake_scale)
    a, b = (round(v * x.shape[-1] / CANVAS) for v in (top, top + size))
    erased = x.clone()
    erased[..., a:b, a:b] = 0
    with torch.inference_mode():
        return {name: tuple((model(im).argmax(1) == Y).float().mean().item() for im in (x, erased))
                for name, model in (('target', DigitTarget()), ('UCI-digits surrogate', load_surrogate()))}


def learned_markdown(points, erased, dataset, seed, batches):
    names = list(points)
    table = (f"\n\nWhat the pulled-back directions (7 x 7 tiles) hold of the gradient, {dataset}, seed {seed}, {batches} "
             "batches of 4:\n\n| quantity | " + ' | '.join(names) + ' |\n|---|' + '---|' * len(names) + '\n'
             + '\n'.join(f'| {q} | ' + ' | '.join(f'{points[n][q]:.3f}' for n in names) + ' |' for q in points[names[0]]))
    return table + ('\n\nWhat a prompt has to do: the accuracy on the training images as they are, and with the centre '
                    'patch (where the fake digit is) erased to black: '
                    + '; '.join(f'{m} {100 * a:.1f}% and {100 * b:.1f}%' for m, (a, b) in erased.items()) + '.')


def markdown(rows, trained, start, structured, dataset, seed, batches, draws, cosine_needed, budget):
    head = (f"{dataset}, seed {seed}: the Coordinator at its initialisation, {batches} batches of 4, {draws} draws "
            "each; the pulled-back estimates from 9 directions (SPSA-GC's 10 copies of a batch per step)\n\n"
            "| estimate | cosine with the batch's exact gradient | cosine with the mean gradient of the other training "
            "images | descent per prompt change, relative to the exact gradient's | change of the other training "
            f"images' loss after one step of length {STEP} along it |\n|---|---|---|---|---|\n")
    table = head + '\n'.join(f'| {name} | {cos:.3f} | {pop:.3f} | {m:.3f} | {step:+.4f} |'
                              for name, cos, pop, m, step in rows)
    if cosine_needed: table += '\n\n' + cosine_needed
    if trained:
        rms, bright, norm = start
        table += (f"\n\nThe pulled-back estimator (7 x 7 tiles) trained with SPSA-GC's update for {budget:,} images, "
                  f"seed {seed}:\n\n| step size a | restoring force | test accuracy | prompt RMS | prompted pixels "
                  "clamped at 1 | exact gradient's norm |\n|---|---|---|---|---|---|\n"
                  f"| (initialisation) | | | {rms:.2f} | {100 * bright:.1f}% | {norm:.2f} |\n"
                  + '\n'.join(f'| {a} | {penalty or "none"} | {100 * acc:.1f}% | {size[0]:.2f} | {100 * size[1]:.1f}% '
                               f'| {size[2]:.2f} |' for a, penalty, acc, size in trained))
    if structured:
        isotropic = cosine_needed_finals('results/cosine_needed', seed)
        rows = [('isotropic (`bench/cosine_needed.py`)', cos, 1.0, acc, '-') for cos, acc in isotropic.items()
                if cos in {c for c, *_ in structured} and cos < 1]
        rows += [('pulled back (7 x 7 tiles)' if cos < 1 else 'none', cos, a, acc, f'{size[2]:.2f}')
                 for cos, a, acc, size in structured]
        table += (f"\n\nThe exact gradient degraded to a cosine, 1,000 steps, seed {seed}:\n\n| noise | cosine | step "
                  "size a | step along the exact gradient (cosine x a) | test accuracy | exact gradient's norm at the "
                  "end "
                  f"(at initialisation {start[2]:.2f}) |\n|---|---|---|---|---|---|\n"
                  + '\n'.join(f'| {noise} | {cos:g} | {a:g} | {cos * a:.2f} | {100 * acc:.1f}% | {norm} |'
                               for noise, cos, a, acc, norm in rows))
    return table


def cosine_needed_finals(root, seed):
    "`{cosine: final accuracy}` of `bench/cosine_needed.py`'s isotropic runs on `seed`, from their records."
    found = sorted(Path(root).glob(f'loc_mnist_1to4/cos*/seed{seed}/result.json'))
    return {float(f.parts[-3][3:]): json.loads(f.read_text())['accuracy'] for f in found}


def isotropic_outcomes(root, seed):
    "The recorded final accuracies of `bench/cosine_needed.py`'s isotropic runs on `seed`, as a sentence."
    finals = cosine_needed_finals(root, seed)
    if not finals: return ''
    return (f"The isotropic estimates trained in `bench/cosine_needed.py` (1,000 steps, seed {seed}) end at " +
            ', '.join(f'cosine {c:g}: {100 * a:.1f}%' for c, a in finals.items()) + ' test accuracy.')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dataset', default='loc_mnist_1to4')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--batches', type=int, default=4)
    p.add_argument('--draws', type=int, default=4)
    p.add_argument('--train', action='store_true', help='also train the pulled-back estimator (about 5 minutes a run)')
    p.add_argument('--a', type=float, nargs='+', default=[0.2, 0.1], help='step sizes to train at (--train)')
    p.add_argument('--penalty', type=float, nargs='*', default=[1.0, 3.0],
                   help='restoring forces on the prompt to train with at the first step size (--train)')
    p.add_argument('--structured', action='store_true',
                   help='also train the exact gradient degraded by pulled-back noise (about 2 minutes a run)')
    p.add_argument('--learned', action='store_true',
                   help='also measure the gradient at the learned prompts of --train and --structured (a minute)')
    p.add_argument('--budget', type=int, default=40_000)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--out', default='results/prompt_space')
    args = p.parse_args()
    trained, structured = [], []
    if args.structured:
        with ProcessPoolExecutor(args.workers) as pool:
            structured = list(pool.map(one_structured, [(args.dataset, args.seed, cos, a, Path(args.out) / 'runs')
                                                        for cos, a in STRUCTURED]))
    if args.train:
        with ProcessPoolExecutor(args.workers) as pool:
            runs = [(a, 0.0) for a in args.a] + [(args.a[0], penalty) for penalty in args.penalty]
            trained = list(pool.map(one_run, [(args.dataset, args.seed, a, penalty, args.budget,
                                               Path(args.out) / 'runs') for a, penalty in runs]))
    torch.set_num_threads(args.workers)
    from blackvip.config import make_prompter
    from blackvip.targets import DigitTarget
    cfg, X, Y = shuffled_main_job_data(args.dataset, args.seed)
    rows = merit(make_prompter(cfg), DigitTarget(), X, Y, args.batches, args.draws)
    start = prompt_size(cfg)
    md = markdown(rows, trained, start, structured, args.dataset, args.seed, args.batches, args.draws,
                  isotropic_outcomes('results/cosine_needed', args.seed), args.budget)
    if args.learned:
        runs = Path(args.out) / 'runs'
        at = {'initialisation': None}
        for name, path in ((f'learned with the exact gradient (a = {STRUCTURED[-1][1]})',
                            runs / f'structured_cos1.0_a{STRUCTURED[-1][1]}' / f'seed{args.seed}' / 'prompt.pt'),
                           (f'learned with the pulled-back estimate (a = {LEARNED_AT})',
                            runs / f'a{LEARNED_AT}' / f'seed{args.seed}' / 'prompt.pt')):
            if not path.exists(): raise SystemExit(f'{path} is missing: run with --train --structured (and --a {LEARNED_AT}).')
            at[name] = path
        md += learned_markdown(learned(cfg, X, Y, at, args.batches), centre_erased(cfg, X, Y), args.dataset,
                                 args.seed, args.batches)
    save_measurement(args.out, args.dataset, args.seed, md)


if __name__ == '__main__':
    main()
