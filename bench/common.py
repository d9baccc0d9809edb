"Shared set-up of the benchmarks: the real architectures with random weights, and a timer."
import time

import torch

from blackvip.coordinator import Coordinator
from blackvip.targets import ClipZeroShot, create_clip


def real_parts(classes=10, encoder='mae-vit-b16', target='ViT-B-16', seed=0):
    "A randomly initialised CLIP ViT-B/16 zero-shot target and a Coordinator with a ViT-B/16 encoder."
    torch.manual_seed(seed)
    model, tok = create_clip(target, pretrained=None)
    clip = ClipZeroShot.from_model(model, tok, [f'class {i}' for i in range(classes)], 'a photo of a {}.')
    return clip, Coordinator(encoder, pretrained=False, p_eps=1.0)


def best_of(fn, repeat=3):
    "The fastest of `repeat` timed calls of `fn` (after one warm-up call), in seconds."
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
