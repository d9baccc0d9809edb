"""Step overhead: one BlackVIP training step against the target inference it cannot avoid.

The unavoidable cost of a step is 2 * sp_avg forward passes of the batch through the target. Everything else
(the coordinator's encoder, once per batch; the 2 * sp_avg decoders; the update) is overhead. Measured in one
process with the real architectures (CLIP ViT-B/16 target, ViT-B/16 MAE encoder, random weights).

    python bench/step_overhead.py [--batch 2] [--sp-avg 5] [--threshold 1.10]

With --threshold, exits with status 1 when the ratio exceeds it. A ViT-B/16 encoder costs about as much per image
as the ViT-B/16 target's image tower, and it sees the batch once against the target's 2 * sp_avg times, so
1 + 1 / (2 * sp_avg) (1.10 at sp_avg 5) is the structural floor of this ratio with these two architectures.
"""
import argparse
import sys

import torch

from common import best_of, real_parts
from blackvip.estimates import SPSA
from blackvip.optimisers import ZOOptimizer
from blackvip.learners import ZerothOrder
from blackvip.config import RunConfig
from blackvip.train import train_step


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--sp-avg', type=int, default=5)
    p.add_argument('--threshold', type=float, default=None, help='exit with status 1 above this ratio')
    p.add_argument('--repeat', type=int, default=3)
    a = p.parse_args()
    torch.manual_seed(0)
    target, coord = real_parts()
    x = torch.rand(a.batch, 3, 224, 224)
    y = torch.randint(0, 10, (a.batch,))
    k = 2 * a.sp_avg
    cfg = RunConfig(method='blackvip', max_batch=k * a.batch, sp_avg=a.sp_avg).resolve()
    opt = ZerothOrder(ZOOptimizer(SPSA(cfg.c, cfg.gamma, cfg.sp_avg), a=cfg.a, alpha=cfg.alpha, beta=cfg.beta), max_batch=cfg.max_batch)
    g = torch.Generator().manual_seed(0)
    imgs = x.repeat(k, 1, 1, 1)
    floor = best_of(lambda: target(imgs), a.repeat)
    step = best_of(lambda: train_step(cfg, coord, target, opt, x, y, g), a.repeat)
    ratio = step / floor
    print(f'| batch | sp_avg | target inference of {k}x batch (s) | BlackVIP step (s) | overhead ratio |')
    print('|---|---|---|---|---|')
    print(f'| {a.batch} | {a.sp_avg} | {floor:.3f} | {step:.3f} | {ratio:.3f} |')
    print(f'structural floor with an encoder as large as the target: {1 + 1 / k:.3f}')
    if a.threshold is not None and ratio > a.threshold:
        print(f'ratio {ratio:.3f} exceeds the threshold {a.threshold}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
