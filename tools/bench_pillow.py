#!/usr/bin/env python3
"""Pillow's side of `bench_datasets --jpeg`: what torchvision's ImageNet training transform does
with Pillow, on one thread, timed over the same files as qtrain's reader.

Per file: open, convert("RGB"), RandomResizedCrop(size, scale=(0.08, 1), ratio=(3/4, 4/3))
(torchvision's get_params, then crop + BILINEAR resize), a horizontal flip with p = 0.5, and
with numpy present ToTensor + Normalize (float32 CHW, ImageNet's mean/std).
Usage: bench_pillow.py SIZE FILE... ; prints "pillow_images_per_second=X normalize=0|1", images
per second of CPU time (run it with OPENBLAS_NUM_THREADS=1 so numpy stays on one core).
"""
import math
import random
import sys
import time

from PIL import Image

try:
    import numpy as np
except ImportError:  # without numpy the float conversion is left out (and said so)
    np = None

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def crop_params(width, height, rng):
    area = width * height
    log_lo, log_hi = math.log(3 / 4), math.log(4 / 3)
    for _ in range(10):
        target = area * rng.uniform(0.08, 1.0)
        ratio = math.exp(rng.uniform(log_lo, log_hi))
        w = int(round(math.sqrt(target * ratio)))
        h = int(round(math.sqrt(target / ratio)))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, width - w), rng.randint(0, height - h), w, h
    in_ratio = width / height
    if in_ratio < 3 / 4:
        w, h = width, int(round(width / (3 / 4)))
    elif in_ratio > 4 / 3:
        w, h = int(round(height * (4 / 3))), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def transform(path, size, rng, mean, std):
    with Image.open(path) as im:
        im = im.convert("RGB")
        x, y, w, h = crop_params(im.width, im.height, rng)
        out = im.crop((x, y, x + w, y + h)).resize((size, size), Image.BILINEAR)
    if rng.random() < 0.5:
        out = out.transpose(Image.FLIP_LEFT_RIGHT)
    if np is not None:
        a = np.asarray(out, dtype=np.float32).transpose(2, 0, 1) / 255.0
        return (a - mean) / std
    return out


def main():
    size = int(sys.argv[1])
    files = sys.argv[2:]
    rng = random.Random(1)
    mean = std = None
    if np is not None:
        mean = np.array(MEAN, dtype=np.float32).reshape(3, 1, 1)
        std = np.array(STD, dtype=np.float32).reshape(3, 1, 1)
    transform(files[0], size, rng, mean, std)  # warm-up: imports and caches
    # CPU time, not wall time: on a shared machine the wall clock counts the other jobs' turns.
    t0 = time.process_time()
    for f in files:
        transform(f, size, rng, mean, std)
    seconds = time.process_time() - t0
    print(f"pillow_images_per_second={len(files) / seconds:.1f} normalize={int(np is not None)}")


if __name__ == "__main__":
    main()
