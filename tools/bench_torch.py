#!/usr/bin/python3
"""PyTorch side of tools/bench: qtrain's models (engine/models) defined again in PyTorch, with the
same layer names, timed on the same training step as tools/bench_step.cpp.

Run with Debian's interpreter (/usr/bin/python3) and its python3-torch (tools/setup --bench).
Modes, each printing key=value lines that tools/bench parses:
  --models mlp,lenet5   one line per model: median step time, images/s, peak RSS
  --profile             per-layer forward/backward times (each leaf module alone, on the shapes
                        it sees in the model), then the whole forward and forward+backward
  --cpu-clock           (with --threads 1) time by the process's CPU clock, not the wall clock
  --baseline            peak RSS of the interpreter with torch imported, nothing else
  --infer               float inference (eval mode, no gradients) of model@size specs (vgg11@32,
                        resnet18@224): batch-1 median latency and the throughput at --batch
                        (16 at 224×224), for tools/bench --infer
  --count               parameter counts of every model on its natural input (the figures that
                        tests/test_models.cpp asserts), plus a few adapted variants
"""
import argparse
import os
import resource
import statistics
import sys
import time
from collections import OrderedDict

if "--cpu-clock" in sys.argv:
    # torch.set_num_threads(1) leaves OpenBLAS's own thread pool running; one thread means one.
    # These must be set before torch (and its BLAS) is loaded.
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("error=torch-missing")
    sys.stderr.write("bench_torch.py: PyTorch is not importable by %s; install Debian's python3-torch "
                     "with tools/setup --bench\n" % sys.executable)
    sys.exit(3)


# ---- models: the same layers, order and names as engine/models ----------------------------------

def features_of(layers, c, h, w):
    """Flattened size after `layers` for one c×h×w image."""
    with torch.no_grad():
        net = nn.Sequential(OrderedDict(layers)).eval()
        return net(torch.zeros(1, c, h, w)).numel()


def mlp(c, h, w, classes, bn=False, logit_bn=False):
    widths = [c * h * w, 300, 100]
    layers = [("flatten", nn.Flatten())]
    for i in (1, 2):
        layers.append(("fc%d" % i, nn.Linear(widths[i - 1], widths[i])))
        if bn:
            layers.append(("bn%d" % i, nn.BatchNorm1d(widths[i])))
        layers.append(("act%d" % i, nn.ReLU()))
    layers.append(("fc3", nn.Linear(100, classes)))
    if logit_bn:
        layers.append(("logit_bn", nn.BatchNorm1d(classes)))
    return nn.Sequential(OrderedDict(layers))


