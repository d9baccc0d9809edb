"""Where does the gradient live? What more directions per query, or a subspace, could add to an estimate.

On the main job's setting (pooled-pixel Coordinator at its seed's initialisation, 16 shots, batches of 4), the embedded
target's exact per-image gradients (each image's cross-entropy, inside its batch, in the decoder's parameters) answer
three questions about an estimate that keeps about sqrt(n / D) of the gradient's direction:

- Would a perturbation per image (one query carrying a different decoder for each image) add information? Only as far
  as the images' gradients agree: ‖Σ_i g_i‖² / Σ_i ‖g_i‖² is 1 for orthogonal gradients and 4 for parallel ones,
  the most it could raise the cosine squared.
- Is the gradient low-rank across images? The share of a batch's gradient energy in the top k principal directions of
  other training images' gradients (the target's: an oracle no black-box run has).
- Can a surrogate find that subspace for free? The same share in the top k principal directions of the surrogate's
  per-image gradients on all the training images (no query), against a random k-dimensional subspace (k / D).

    python bench/gradient_structure.py [--dataset loc_mnist_1to4] [--seed 1] [--batches 8]

The table is printed and written to --out as DATASET_seedSEED.md.
"""
import argparse
import statistics

import torch
import torch.nn.functional as F

from query_efficiency import save_measurement, shuffled_main_job_data


def per_image_gradients(prompter, model, x, y):
    "`(len(y), P)`: each image's cross-entropy gradient in the prompter's parameters, within its batch's forward pass."
    params = list(prompter.trainable().parameters())
    with prompter.unmoved(), torch.enable_grad():   # measuring moves no running statistic
        losses = F.cross_entropy(model.gradient_path()(prompter.differentiable(x)), y, reduction='none')
        rows = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(l, params, retain_graph=True)]) for l in losses]
    return torch.stack(rows).detach()


def share(directions, g):
    "The share of `g`'s energy in the span of the orthonormal rows `directions`."
    return ((directions @ g).pow(2).sum() / g.pow(2).sum()).item()


def measure(prompter, target, surrogate, X, Y, batches, ks=(5, 20, 60)):
    "Rows of the table: alignment of the per-image gradients, and the shares held by principal subspaces."
    groups = [slice(i, i + 4) for i in range(0, len(Y) - len(Y) % 4, 4)]
    T = [per_image_gradients(prompter, target, X[s], Y[s]) for s in groups]
    S = torch.cat([per_image_gradients(prompter, surrogate, X[s], Y[s]) for s in groups])
    D = T[0].shape[1]
    align = [(t.sum(0).pow(2).sum() / t.pow(2).sum()).item() for t in T[:batches]]
    rows = [('agreement of the per-image gradients in a batch of 4: ‖Σ g_i‖² / Σ ‖g_i‖²', statistics.mean(align), 1.0)]
    surrogate_pcs = torch.linalg.svd(S, full_matrices=False).Vh
    # the target's principal directions for each measured batch, from the other batches' images only
    target_pcs = [torch.linalg.svd(torch.cat([t for i, t in enumerate(T) if i != b]), full_matrices=False).Vh
                  for b in range(batches)]
    for k in ks:
        rows.append((f"share of a batch gradient in the top {k} directions of the target's gradients on other images",
                     statistics.mean(share(target_pcs[b][:k], T[b].sum(0)) for b in range(batches)), k / D))
        rows.append((f"share of a batch gradient in the top {k} directions of the surrogate's gradients",
                     statistics.mean(share(surrogate_pcs[:k], T[b].sum(0)) for b in range(batches)), k / D))
    return rows, D, len(Y)


def markdown(rows, dataset, seed, D, n):
    head = (f"{dataset}, seed {seed}: the Coordinator at its initialisation, {n} training images, D = {D:,} parameters\n\n"
            "| quantity | measured | random or orthogonal |\n|---|---|---|\n")
    return head + '\n'.join(f'| {name} | {value:.3f} | {base:.4f} |' for name, value, base in rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dataset', default='loc_mnist_1to4')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--batches', type=int, default=8, help='batches whose gradient is measured')
    p.add_argument('--out', default='results/gradient_structure')
    a = p.parse_args()
    torch.set_num_threads(2)
    from blackvip.config import make_prompter
    from blackvip.surrogate import load_surrogate
    from blackvip.targets import DigitTarget
    cfg, X, Y = shuffled_main_job_data(a.dataset, a.seed)
    rows, D, n = measure(make_prompter(cfg), DigitTarget(), load_surrogate(), X, Y, a.batches)
    save_measurement(a.out, a.dataset, a.seed, markdown(rows, a.dataset, a.seed, D, n))


if __name__ == '__main__':
    main()
