"""Does a surrogate fitted to the answers already paid for give a better prior? Its gradient's cosine, before and after.

A prior learned from the answers: every query returns the target's scores for every prompted image, so a surrogate
can be fitted to them as training goes, at no extra query, and its gradient used as the transfer prior. This script
measures whether that fit helps where the prior fails. On the main job's setting (pooled-pixel Coordinator at its
seed's initialisation, 16 shots, batches of 4) it collects the answers a run pays for in its first steps (each
training image prompted by `--rounds` perturbed decoders, SPSA's segmented perturbations of size `c`), fits the
shipped UCI-digits surrogate to the target's answers on them (KL divergence to the target's softmax, Adam), and
prints the cosine between the surrogate's gradient and the target's exact gradient on the first six training batches
(in the decoder's parameters, where the prior acts, and in the prompted images), before and after the fit:

    python bench/answer_distillation.py [--dataset loc_mnist_1to4] [--rounds 12] [--fit-steps 300] [--seed 1]

The table is printed and written to --out as DATASET_seedSEED.md.
"""
import argparse
import copy
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F

from query_efficiency import main_job_data


def image_gradient(prompter, model, x, y):
    "The gradient of the batch's cross-entropy in the prompted images."
    with torch.enable_grad():
        p = prompter.differentiable(x).detach().requires_grad_(True)
        return torch.autograd.grad(F.cross_entropy(model.gradient_path()(p), y), p)[0]


def cosines(prompter, target, surrogate, batches):
    "Mean cosine of the surrogate's gradient with the target's, in the decoder's parameters and in the images."
    from blackvip.learners import exact_gradient
    cos = lambda a, b: F.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()
    params = [cos(exact_gradient(prompter, surrogate, x, y), exact_gradient(prompter, target, x, y)) for x, y in batches]
    images = [cos(image_gradient(prompter, surrogate, x, y), image_gradient(prompter, target, x, y)) for x, y in batches]
    return statistics.mean(params), statistics.mean(images)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dataset', default='loc_mnist_1to4')
    p.add_argument('--rounds', type=int, default=12, help='perturbed decoders each training image is answered under')
    p.add_argument('--c', type=float, default=0.01, help="SPSA's perturbation size")
    p.add_argument('--fit-steps', type=int, default=300)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--out', default='results/answer_distillation')
    a = p.parse_args()
    torch.set_num_threads(2)
    from blackvip.config import make_prompter
    from blackvip.estimates import segmented_uniform
    from blackvip.surrogate import load_surrogate
    from blackvip.targets import DigitTarget
    cfg, X, Y = main_job_data(a.dataset, a.seed)
    prompter, target, surrogate = make_prompter(cfg), DigitTarget(), load_surrogate()
    gen = torch.Generator().manual_seed(a.seed)
    order = torch.randperm(len(Y), generator=gen)
    batches = [(X[order[i:i + 4]], Y[order[i:i + 4]]) for i in range(0, 24, 4)]
    w0 = prompter.params()
    images, answers = [], []
    for _ in range(a.rounds):   # the answers a run pays for: the training images under perturbed decoders
        W = (w0 + a.c * segmented_uniform((len(w0),), gen))[None]
        ctx = prompter.context(X)
        imgs = prompter.prompted(ctx, W, train=True)[0].clone()
        images.append(imgs); answers.append(target(imgs).clone())
    images, answers = torch.cat(images), torch.cat(answers)
    before = cosines(prompter, target, surrogate, batches)
    fitted = copy.deepcopy(surrogate)
    net = fitted.net.train().requires_grad_(True)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    with torch.enable_grad():
        for _ in range(a.fit_steps):
            i = torch.randint(0, len(images), (32,), generator=gen)
            out = F.log_softmax(fitted.logits(fitted.preprocess(images[i])), -1)
            kl = F.kl_div(out, F.log_softmax(answers[i], -1), log_target=True, reduction='batchmean')
            opt.zero_grad(); kl.backward(); opt.step()
    net.eval()
    with torch.no_grad():
        agree = lambda m: (m.logits(m.preprocess(images)).argmax(-1) == answers.argmax(-1)).float().mean().item()
        agree_before, agree_after = agree(surrogate), agree(fitted)
    after = cosines(prompter, target, fitted, batches)
    md = '\n'.join([
        f'{a.dataset}, seed {a.seed}: {len(images):,} answered images ({a.rounds} perturbed decoders x {len(Y)} '
        f'training images), {a.fit_steps} fitting steps (final KL {kl.item():.3f})', '',
        '| surrogate | agrees with the target on the answered images | cosine in the parameters | cosine in the images |',
        '|---|---|---|---|',
        f'| shipped (UCI digits) | {100 * agree_before:.1f}% | {before[0]:+.3f} | {before[1]:+.3f} |',
        f'| fitted to the answers | {100 * agree_after:.1f}% | {after[0]:+.3f} | {after[1]:+.3f} |'])
    print(md)
    out = Path(a.out) / f'{a.dataset}_seed{a.seed}.md'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md + '\n')


if __name__ == '__main__':
    main()