def lenet5(c, h, w, classes, bn=False, logit_bn=False):
    layers = [("conv1", nn.Conv2d(c, 6, 5, padding=2))]
    if bn:
        layers.append(("bn1", nn.BatchNorm2d(6)))
    layers += [("act1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)), ("conv2", nn.Conv2d(6, 16, 5))]
    if bn:
        layers.append(("bn2", nn.BatchNorm2d(16)))
    layers += [("act2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)), ("flatten", nn.Flatten())]
    widths = [features_of(layers, c, h, w), 120, 84]
    for i in (1, 2):
        layers.append(("fc%d" % i, nn.Linear(widths[i - 1], widths[i])))
        if bn:
            layers.append(("bn%d" % (i + 2), nn.BatchNorm1d(widths[i])))
        layers.append(("act%d" % (i + 2), nn.ReLU()))
    layers.append(("fc3", nn.Linear(84, classes)))
    if logit_bn:
        layers.append(("logit_bn", nn.BatchNorm1d(classes)))
    return nn.Sequential(OrderedDict(layers))


def vgg_features(cfg, c):
    layers, conv, pool = [], 0, 0
    for v in cfg:
        if v == "M":
            pool += 1
            layers.append(("pool%d" % pool, nn.MaxPool2d(2)))
        else:
            conv += 1
            layers += [("conv%d" % conv, nn.Conv2d(c, v, 3, padding=1)),
                       ("bn%d" % conv, nn.BatchNorm2d(v)), ("act%d" % conv, nn.ReLU())]
            c = v
    return layers + [("flatten", nn.Flatten())]


def vgg_iterative(cfg, c, h, w, classes):
    """vgg5 / vgg9 of rakutentech/iterative_training: BatchNorm after every linear layer too."""
    layers = vgg_features(cfg, c)
    first_bn = sum(1 for v in cfg if v != "M") + 1
    widths = [features_of(layers, c, h, w), 256, 256]
    for i in (1, 2):
        b = first_bn + i - 1
        layers += [("fc%d" % i, nn.Linear(widths[i - 1], widths[i])),
                   ("bn%d" % b, nn.BatchNorm1d(widths[i])), ("act%d" % b, nn.ReLU())]
    layers += [("fc3", nn.Linear(256, classes)), ("logit_bn", nn.BatchNorm1d(classes))]
    return nn.Sequential(OrderedDict(layers))


def vgg11(c, h, w, classes, logit_bn=False):
    layers = vgg_features([64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"], c)
    layers.append(("fc", nn.Linear(features_of(layers, c, h, w), classes)))
    if logit_bn:
        layers.append(("logit_bn", nn.BatchNorm1d(classes)))
    return nn.Sequential(OrderedDict(layers))


class PadShortcut(nn.Module):
    """Option A: every stride-th pixel, channels zero-padded (out − in)/2 before, the rest after."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.before, self.after, self.stride = (cout - cin) // 2, cout - cin - (cout - cin) // 2, stride

    def forward(self, x):
        return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.before, self.after))


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride, shortcut):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.sc_name = None  # identity
        if stride != 1 or cin != planes:
            if shortcut == "A":
                self.sc_name, sc = "shortcut", PadShortcut(cin, planes, stride)
            else:  # "B" (CIFAR, named shortcut) or "downsample" (torchvision)
                self.sc_name = "shortcut" if shortcut == "B" else "downsample"
                sc = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            setattr(self, self.sc_name, sc)
        self.act2 = nn.ReLU()

    def forward(self, x):
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(out + (x if self.sc_name is None else getattr(self, self.sc_name)(x)))


class ResNet(nn.Module):
    def __init__(self, c, classes, widths, blocks, stem, shortcut, logit_bn=False):
        super().__init__()
        kernel, stride = stem
        self.conv1 = nn.Conv2d(c, widths[0], kernel, stride, kernel // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.act1 = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1) if kernel == 7 else None
        cin = widths[0]
        for s, planes in enumerate(widths):
            stage = []
            for b in range(blocks):
                stage.append(BasicBlock(cin, planes, 2 if s > 0 and b == 0 else 1, shortcut))
                cin = planes
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*stage))
        self.stages = len(widths)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)
        self.logit_bn = nn.BatchNorm1d(classes) if logit_bn else None

    def forward(self, x):
        x = self.act1(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for s in range(self.stages):
            x = getattr(self, "layer%d" % (s + 1))(x)
        x = self.fc(torch.flatten(self.avgpool(x), 1))
        return x if self.logit_bn is None else self.logit_bn(x)


def resnet_cifar(depth, c, classes, shortcut="A"):
    return ResNet(c, classes, [16, 32, 64], (depth - 2) // 6, (3, 1), shortcut)


def resnet18(c, classes):
    return ResNet(c, classes, [64, 128, 256, 512], 2, (7, 2), "downsample")


def natural_input(name):
    if name == "resnet18":
        return 3, 224, 224, 1000
    if name.startswith("vgg") or name.startswith("resnet"):
        return 3, 32, 32, 10
    return 1, 28, 28, 10


def make(name, c=None, h=None, w=None, classes=None, shortcut="A"):
    nc, nh, nw, ncl = natural_input(name)
    c, h, w, classes = c or nc, h or nh, w or nw, classes or ncl
    builders = {
        "mlp": lambda: mlp(c, h, w, classes),
        "mlp-bn": lambda: mlp(c, h, w, classes, bn=True),
        "lenet5": lambda: lenet5(c, h, w, classes),
        "lenet5-bn": lambda: lenet5(c, h, w, classes, bn=True),
        "vgg5": lambda: vgg_iterative([64, 64, "M"], c, h, w, classes),
        "vgg9": lambda: vgg_iterative([64, 64, "M", 128, 128, "M", 256, 256, "M"], c, h, w, classes),
        "vgg11": lambda: vgg11(c, h, w, classes),
        "resnet20": lambda: resnet_cifar(20, c, classes, shortcut),
        "resnet32": lambda: resnet_cifar(32, c, classes, shortcut),
        "resnet44": lambda: resnet_cifar(44, c, classes, shortcut),
        "resnet56": lambda: resnet_cifar(56, c, classes, shortcut),
        "resnet18": lambda: resnet18(c, classes),
    }
    if name not in builders:
        raise SystemExit("bench_torch.py: unknown model '%s' (valid: %s)" % (name, ", ".join(builders)))
    return builders[name](), (c, h, w, classes)


def count(model):
    return sum(p.numel() for p in model.parameters())


# ---- timing --------------------------------------------------------------------------------------

def median_ms(fn, warmup, reps, clock=time.perf_counter, warmup_seconds=0.0):
    """Untimed calls first: at least `warmup` of them, for at least `warmup_seconds` (wall)."""
    start, done = time.perf_counter(), 0
    while done < warmup or time.perf_counter() - start < warmup_seconds:
        fn()
        done += 1
    times = []
    for _ in range(reps):
        t = clock()
        fn()
        times.append(clock() - t)
    return 1000 * statistics.median(times)


def clock_of(args):
    """The process's CPU clock (one thread) counts work, not waiting for a busy machine's cores."""
    return time.process_time if args.cpu_clock else time.perf_counter


def training_step(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def bench(name, args):
    torch.manual_seed(0)
    model, (c, h, w, classes) = make(name)
    model.train()
    x = torch.randn(args.batch, c, h, w)
    y = torch.randint(0, classes, (args.batch,))
    ms = median_ms(training_step(model, x, y), args.warmup, args.steps, clock_of(args),
                   args.warmup_seconds)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("model=%s batch=%d threads=%d step_ms=%.3f img_per_s=%.1f maxrss_kb=%d torch=%s" %
          (name, args.batch, torch.get_num_threads(), ms, args.batch * 1000 / ms, rss, torch.__version__))
    sys.stdout.flush()


def infer(spec, args):
    """Float inference as a deployed model runs: eval mode, no autograd."""
    name, _, size = spec.partition("@")
    nc, nh, nw, ncl = natural_input(name)
    size = int(size) if size else nh
    classes = 1000 if size >= 224 else 10
    torch.manual_seed(0)
    model, (c, h, w, _) = make(name, nc, size if nc == 3 else nh, size if nc == 3 else nw, classes)
    model.eval()
    batch = min(args.batch, 16) if size >= 224 else args.batch
    x1 = torch.randn(1, c, h, w)
    xb = torch.randn(batch, c, h, w)
    with torch.no_grad():
        b1 = median_ms(lambda: model(x1), args.warmup, args.steps, clock_of(args))
        bb = median_ms(lambda: model(xb), 1, 3, clock_of(args))
    print("model=%s@%d batch=%d threads=%d b1_ms=%.3f img_per_s=%.1f torch=%s" %
          (name, size, batch, torch.get_num_threads(), b1, batch * 1000 / bb, torch.__version__))
    sys.stdout.flush()


def profile(name, args):
    """Each leaf module alone on the input shape it sees in the model: forward, then backward."""
    torch.manual_seed(0)
    model, (c, h, w, classes) = make(name)
    model.train()
    x = torch.randn(args.batch, c, h, w)
    y = torch.randint(0, classes, (args.batch,))
    shapes, hooks = OrderedDict(), []

    def remember(lname):
        def hook(module, inputs):  # returns None: the input is left as it is
            shapes.setdefault(lname, tuple(inputs[0].shape))
        return hook
    for lname, m in model.named_modules():
        if lname and not list(m.children()):
            hooks.append(m.register_forward_pre_hook(remember(lname)))
    with torch.no_grad():
        model(x)
    for hk in hooks:
        hk.remove()
    modules = dict(model.named_modules())
    clock = clock_of(args)
    reps = max(3, args.steps // 2)
    for i, (lname, shape) in enumerate(shapes.items()):
        m = modules[lname]
        xi = torch.randn(shape, requires_grad=i > 0)
        fwd = median_ms(lambda: m(xi), 1, reps, clock)
        out = m(xi)
        dy = torch.randn_like(out)
        bwd = 0.0  # nothing to differentiate: a parameter-free first layer (mlp's flatten)
        if out.requires_grad:
            bwd = median_ms(lambda: out.backward(dy, retain_graph=True), 1, reps, clock)
        print("layer=%s kind=%s fwd_ms=%.4f bwd_ms=%.4f" % (lname, type(m).__name__, fwd, bwd))
    fwd = median_ms(lambda: model(x), 1, reps, clock)
    step = median_ms(training_step(model, x, y), 1, reps, clock)
    print("total fwd_ms=%.4f step_ms=%.4f" % (fwd, step))
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="mlp,lenet5,resnet20,vgg11")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--warmup-seconds", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--cpu-clock", action="store_true",
                   help="time by the process's CPU clock instead of the wall clock (needs --threads 1)")
    p.add_argument("--count", action="store_true")
    p.add_argument("--infer", action="store_true")
    p.add_argument("--baseline", action="store_true", help="peak RSS after importing torch only")
    args = p.parse_args()
    if args.cpu_clock and args.threads != 1:
        raise SystemExit("bench_torch.py: --cpu-clock needs --threads 1")
    torch.set_num_threads(args.threads)
    if args.baseline:
        print("baseline maxrss_kb=%d" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        return
    if args.count:
        for name in ["mlp", "mlp-bn", "lenet5", "lenet5-bn", "vgg5", "vgg9", "vgg11", "resnet20",
                     "resnet32", "resnet44", "resnet56", "resnet18"]:
            print("model=%s params=%d" % (name, count(make(name)[0])))
        print("model=resnet20 shortcut=B params=%d" % count(make("resnet20", shortcut="B")[0]))
        print("model=lenet5 input=3x32x32 params=%d" % count(make("lenet5", 3, 32, 32)[0]))
        print("model=vgg9 input=1x28x28 params=%d" % count(make("vgg9", 1, 28, 28)[0]))
        print("model=resnet18 input=3x32x32 classes=10 params=%d" % count(make("resnet18", 3, 32, 32, 10)[0]))
        return
    for name in args.models.split(","):
        (infer if args.infer else profile if args.profile else bench)(name, args)


if __name__ == "__main__":
    main()
