"""Peak memory of a BlackVIP step, of plain target inference, and of a white-box VP step, same batch.

Each measurement runs in a fresh process: build the models, note the peak memory so far, run the operation, and
report the growth of the peak (CPU: resident set size; GPU: torch.cuda.max_memory_allocated). The real
architectures (CLIP ViT-B/16 target, ViT-B/16 encoder, random weights) are used.

    python bench/memory.py [--batch 2] [--sp-avg 5] [--device cpu]
"""
import argparse
import json
import resource
import subprocess
import sys

import torch


def measure(what, batch, sp_avg, device):
    "Peak-memory growth in MiB of one operation, in this process."
    from common import real_parts
    from blackvip.prompters import PaddingPrompt
    from blackvip.estimates import SPSA
    from blackvip.optimisers import ZOOptimizer
    from blackvip.learners import ZerothOrder
    from blackvip.config import RunConfig
    from blackvip.train import train_step
    import torch.nn.functional as F
    torch.manual_seed(0)
    target, coord = real_parts()
    target.to(device)
    target.device = torch.device(device)
    x, y = torch.rand(batch, 3, 224, 224), torch.randint(0, 10, (batch,))
    k = 2 * sp_avg
    cfg = RunConfig(method='blackvip', sp_avg=sp_avg, max_batch=k * batch).resolve()
    opt = ZerothOrder(ZOOptimizer(SPSA(cfg.c, cfg.gamma, cfg.sp_avg), a=cfg.a, alpha=cfg.alpha, beta=cfg.beta), max_batch=cfg.max_batch)
    vp = PaddingPrompt()
    sgd = torch.optim.SGD(vp.parameters(), lr=1.0)
    def whitebox_step(copies=1):
        xx, yy = x.repeat(copies, 1, 1, 1), y.repeat(copies)
        loss = F.cross_entropy(target.gradient_path()(vp.differentiable(xx).to(device)), yy.to(device))
        sgd.zero_grad(); loss.backward(); sgd.step()
    ops = {'inference': lambda: target(x.repeat(k, 1, 1, 1)),
           'blackvip_step': lambda: train_step(cfg, coord, target, opt, x, y, torch.Generator().manual_seed(0)),
           'whitebox_vp_step': whitebox_step,
           'whitebox_vp_step_same_images': lambda: whitebox_step(k)}
    if device == 'cuda':
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.max_memory_allocated()
        ops[what](); torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2 ** 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ops[what]()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--sp-avg', type=int, default=5)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--measure', default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.measure:
        print(json.dumps(measure(a.measure, a.batch, a.sp_avg, a.device)))
        return
    res = {}
    for what in ('inference', 'blackvip_step', 'whitebox_vp_step', 'whitebox_vp_step_same_images'):
        out = subprocess.run([sys.executable, __file__, '--measure', what, '--batch', str(a.batch), '--sp-avg', str(a.sp_avg),
                              '--device', a.device], capture_output=True, text=True, check=True)
        res[what] = json.loads(out.stdout.strip().splitlines()[-1])
    k = 2 * a.sp_avg
    print(f'Peak memory growth (MiB, {a.device}), batch {a.batch}; inference = {k} copies of the batch, as one step queries:')
    print(f'| target inference ({k}x batch) | BlackVIP step | white-box VP step (batch) | white-box VP step ({k}x batch) '
          '| BlackVIP / inference | white-box VP ({k}x) / BlackVIP |'.replace('{k}', str(k)))
    print('|---|---|---|---|---|---|')
    print(f"| {res['inference']:.0f} | {res['blackvip_step']:.0f} | {res['whitebox_vp_step']:.0f} | "
          f"{res['whitebox_vp_step_same_images']:.0f} | {res['blackvip_step'] / res['inference']:.2f} | "
          f"{res['whitebox_vp_step_same_images'] / res['blackvip_step']:.2f} |")


if __name__ == '__main__':
    main()
