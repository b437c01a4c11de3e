#!/usr/bin/python3
"""tools/import_torch end to end (run by tests/test_import_torch.cpp; Debian's python3-torch).

For each supported PyTorch definition: a model with random weights and random BatchNorm
statistics, its state_dict saved, imported, and evaluated by `qtrain eval --logits` on a small
dataset this script writes in the dataset's own file format (MNIST IDX, CIFAR-10 binary, qtimg
at 224×224 for torchvision's ResNet-18); the logits must be PyTorch's within 1e-4 relative to
max(1, |logit|). Then a state_dict that does not fit is refused with one message (exit 3), and a
BinaryRelax run starts from an imported LeNet-5 and trains.
Usage: QTRAIN_BIN=build/app/qtrain tests/import_torch_check.py
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
QTRAIN = os.environ.get("QTRAIN_BIN", str(ROOT / "build/app/qtrain"))
IMPORT = str(ROOT / "tools/import_torch")
N = 8  # images per split


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))))


class MLPBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.bn1 = nn.Linear(784, 300), nn.BatchNorm1d(300)
        self.fc2, self.bn2 = nn.Linear(300, 100), nn.BatchNorm1d(100)
        self.fc3 = nn.Linear(100, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.fc1(torch.flatten(x, 1))))
        return self.fc3(F.relu(self.bn2(self.fc2(x))))


class CifarBlock(nn.Module):
    """The common CIFAR ResNet block; option A pads the strided identity with zero channels."""

    def __init__(self, inp, planes, stride, option):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.option, self.stride, self.pad = option, stride, (planes - inp) // 2
        self.extra = planes - inp - self.pad
        self.shortcut = nn.Sequential()
        if (stride != 1 or inp != planes) and option == "B":
            self.shortcut = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False),
                                          nn.BatchNorm2d(planes))
        self.changes = stride != 1 or inp != planes

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.changes and self.option == "A":
            short = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.pad, self.extra))
        else:
            short = self.shortcut(x)
        return F.relu(out + short)


class CifarResNet(nn.Module):
    def __init__(self, depth, option):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1, self.bn1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
        inp, layers = 16, []
        for stage, planes in enumerate((16, 32, 64)):
            blocks = []
            for b in range(n):
                blocks.append(CifarBlock(inp, planes, 2 if stage > 0 and b == 0 else 1, option))
                inp = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x))))))
        return self.linear(x.mean((2, 3)))


class VGG11(nn.Module):
    def __init__(self):
        super().__init__()
        layers, inp = [], 3
        for c in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
            if c == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(inp, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(True)]
                inp = c
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class TvBlock(nn.Module):
    """torchvision's BasicBlock (resnet18), with its `downsample` names."""

    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inp != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class TvResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        inp, stages = 64, []
        for s, planes in enumerate((64, 128, 256, 512)):
            stages.append(nn.Sequential(TvBlock(inp, planes, 2 if s else 1),
                                        TvBlock(planes, planes, 1)))
            inp = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean((2, 3)))


