"""Our step against the reference's structure: same inputs, same numbers out, and the speed-up.

The reference re-encodes the batch inside every one of the 2 * sp_avg queries and sends them to the target one
after another; we encode once per batch and send all perturbed copies as one batched call. Both compute the same
SPSA gradient estimate from the same perturbations; the script checks they agree and prints the speed-up.

    python bench/reference_structure.py [--batch 2] [--sp-avg 5]
"""
import argparse

import torch

from common import best_of, real_parts
from blackvip.coordinator import decode_many
from blackvip.estimates import SPSA, segmented_uniform
from blackvip.targets import score_loss
from blackvip.learners import make_loss_fn


def reference_losses(coord, target, x, y, W):
    "Loss of each parameter vector the reference's way: encoder, decoder and a target call per query."
    losses = []
    for w in W:
        z = coord.encoder(coord.resize(x))
        prompt = decode_many(coord.decoder, z, w[None])[0]
        scores = target((coord.resize(x) + coord.unit * coord.p_eps * prompt).clamp(0, 1))
        losses.append(score_loss(scores, y, target.output))
    return torch.stack(losses)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--sp-avg', type=int, default=5)
    p.add_argument('--repeat', type=int, default=2)
    a = p.parse_args()
    torch.manual_seed(0)
    target, coord = real_parts()
    x, y = torch.rand(a.batch, 3, 224, 224), torch.randint(0, 10, (a.batch,))
    w = coord.params()
    deltas = segmented_uniform((a.sp_avg, w.numel()), torch.Generator().manual_seed(0))
    est = SPSA(c=0.01, gamma=0.1, sp_avg=a.sp_avg)
    state = {k: v.clone() for k, v in coord.decoder.state_dict().items()}

    def ours():
        coord.decoder.load_state_dict(state)
        fn = make_loss_fn(coord, target, coord.context(x), y, max_batch=2 * a.sp_avg * a.batch)
        return est.estimate(fn, w, 1, deltas=deltas)[0]

    def reference():
        coord.decoder.load_state_dict(state)
        return est.estimate(lambda W: reference_losses(coord, target, x, y, W), w, 1, deltas=deltas)[0]

    with torch.inference_mode():
        g_ours, g_ref = ours(), reference()
        cos = torch.nn.functional.cosine_similarity(g_ours, g_ref, dim=0).item()
        rel = ((g_ours - g_ref).norm() / g_ref.norm()).item()
        t_ours, t_ref = best_of(ours, a.repeat), best_of(reference, a.repeat)
    print('| batch | sp_avg | reference structure (s) | ours (s) | speed-up | cosine(g_ours, g_ref) | relative difference |')
    print('|---|---|---|---|---|---|---|')
    print(f'| {a.batch} | {a.sp_avg} | {t_ref:.3f} | {t_ours:.3f} | {t_ref / t_ours:.2f}x | {cos:.6f} | {rel:.2e} |')


if __name__ == '__main__':
    main()
