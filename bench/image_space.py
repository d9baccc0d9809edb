"""Would an estimate in the prompted images' space be worth more than SPSA's in the decoder's 9,920 parameters?

The black box answers a score per image, and every image of a query may carry a perturbation of its own. An estimator
can therefore perturb the prompted images themselves, on a coarse grid of tiles (each tile one value per channel, as
black-box attacks do with their tiling prior: Ilyas et al., ICLR 2019; Tu et al., AutoZOOM, AAAI 2019), estimate each
image's loss gradient there from one-sided differences, and carry that estimate back through the decoder (local
compute, no query). With SPSA-GC's 10 prompted copies of a batch per step, that is one centre and 9 perturbed copies of
each image.

On the main job's setting at its seed's initialisation, with the embedded target's exact gradient (a measurement),
this prints per grid: how much of the parameter gradient the tiles can carry at all (the cosine of the carried-back
low-passed image gradient with the exact one) and the cosine of the 9-direction estimate (the differences taken
exactly, their small-step limit), averaged over batches and draws.

    python bench/image_space.py [--dataset loc_mnist_1to4] [--seed 1] [--batches 6] [--draws 3]

The table is printed and written to --out as DATASET_seedSEED.md.
"""
import argparse
import statistics

import torch
import torch.nn.functional as F

from query_efficiency import save_measurement, shuffled_main_job_data


def cosine(a, b): return (a @ b / (a.norm() * b.norm())).item()


def tiles(v, t):
    "Each image's `v (N, C, H, W)` averaged over a `t x t` grid of tiles and spread back over them."
    return F.interpolate(F.avg_pool2d(v, v.shape[-1] // t), size=v.shape[-2:], mode='nearest')


def tile_estimate(g, free, t, q, generator):
    ("Each image's gradient `g (N, C, H, W)` projected on `q` random orthonormal tile patterns (zero where the "
     "prompted image is clamped, `free`): the estimate from `q` exact directional derivatives.")
    n, c, h, w = g.shape
    U = F.interpolate(torch.randn(n * q, c, t, t, generator=generator), size=(h, w), mode='nearest').view(n, q, -1)
    U = torch.linalg.qr((U * free.reshape(n, 1, -1)).transpose(1, 2)).Q.transpose(1, 2)     # (N, q, CHW)
    return torch.einsum('nq,nqd->nd', torch.einsum('nqd,nd->nq', U, g.reshape(n, -1)), U).view_as(g)


def measure(prompter, target, X, Y, batches, draws, grids=(7, 14, 28, 56), q=9):
    "Rows `(grid, low-pass cosine, estimate cosine)`, each a mean over `batches` batches of 4 (and `draws` draws)."
    path, params = target.gradient_path(), list(prompter.trainable().parameters())
    generator, rows = torch.Generator().manual_seed(0), {t: ([], []) for t in grids}
    for b in range(batches):
        x, y = X[4 * b:4 * b + 4], Y[4 * b:4 * b + 4]
        with prompter.unmoved(), torch.enable_grad():   # measuring moves no running statistic
            prompted = prompter.differentiable(x)
            image = prompted.detach().requires_grad_(True)
            g = torch.autograd.grad(F.cross_entropy(path(image), y), image)[0]
            grads = lambda v: torch.autograd.grad(prompted, params, v, retain_graph=True)
            back = lambda v: torch.cat([p.reshape(-1) for p in grads(v)])   # J^T v: carried back through the decoder
            exact, free = back(g), ((image > 0) & (image < 1)).detach().float()
            for t in grids:
                rows[t][0].append(cosine(back(tiles(g, t)), exact))
                rows[t][1].extend(cosine(back(tile_estimate(g, free, t, q, generator)), exact) for _ in range(draws))
    return [(t, statistics.mean(low), statistics.mean(est)) for t, (low, est) in rows.items()]


def markdown(rows, dataset, seed, batches, draws):
    head = (f"{dataset}, seed {seed}: the Coordinator at its initialisation, {batches} batches of 4, {draws} draws "
            "each; 9 tile directions per image (SPSA-GC's 10 copies of a batch per step)\n\n"
            "| tiles per side (x 3 channels) | cosine of the carried-back tiled gradient with the exact one | "
            "cosine of the 9-direction estimate |\n|---|---|---|\n")
    return head + '\n'.join(f'| {t} | {low:.3f} | {est:.3f} |' for t, low, est in rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dataset', default='loc_mnist_1to4')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--batches', type=int, default=6)
    p.add_argument('--draws', type=int, default=3)
    p.add_argument('--out', default='results/image_space')
    a = p.parse_args()
    torch.set_num_threads(1)
    from blackvip.config import make_prompter
    from blackvip.targets import DigitTarget
    cfg, X, Y = shuffled_main_job_data(a.dataset, a.seed)
    rows = measure(make_prompter(cfg), DigitTarget(), X, Y, a.batches, a.draws)
    save_measurement(a.out, a.dataset, a.seed, markdown(rows, a.dataset, a.seed, a.batches, a.draws))


if __name__ == '__main__':
    main()