def randomize(model, gen):
    """Random weights on top of PyTorch's initialisation, and random BatchNorm statistics."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                m.weight.copy_(1 + 0.2 * torch.randn(c, generator=gen))
                m.bias.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
                m.num_batches_tracked.fill_(100)
    return model.eval()


# The datasets, in their publishers' formats, N random images per split.
def write_mnist(d, images, labels):
    for split, prefix in (("train", "train"), ("test", "t10k")):
        (d / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 0x803, N, 28, 28) + images[split].tobytes())
        (d / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 0x801, N) + labels[split].astype(np.uint8).tobytes())


def write_cifar10(d, images, labels):
    def batch(split, rows):
        return b"".join(bytes([int(labels[split][i])]) + images[split][i].tobytes() for i in rows)
    for k in range(1, 6):
        (d / f"data_batch_{k}.bin").write_bytes(batch("train", range(N)))
    (d / "test_batch.bin").write_bytes(batch("test", range(N)))


def write_qtimg(d, images, labels):
    for split, name in (("train", "train.qtimg"), ("test", "val.qtimg")):
        c, h, w = images[split].shape[1:]
        head = b"QTIMG001" + struct.pack("<QHHHHI", N, c, h, w, 1000, 0)
        head += struct.pack("<I", zlib.crc32(head))
        (d / name).write_bytes(head + labels[split].astype("<u2").tobytes() +
                               images[split].tobytes())


CASES = [  # qtrain options, PyTorch model, dataset writer, image shape, classes
    (["--model", "lenet5", "--dataset", "mnist"], LeNet5, write_mnist, (28, 28), 10),
    (["--model", "mlp-bn", "--dataset", "mnist"], MLPBN, write_mnist, (28, 28), 10),
    (["--model", "resnet20", "--dataset", "cifar10"], lambda: CifarResNet(20, "A"),
     write_cifar10, (3, 32, 32), 10),
    (["--model", "resnet20", "--dataset", "cifar10", "--shortcut", "B"],
     lambda: CifarResNet(20, "B"), write_cifar10, (3, 32, 32), 10),
    (["--model", "vgg11", "--dataset", "cifar10"], VGG11, write_cifar10, (3, 32, 32), 10),
    (["--model", "resnet18", "--dataset", "imagenet"], TvResNet18, write_qtimg, (3, 224, 224),
     1000),
]


def run(args, expect=0):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != expect:
        sys.exit(f"FAIL: {' '.join(args)} exited {r.returncode}, expected {expect}:\n"
                 f"{r.stdout}{r.stderr}")
    return r


def main():
    tmp = Path(tempfile.mkdtemp(prefix="qtrain-import-torch-"))
    try:
        check(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check(tmp):
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(16)
    rng = np.random.default_rng(16)
    common = ["--val-size", "0", "--normalization", "none", "--augment", "off"]
    for opts, make, writer, shape, classes in CASES:
        label = " ".join(opts)
        d = tmp / str(len(list(tmp.iterdir())))
        d.mkdir()
        images = {s: rng.integers(0, 256, (N,) + shape, dtype=np.uint8) for s in ("train", "test")}
        labels = {s: rng.integers(0, classes, N) for s in ("train", "test")}
        writer(d, images, labels)
        torch.manual_seed(int(torch.randint(1 << 30, (1,), generator=gen)))
        model = randomize(make(), gen)
        torch.save(model.state_dict(), d / "model.pth")
        run([IMPORT, str(d / "model.pth"), str(d / "model.ckpt"), *opts, *common,
             "--data-dir", str(d)])
        run([QTRAIN, "eval", str(d / "model.ckpt"), "--logits", str(d / "logits.npy"),
             "--threads", "2"])
        x = torch.from_numpy(images["test"].astype(np.float32) / 255).reshape((N, -1) + shape[-2:])
        with torch.no_grad():
            want = model(x).numpy()
        got = np.load(d / "logits.npy")
        assert got.shape == want.shape, f"{label}: qtrain {got.shape}, PyTorch {want.shape}"
        worst = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
        print(f"{label}: {N} images, largest relative logit difference {worst:.3g} "
              f"(logits up to {np.abs(want).max():.3g})")
        assert math.isfinite(worst) and worst <= 1e-4, f"{label}: {worst} > 1e-4"
        if opts[1] == "lenet5":
            lenet = d

    # A state_dict that does not fit: one message naming every problem, exit 3.
    state = LeNet5().state_dict()
    state["fc3.weight"] = torch.zeros(11, 84)
    state["fc4.weight"] = torch.zeros(3)
    del state["conv2.bias"]
    torch.save(state, lenet / "bad.pth")
    r = run([IMPORT, str(lenet / "bad.pth"), str(lenet / "bad.ckpt"), "--model", "lenet5",
             "--dataset", "mnist"], expect=3)
    message = r.stderr.strip()
    for part in ("missing conv2.bias", "fc3.weight has shape (11, 84)", "left over fc4.weight"):
        assert part in message, f"the refusal does not name '{part}': {message}"
    assert len(message.splitlines()) == 1, f"expected one message line: {message}"
    assert not (lenet / "bad.ckpt").exists(), "a refused import wrote a checkpoint"
    print("a state_dict that does not fit: " + message)

    # BinaryRelax from the imported LeNet-5: it trains (finite losses, every epoch recorded).
    run([QTRAIN, "train", "--model", "lenet5", "--dataset", "mnist", "--data-dir", str(lenet),
         *common, "--algo", "binaryrelax", "--epochs", "2", "--batch-size", "4", "--lr", "0.01",
         "--init-from", str(lenet / "model.ckpt"), "--out", str(lenet / "br"), "--quiet",
         "--threads", "2"])
    records = [json.loads(l) for l in (lenet / "br/metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2, f"expected 2 epochs in metrics.jsonl, found {len(records)}"
    print("binaryrelax from the imported lenet5: " +
          ", ".join(f"epoch {r.get('epoch')} train loss {r.get('train_loss')}" for r in records))
    for r in records:
        assert math.isfinite(r["train_loss"]), r
    print("import_torch_check: all passed")


if __name__ == "__main__":
    main()
