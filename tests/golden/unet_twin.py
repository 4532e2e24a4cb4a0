#!/usr/bin/python3
"""unet_twin.py — the PyTorch twin of core/nets/unet.c: the same architecture, the same parameter
names and order, used two ways (tests never run it):

  unet_twin.py golden [OUT]   write tests/golden/unet_small.bin: a small config, its weights, a
                              fixed input, the output, an MSE loss against a fixed target and the
                              gradient of that loss w.r.t. every parameter and the input; and the
                              same weights as a model file, tests/golden/unet_small.dfm, written
                              from docs/MODEL_FORMAT.md alone.
  unet_twin.py bench [--threads N] [--quick]
                              time the default U-Net like tests/bench_unet.c does and print
                              "row<TAB>value<TAB>unit" lines for scripts/bench.sh.

Golden file (little-endian): magic b"DNGOLD01", u32 n_config, n_config x i32 (the fields of
dn_unet_config in order: in, out, H, W, base, L, mults[4], blocks, attn_levels, groups, heads,
temb, classes, prediction), u32 batch, u32 n_tensors, then per tensor: u32 name length, name,
u32 ndim, ndim x u32 dims, float32 data. Names: "param:NAME", "grad:NAME", "x", "t", "ids",
"target", "out", "loss", "grad:x".
"""
import ctypes
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t, dim):
    # diffusers get_timestep_embedding(flip_sin_to_cos=True, downscale_freq_shift=0)
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(0, half, dtype=torch.float32) / half
    emb = t[:, None].float() * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(emb), torch.sin(emb)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, T, G):
        super().__init__()
        self.norm1 = nn.GroupNorm(G, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(T, cout)
        self.norm2 = nn.GroupNorm(G, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb_act):
        h = self.conv1(F.silu(self.norm1(x))) + self.temb(temb_act)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class Attn(nn.Module):
    def __init__(self, c, G, heads):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(G, c)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj = nn.Conv2d(c, c, 1)

    def forward(self, x):
        N, C, H, W = x.shape
        nh, D = self.heads, C // self.heads
        qkv = self.qkv(self.norm(x)).reshape(N, 3, nh, D, H * W)
        q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]  # (N, nh, D, HW)
        s = torch.einsum("nhdi,nhdj->nhij", q, k) / math.sqrt(D)
        att = s.softmax(dim=-1)
        o = torch.einsum("nhij,nhdj->nhdi", att, v).reshape(N, C, H, W)
        return x + self.proj(o)


class Level(nn.Module):
    pass


class UNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        L, B, S, T, G = cfg["levels"], cfg["blocks"], cfg["base"], cfg["temb"], cfg["groups"]
        ch_of = lambda l: cfg["base"] * cfg["mults"][l]
        attn = lambda l: (cfg["attn"] >> l) & 1
        self.time1 = nn.Linear(S, T)
        self.time2 = nn.Linear(T, T)
        self.class_emb = nn.Embedding(cfg["classes"] + 1, T)
        ch = ch_of(0)
        self.conv_in = nn.Conv2d(cfg["in"], ch, 3, padding=1)
        skips = [ch]
        self.down = nn.ModuleList()
        for l in range(L):
            lv = Level()
            lv.res, lv.attn = nn.ModuleList(), nn.ModuleList()
            for b in range(B):
                lv.res.append(ResBlock(ch, ch_of(l), T, G))
                ch = ch_of(l)
                if attn(l):
                    lv.attn.append(Attn(ch, G, cfg["heads"]))
                skips.append(ch)
            if l < L - 1:
                lv.down = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
                skips.append(ch)
            self.down.append(lv)
        self.mid = Level()
        self.mid.res1 = ResBlock(ch, ch, T, G)
        self.mid.attn = Attn(ch, G, cfg["heads"])
        self.mid.res2 = ResBlock(ch, ch, T, G)
        self.up = nn.ModuleDict()
        for l in reversed(range(L)):
            lv = Level()
            lv.res, lv.attn = nn.ModuleList(), nn.ModuleList()
            for b in range(B + 1):
                lv.res.append(ResBlock(ch + skips.pop(), ch_of(l), T, G))
                ch = ch_of(l)
                if attn(l):
                    lv.attn.append(Attn(ch, G, cfg["heads"]))
            if l > 0:
                lv.up = nn.Conv2d(ch, ch, 3, padding=1)
            self.up[str(l)] = lv
        self.norm_out = nn.GroupNorm(G, ch)
        self.conv_out = nn.Conv2d(ch, cfg["out"], 3, padding=1)

    def forward(self, x, t, ids):
        cfg = self.cfg
        L, B = cfg["levels"], cfg["blocks"]
        attn = lambda l: (cfg["attn"] >> l) & 1
        temb = self.time2(F.silu(self.time1(timestep_embedding(t, cfg["base"]))))
        temb_act = F.silu(temb + self.class_emb(ids))
        h = self.conv_in(x)
        hs = [h]
        for l in range(L):
            lv = self.down[l]
            for b in range(B):
                h = lv.res[b](h, temb_act)
                if attn(l):
                    h = lv.attn[b](h)
                hs.append(h)
            if l < L - 1:
                h = lv.down(h)
                hs.append(h)
        h = self.mid.res2(self.mid.attn(self.mid.res1(h, temb_act)), temb_act)
        for l in reversed(range(L)):
            lv = self.up[str(l)]
            for b in range(B + 1):
                h = lv.res[b](torch.cat([h, hs.pop()], dim=1), temb_act)
                if attn(l):
                    h = lv.attn[b](h)
            if l > 0:
                h = lv.up(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def c_order_names(cfg):
    """Parameter names in the order core/nets/unet.c walks them (= model file order)."""
    L, B = cfg["levels"], cfg["blocks"]
    ch_of = lambda l: cfg["base"] * cfg["mults"][l]
    attn = lambda l: (cfg["attn"] >> l) & 1
    names = []
    wb = lambda p: names.extend([p + ".weight", p + ".bias"])

    def res(p, cin, cout):
        for s in ["norm1", "conv1", "temb", "norm2", "conv2"] + (["skip"] if cin != cout else []):
            wb(p + "." + s)

    def att(p):
        for s in ["norm", "qkv", "proj"]:
            wb(p + "." + s)

    wb("time1"); wb("time2"); names.append("class_emb.weight"); wb("conv_in")
    ch = ch_of(0)
    skips = [ch]
    for l in range(L):
        for b in range(B):
            res(f"down.{l}.res.{b}", ch, ch_of(l)); ch = ch_of(l)
            if attn(l):
                att(f"down.{l}.attn.{b}")
            skips.append(ch)
        if l < L - 1:
            wb(f"down.{l}.down"); skips.append(ch)
    res("mid.res1", ch, ch); att("mid.attn"); res("mid.res2", ch, ch)
    for l in reversed(range(L)):
        for b in range(B + 1):
            res(f"up.{l}.res.{b}", ch + skips.pop(), ch_of(l)); ch = ch_of(l)
            if attn(l):
                att(f"up.{l}.attn.{b}")
        if l > 0:
            wb(f"up.{l}.up")
    wb("norm_out"); wb("conv_out")
    return names


def config_ints(cfg):
    m = list(cfg["mults"]) + [0] * (4 - len(cfg["mults"]))
    return [cfg["in"], cfg["out"], cfg["H"], cfg["W"], cfg["base"], cfg["levels"]] + m + [
        cfg["blocks"], cfg["attn"], cfg["groups"], cfg["heads"], cfg["temb"], cfg["classes"], 0]


# The golden config: small enough that weights + gradients stay under 200 KB, but every kind of
# block is there: channel-changing skips, attention at both levels (2 heads), a non-square
# image, different input and output channel counts, fractional t, the null class.
GOLDEN = dict(**{"in": 3, "out": 2}, H=8, W=12, base=4, levels=2, mults=(1, 2), blocks=1,
              attn=3, groups=2, heads=2, temb=16, classes=3)


def write_dfm(path, cfg, named, meta):
    """A model file written from Python by docs/MODEL_FORMAT.md alone: a check that the format
    description is complete (tests/test_unet.c loads it with dn_model_load)."""
    import zlib
    u32 = lambda v: struct.pack("<I", v)
    s = lambda b: u32(len(b)) + b
    ci = config_ints(cfg)
    buf = bytearray(b"DIFFUSE\x1a") + u32(1) + u32(len(ci)) + struct.pack(f"<{len(ci)}i", *ci)
    buf += u32(len(meta))
    for k, v in meta:
        buf += s(k.encode()) + s(v.encode())
    buf += u32(len(named))
    for name, v in named:
        v = v.detach().contiguous().float()
        buf += s(name.encode()) + u32(0) + u32(v.dim()) + struct.pack(f"<{v.dim()}I", *v.shape)
        buf += v.numpy().astype("<f4").tobytes()
    buf += u32(zlib.crc32(bytes(buf)) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(buf)
    print(f"wrote {path}: {len(buf)} bytes")


def write_golden(path):
    torch.manual_seed(1234)
    cfg = GOLDEN
    net = UNet(cfg)
    names = c_order_names(cfg)
    sd = dict(net.named_parameters())
    assert sorted(names) == sorted(sd.keys()), set(names) ^ set(sd.keys())
    with torch.no_grad():  # non-trivial GroupNorm weights so their gradients are exercised
        for n, p in sd.items():
            if "norm" in n:
                p.add_(0.2 * torch.randn_like(p))
    N = 2
    x = torch.randn(N, cfg["in"], cfg["H"], cfg["W"], requires_grad=True)
    t = torch.tensor([17.0, 503.5])
    ids = torch.tensor([1, cfg["classes"]])  # a class and the null class
    target = torch.randn(N, cfg["out"], cfg["H"], cfg["W"])
    out = net(x, t, ids)
    loss = F.mse_loss(out, target)
    loss.backward()
    tensors = [("x", x.detach()), ("t", t), ("ids", ids.float()), ("target", target),
               ("out", out.detach()), ("loss", loss.detach().reshape(1)), ("grad:x", x.grad)]
    tensors += [("param:" + n, sd[n].detach()) for n in names]
    tensors += [("grad:" + n, sd[n].grad) for n in names]
    ci = config_ints(cfg)
    buf = bytearray(b"DNGOLD01")
    buf += struct.pack("<I", len(ci)) + struct.pack(f"<{len(ci)}i", *ci)
    buf += struct.pack("<II", N, len(tensors))
    for name, v in tensors:
        v = v.contiguous().float()
        nb = name.encode()
        buf += struct.pack("<I", len(nb)) + nb + struct.pack("<I", v.dim())
        buf += struct.pack(f"<{v.dim()}I", *v.shape) + v.numpy().astype("<f4").tobytes()
    with open(path, "wb") as f:
        f.write(buf)
    print(f"wrote {path}: {len(buf)} bytes, {sum(p.numel() for p in sd.values())} parameters, "
          f"loss {loss.item():.6f}")
    meta = [("dataset", "golden"), ("class_names", "zero\none\ntwo"), ("schedule", "linear"),
            ("num_train_timesteps", "1000"), ("beta_start", "0.0001"), ("beta_end", "0.02"),
            ("train_steps", "0"), ("seed", "1234"), ("written_by", "unet_twin.py")]
    write_dfm(path[:-4] + ".dfm", cfg, [(n, sd[n]) for n in names], meta)


def default_cfg(c, hw):
    return dict(**{"in": c, "out": c}, H=hw, W=hw, base=32, levels=3, mults=(1, 2, 2), blocks=1,
                attn=4, groups=8, heads=1, temb=128, classes=10)


def timeit(fn, min_time, min_reps=3):
    """Best seconds per call after a warm-up (the machine is shared; the best is least disturbed)."""
    fn()
    reps, best, t0 = 0, float("inf"), time.perf_counter()
    while reps < min_reps or time.perf_counter() - t0 < min_time:
        t1 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t1)
        reps += 1
    return best


def blas_in_use():
    """Which BLAS library this process has mapped for torch.mm (Debian's torch calls whatever the
    libblas.so.3 alternative points to) and, for OpenBLAS, the kernel it chose for this CPU."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "blas" in os.path.basename(path).lower() or "mkl" in os.path.basename(path).lower():
                libs.add(os.path.realpath(path))
    core = ""
    for lib in sorted(libs):
        if "openblas" in lib:
            try:
                h = ctypes.CDLL(lib)
                h.openblas_get_corename.restype = ctypes.c_char_p
                h.openblas_get_num_threads.restype = ctypes.c_int
                core = f", OpenBLAS core {h.openblas_get_corename().decode()}, {h.openblas_get_num_threads()} thread(s)"
            except (OSError, AttributeError):
                pass
    return (" ".join(sorted(libs)) or "none found") + core


def bench(threads, quick):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    mt = 0.3 if quick else 2.0
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    s = timeit(lambda: torch.mm(a, b), mt)
    print(f"# blas: {blas_in_use()}; torch threads {torch.get_num_threads()}")
    print(f"sgemm_1024\t{2 * 1024 ** 3 / s / 1e9:.2f}\tGFLOP/s")
    for c, hw in ((3, 32), (1, 28)):
        cfg = default_cfg(c, hw)
        net = UNet(cfg)
        tag = f"{hw}x{hw}x{c}"
        with torch.no_grad():
            for nb in (1, 2):
                x = torch.randn(nb, c, hw, hw)
                t = torch.full((nb,), 500.0)
                ids = torch.tensor([3, 10][:nb])
                s = timeit(lambda: net(x, t, ids), mt)
                print(f"forward_b{nb}_{tag}\t{s * 1e3:.3f}\tms")
        if hw == 32:
            # 50 DDIM steps with guidance: batch 2 (cond + null class) per step, eta = 0
            T = 1000
            betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
            abar = torch.cumprod(1 - betas, 0).float()
            steps = list(range(0, T, T // 50))[::-1]

            def sample():
                with torch.no_grad():
                    xs = torch.randn(1, c, hw, hw)
                    ids = torch.tensor([3, 10])
                    for i, tt in enumerate(steps):
                        e = net(xs.expand(2, -1, -1, -1), torch.full((2,), float(tt)), ids)
                        eps = e[1:] + 3.0 * (e[:1] - e[1:])
                        a_t = abar[tt]
                        a_p = abar[steps[i + 1]] if i + 1 < len(steps) else torch.tensor(1.0)
                        x0 = (xs - (1 - a_t).sqrt() * eps) / a_t.sqrt()
                        xs = a_p.sqrt() * x0 + (1 - a_p).sqrt() * eps
                    return xs
            s = timeit(sample, 0.0, 1)  # one warm-up, one timed run (C: best of two runs)
            print(f"ddim50_cfg_{tag}\t{s * 1e3:.1f}\tms")
        # training: forward + backward of MSE at batch 64 (no optimizer)
        B = 64
        x = torch.randn(B, c, hw, hw)
        tgt = torch.randn(B, c, hw, hw)
        t = torch.randint(0, 1000, (B,)).float()
        ids = torch.randint(0, 11, (B,))

        def step():
            net.zero_grad(set_to_none=False)
            F.mse_loss(net(x, t, ids), tgt).backward()
        s = timeit(step, 0.0 if quick else mt, 1 if quick else 3)
        print(f"train_b64_{tag}\t{B / s:.1f}\timg/s")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "golden":
        write_golden(sys.argv[2] if len(sys.argv) > 2 else "tests/golden/unet_small.bin")
    elif len(sys.argv) >= 2 and sys.argv[1] == "bench":
        th = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
        bench(th, "--quick" in sys.argv)
        import resource
        print(f"peak_rss\t{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}\tMB")
    else:
        print(__doc__)
        sys.exit(2)
