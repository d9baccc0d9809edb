"""Step speed on the embedded default: one BlackVIP training step at batch 8, against the target's own inference.

Measured in one process: the embedded digit classifier as the target, a Coordinator with the 'pixels' encoder,
Loc-MNIST 1:1, sp_avg = 5 (10 prompted copies of the batch per step). Three timings:

- the target's inference of the 10 x batch prompted images it must answer (the unavoidable part),
- a full training step with the package's `decode_many`,
- the same step with the previous implementation of `decode_many` (dense block-diagonal einsums, fresh
  temporaries; kept here verbatim as the baseline, git 14a4ad7), which produces the same prompts.

    python bench/step_speed.py [--batch 8] [--repeat 5]
"""
import argparse

import torch

from common import best_of
import blackvip.coordinator as coordinator
from blackvip.coordinator import Coordinator
from blackvip.data import few_shot
from blackvip.estimates import SPSA
from blackvip.optimisers import ZOOptimizer
from blackvip.learners import ZerothOrder
from blackvip.targets import DigitTarget
from blackvip.config import RunConfig, make_dataset
from blackvip.train import get_batch, train_step


def _up2(h, m, bias=None):
    n, k, _, H, W = h.shape
    out = torch.einsum('nkchw,kcoij->nkohiwj', h, m).reshape(n, k, m.shape[2], 2 * H, 2 * W)
    return out if bias is None else out + bias.view(1, k, -1, 1, 1)


def _block_diag(w, groups):
    k, cin, cog = w.shape[:3]
    eye = torch.eye(groups, dtype=w.dtype, device=w.device)
    w = w.reshape(k, groups, cin // groups, cog, 2, 2)
    return torch.einsum('kgcoij,gh->kgchoij', w, eye).reshape(k, cin, groups * cog, 2, 2)


def previous_decode_many(decoder, z, W, train=True, update_stats=True):
    "The package's decode_many before the fast step (git 14a4ad7)."
    k, n = W.shape[0], len(z)
    shapes = [p.shape for p in decoder.parameters()]
    params = iter(torch.split(W, [s.numel() for s in shapes], dim=1))
    per_copy = lambda s: next(params).reshape(k, *s)
    trig = per_copy(shapes[0])[:, 0]
    h = torch.cat([z[None].expand(k, -1, -1), trig[:, None].expand(-1, n, -1)], 2)
    h = h.view(k, n, decoder.src_c, 7, 7).transpose(0, 1)
    layers = list(decoder.body)
    for i in range(0, len(layers) - 1, 4):
        dw, pw, bn, act = layers[i:i + 4]
        dw_w, dw_b = per_copy(dw.weight.shape), per_copy(dw.bias.shape)
        p = per_copy(pw.weight.shape)[..., 0, 0]
        h = _up2(h, torch.einsum('kcmij,kmo->kcoij', _block_diag(dw_w, dw.groups), p), torch.einsum('km,kmo->ko', dw_b, p))
        gamma, beta = per_copy(bn.weight.shape).view(1, k, -1, 1, 1), per_copy(bn.bias.shape).view(1, k, -1, 1, 1)
        if train:
            var, mean = torch.var_mean(h, dim=(0, 3, 4), unbiased=False, keepdim=True)
            if update_stats:
                count = n * h.shape[3] * h.shape[4]
                bn.running_mean.copy_(coordinator._ema_stats(bn.running_mean, mean[0, :, :, 0, 0], bn.momentum))
                bn.running_var.copy_(coordinator._ema_stats(bn.running_var, var[0, :, :, 0, 0] * count / (count - 1), bn.momentum))
                bn.num_batches_tracked += k
        else:
            mean, var = bn.running_mean.view(1, 1, -1, 1, 1), bn.running_var.view(1, 1, -1, 1, 1)
        scale = gamma * torch.rsqrt(var + bn.eps)
        h = act(torch.addcmul(beta - mean * scale, h, scale))
    return _up2(h, per_copy(layers[-1].weight.shape)).transpose(0, 1).contiguous()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--repeat', type=int, default=5)
    a = p.parse_args()
    cfg = RunConfig(method='blackvip', dataset='loc_mnist_1to1', batch_size=a.batch).resolve()
    train_set = few_shot(make_dataset(cfg.dataset, True), cfg.shots, seed=1)
    x, y = get_batch(train_set, torch.arange(a.batch))
    target = DigitTarget()
    torch.manual_seed(0)
    coord = Coordinator('pixels', p_eps=cfg.p_eps)
    k = 2 * cfg.sp_avg
    ctx = coord.context(x)
    W = coord.params()[None].repeat(k, 1)
    with torch.inference_mode():
        same = (coordinator.decode_many(coord.decoder, ctx['z'], W, update_stats=False)
                - previous_decode_many(coord.decoder, ctx['z'], W, update_stats=False)).abs().max().item()
    imgs = coord.prompted(ctx, W).reshape(k * a.batch, 3, 224, 224)
    floor = best_of(lambda: target(imgs), a.repeat)

    def step_time(decode):
        coord.decoder.load_state_dict(Coordinator('pixels').decoder.state_dict())
        opt = ZerothOrder(ZOOptimizer(SPSA(cfg.c, cfg.gamma, cfg.sp_avg), a=cfg.a, o=cfg.o, alpha=cfg.alpha, beta=cfg.beta), max_batch=cfg.max_batch)
        g = torch.Generator().manual_seed(0)
        coordinator.decode_many, saved = decode, coordinator.decode_many
        try: return best_of(lambda: train_step(cfg, coord, target, opt, x, y, g), a.repeat)
        finally: coordinator.decode_many = saved

    new, old = step_time(coordinator.decode_many), step_time(previous_decode_many)
    print(f'| batch | target inference of {k}x batch (s) | previous step (s) | step (s) | step / inference | images per s (previous -> now) | speed-up |')
    print('|---|---|---|---|---|---|---|')
    print(f'| {a.batch} | {floor:.4f} | {old:.4f} | {new:.4f} | {new / floor:.1f} | '
          f'{k * a.batch / old:.0f} -> {k * a.batch / new:.0f} | {old / new:.2f}x |')
    print(f'largest difference between the two decoders\' prompts: {same:.1e}')


if __name__ == '__main__':
    main()
