"""HTTP overhead per query: a target served over HTTP against the same target in process, measured in one run.

For each target (the embedded digit classifier; open_clip ViT-B/16 with random weights and 10 classes, the paper's
target architecture) and each batch size, the seconds one call takes in process and through `HTTPTarget` to the
same target served by `make_app` under uvicorn on localhost (a server thread in this process, as `BackgroundServer`
runs it), over the exact wire (npy, float32) and over 8-bit PNG. Median of --repeats calls after one warm-up call;
prints the ratio to in process and the overhead per image, and writes the table to --out:

    python bench/http_overhead.py [--batches 1 8 64] [--clip-batches 1 8] [--repeats 5] [--out results/http/overhead.md]
"""
import argparse
import statistics
import time
from pathlib import Path

import torch

from blackvip.api import BackgroundServer, HTTPTarget, make_app
from blackvip.targets import ClipZeroShot, DigitTarget, create_clip, load_digit_cnn


def seconds_per_call(target, x, repeats):
    "Median wall time of one call of `target` on `x`, after a warm-up call."
    target(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        target(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def digit_target(): return DigitTarget(load_digit_cnn())


def clip_target():
    torch.manual_seed(0)
    model, tokenizer = create_clip('ViT-B-16', pretrained=None)
    return ClipZeroShot.from_model(model, tokenizer, [str(d) for d in range(10)], 'This is a photo of {}')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batches', nargs='+', type=int, default=[1, 8, 64], help='batch sizes for the embedded target')
    p.add_argument('--clip-batches', nargs='+', type=int, default=[1, 8], help='batch sizes for CLIP ViT-B/16 (slow on a CPU)')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--out', default='results/http/overhead.md')
    a = p.parse_args()
    rows = ['| target | images per call | in process (s) | over HTTP, npy (s) | ratio | overhead per image, npy (ms) | over HTTP, png (s) | ratio |',
            '|---|---|---|---|---|---|---|---|']
    for name, make, batches in (('embedded digit classifier', digit_target, a.batches), ('CLIP ViT-B/16 (random weights)', clip_target, a.clip_batches)):
        local = make()
        with torch.inference_mode(), BackgroundServer(make_app(make())) as url:
            remote = {wire: HTTPTarget(url, wire=wire) for wire in ('npy', 'png')}
            for n in batches:
                x = torch.rand(n, 3, 224, 224, generator=torch.Generator().manual_seed(n))
                t = {'local': seconds_per_call(local, x, a.repeats), **{w: seconds_per_call(r, x, a.repeats) for w, r in remote.items()}}
                rows.append(f"| {name} | {n} | {t['local']:.4f} | {t['npy']:.4f} | {t['npy'] / t['local']:.2f} | "
                            f"{1000 * (t['npy'] - t['local']) / n:.2f} | {t['png']:.4f} | {t['png'] / t['local']:.2f} |")
                print(rows[-1], flush=True)
    table = '\n'.join(rows)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(f"Measured with `python bench/http_overhead.py --repeats {a.repeats}` ({torch.get_num_threads()} torch threads).\n\n{table}\n")
    print(table)
    print(f'written to {a.out}')


if __name__ == '__main__':
    main()
