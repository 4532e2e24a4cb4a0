#!/usr/bin/python3
"""ae_twin.py — the PyTorch twin of core/nets/autoencoder.c: the same encoder and decoder, the
same parameter names and order, used once to write golden files (tests never run it; make test
never needs Python):

  ae_twin.py golden [OUT.bin]   write tests/golden/ae_small.bin (a small config's inputs, outputs,
                                loss and gradients) and, beside it, tests/golden/ae_small.dfa (the
                                same weights as an autoencoder file, written from
                                docs/MODEL_FORMAT.md's container description alone).
                                tests/test_autoencoder.c (matches_pytorch_twin) reads both.

Config: 3x16x16 pictures, latent_channels Z = 4, n_levels 3 (f = 4, latents 4x4), widths 8,16,16,
blocks 1, groups 4: enc.down.1.res.0 (8 -> 16) has a 1x1 skip conv, dec.up.1.up changes 16 -> 8.

Weights: PyTorch's default init (torch.manual_seed(2): a seed that keeps the margins below), every
GroupNorm weight then drawn from U(0.7, 1.3) and bias from U(-0.3, 0.3); the bias of the last
log-variance channel of enc.conv_out is moved to -30, so that some of that channel's raw
log-variances (23 of 32) fall below DN_AE_LOGVAR_MIN and the clamp (and its zero gradient) is
exercised; the script checks that no raw value is within 1e-3 of -30.

The computation (in float64 from the stored float32 weights and inputs, so the golden values are
the exact answer for those float32 numbers, to float64 rounding):
  x   (2, 3, 16, 16) uniform in [-1, 1];  eps (2, 4, 4, 4) standard normal
  moments = enc(x)                      (2, 8, 4, 4)
  mean = moments[:, :4];  logvar = clamp(moments[:, 4:], -30, 20)
  z = mean + exp(0.5 logvar) eps;  recon = dec(z)
  L = mean(|recon - x|) + 1e-3 * KL / (2 * 3 * 16 * 16),
      KL = sum over the batch of 0.5 * sum(mean^2 + exp(logvar) - 1 - logvar)
The script checks that no |recon - x| is below 1e-4, so the sign in dL/drecon is unambiguous.

Golden file (little-endian; the framing of unet_twin.py's): magic b"DNGOLD01", u32 n_config = 12,
12 x i32 (in_channels, height, width, latent_channels, n_levels, widths[0..4], blocks, groups),
u32 batch, u32 n_tensors, then per tensor: u32 name length, name, u32 ndim, ndim x u32 dims,
float32 data. The tensors, in this order: "x", "eps", "moments", "z", "recon", "loss",
"grad:moments" (dL/d raw moments), "grad:z", then "grad:NAME" for every parameter in the file's
(= the C walk's) order. The weights themselves are in the .dfa.

Regenerate (from the repository root): /usr/bin/python3 tests/golden/ae_twin.py golden
"""
import struct
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

GOLDEN = dict(in_channels=3, height=16, width=16, latent_channels=4, n_levels=3, widths=(8, 16, 16),
              blocks=1, groups=4)
BATCH = 2
KL_WEIGHT = 1e-3
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


class ResBlock(nn.Module):
    """blocks.h's ResBlock without a time embedding."""

    def __init__(self, cin, cout, G):
        super().__init__()
        self.norm1 = nn.GroupNorm(G, cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(G, cout, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class Level(nn.Module):
    pass


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        L, B, G, w = c["n_levels"], c["blocks"], c["groups"], c["widths"]
        self.L, self.B = L, B
        self.conv_in = nn.Conv2d(c["in_channels"], w[0], 3, padding=1)
        ch = w[0]
        self.down = nn.ModuleList()
        for l in range(L):
            lv = Level()
            lv.res = nn.ModuleList()
            for b in range(B):
                lv.res.append(ResBlock(ch, w[l], G))
                ch = w[l]
            if l < L - 1:
                lv.down = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
            self.down.append(lv)
        self.mid = Level()
        self.mid.res = ResBlock(ch, ch, G)
        self.norm_out = nn.GroupNorm(G, ch, eps=1e-5)
        self.conv_out = nn.Conv2d(ch, 2 * c["latent_channels"], 3, padding=1)

    def forward(self, x):
        h = self.conv_in(x)
        for l in range(self.L):
            for b in range(self.B):
                h = self.down[l].res[b](h)
            if l < self.L - 1:
                h = self.down[l].down(h)
        h = self.mid.res(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        L, B, G, w = c["n_levels"], c["blocks"], c["groups"], c["widths"]
        self.L, self.B = L, B
        ch = w[L - 1]
        self.conv_in = nn.Conv2d(c["latent_channels"], ch, 3, padding=1)
        self.mid = Level()
        self.mid.res = ResBlock(ch, ch, G)
        self.up = nn.ModuleDict()
        for l in reversed(range(L)):
            lv = Level()
            lv.res = nn.ModuleList()
            for b in range(B):
                lv.res.append(ResBlock(ch, w[l], G))
                ch = w[l]
            if l > 0:
                lv.up = nn.Conv2d(ch, w[l - 1], 3, padding=1)
                ch = w[l - 1]
            self.up[str(l)] = lv
        self.norm_out = nn.GroupNorm(G, ch, eps=1e-5)
        self.conv_out = nn.Conv2d(ch, c["in_channels"], 3, padding=1)

    def forward(self, z):
        h = self.mid.res(self.conv_in(z))
        for l in reversed(range(self.L)):
            lv = self.up[str(l)]
            for b in range(self.B):
                h = lv.res[b](h)
            if l > 0:
                h = lv.up(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


class Autoencoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.enc = Encoder(c)
        self.dec = Decoder(c)


def c_order_names(c):
    """Parameter names in the order core/nets/autoencoder.c walks them (make_ops, walk) = the
    .dfa file's tensor order."""
    L, B, w, top = c["n_levels"], c["blocks"], c["widths"], c["n_levels"] - 1
    names = []
    wb = lambda p: names.extend([p + ".weight", p + ".bias"])

    def res(p, cin, cout):
        for s in ["norm1", "conv1", "norm2", "conv2"] + (["skip"] if cin != cout else []):
            wb(p + "." + s)

    wb("enc.conv_in")
    ch = w[0]
    for l in range(L):
        for b in range(B):
            res(f"enc.down.{l}.res.{b}", ch, w[l])
            ch = w[l]
        if l < top:
            wb(f"enc.down.{l}.down")
    res("enc.mid.res", ch, ch)
    wb("enc.norm_out")
    wb("enc.conv_out")
    ch = w[top]
    wb("dec.conv_in")
    res("dec.mid.res", ch, ch)
    for l in range(top, -1, -1):
        for b in range(B):
            res(f"dec.up.{l}.res.{b}", ch, w[l])
            ch = w[l]
        if l > 0:
            wb(f"dec.up.{l}.up")
            ch = w[l - 1]
    wb("dec.norm_out")
    wb("dec.conv_out")
    return names


def config_ints(c):
    w = list(c["widths"]) + [0] * (5 - len(c["widths"]))
    return [c["in_channels"], c["height"], c["width"], c["latent_channels"], c["n_levels"]] + w + [
        c["blocks"], c["groups"]]


def write_dfa(path, c, named, meta):
    """An autoencoder file (container version 2, kind "autoencoder") from docs/MODEL_FORMAT.md
    alone, float32 tensors."""
    u32 = lambda v: struct.pack("<I", v)
    s = lambda b: u32(len(b)) + b
    buf = bytearray(b"DIFFUSE\x1a") + u32(2) + s(b"autoencoder")
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
    torch.set_num_threads(1)
    torch.manual_seed(2)
    c = GOLDEN
    Z = c["latent_channels"]
    net = Autoencoder(c)
    names = c_order_names(c)
    sd = dict(net.named_parameters())
    assert len(set(names)) == len(names) and sorted(names) == sorted(sd), set(names) ^ set(sd)
    with torch.no_grad():  # GroupNorm off (1, 0), so its gradients are tested in general position
        for n, p in sd.items():
            if "norm" in n:
                p.copy_(torch.rand_like(p) * 0.6 + (-0.3 if n.endswith(".bias") else 0.7))
        sd["enc.conv_out.bias"][2 * Z - 1] = LOGVAR_MIN  # the clamp, half active
    f = BATCH * c["in_channels"] * c["height"] * c["width"]
    fz = 2 ** (c["n_levels"] - 1)
    x = torch.rand(BATCH, c["in_channels"], c["height"], c["width"]) * 2 - 1
    eps = torch.randn(BATCH, Z, c["height"] // fz, c["width"] // fz)

    # the computation in float64 from the float32 values
    net64 = Autoencoder(c).double()
    sd64 = dict(net64.named_parameters())
    with torch.no_grad():
        for n in names:
            sd64[n].copy_(sd[n].double())
    x64, eps64 = x.double(), eps.double()
    moments = net64.enc(x64)
    moments.retain_grad()
    mean = moments[:, :Z]
    raw = moments[:, Z:]
    logvar = raw.clamp(LOGVAR_MIN, LOGVAR_MAX)
    z = mean + torch.exp(0.5 * logvar) * eps64
    z.retain_grad()
    recon = net64.dec(z)
    kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).sum()
    loss = (recon - x64).abs().mean() + KL_WEIGHT * kl / f
    loss.backward()

    margin_lv = (raw.detach() - LOGVAR_MIN).abs().min().item()
    margin_l1 = (recon.detach() - x64).abs().min().item()
    n_clamped = int((raw.detach() < LOGVAR_MIN).sum())
    assert margin_lv > 1e-3 and (raw.detach() < LOGVAR_MAX - 1).all(), margin_lv
    assert margin_l1 > 1e-4, margin_l1
    assert 0 < n_clamped < raw[:, -1].numel(), n_clamped

    tensors = [("x", x), ("eps", eps), ("moments", moments.detach()), ("z", z.detach()),
               ("recon", recon.detach()), ("loss", loss.detach().reshape(1)),
               ("grad:moments", moments.grad), ("grad:z", z.grad)]
    tensors += [("grad:" + n, sd64[n].grad) for n in names]
    ci = config_ints(c)
    buf = bytearray(b"DNGOLD01")
    buf += struct.pack("<I", len(ci)) + struct.pack(f"<{len(ci)}i", *ci)
    buf += struct.pack("<II", BATCH, len(tensors))
    for name, v in tensors:
        v = v.detach().contiguous().float()
        nb = name.encode()
        buf += struct.pack("<I", len(nb)) + nb + struct.pack("<I", v.dim())
        buf += struct.pack(f"<{v.dim()}I", *v.shape) + v.numpy().astype("<f4").tobytes()
    with open(path, "wb") as fo:
        fo.write(buf)
    print(f"wrote {path}: {len(buf)} bytes, {sum(p.numel() for p in sd.values())} parameters, "
          f"loss {loss.item():.9f}, {n_clamped} of {raw[:, -1].numel()} raw log-variances of the last "
          f"channel clamped (closest {margin_lv:.2g} from -30), min |recon - x| {margin_l1:.2g}")
    widths = ",".join(str(v) for v in c["widths"])
    meta = [(f"autoencoder.{k}", str(c[k])) for k in
            ("in_channels", "height", "width", "latent_channels", "n_levels", "blocks", "groups")]
    meta += [("autoencoder.widths", widths), ("scale_factor", "1"), ("psnr_pets", "0.0000"),
             ("psnr_photos", "0.0000"), ("trained_on", "nothing: random weights (tests/golden/ae_twin.py)")]
    write_dfa(path[:-4] + ".dfa", c, [(n, sd[n]) for n in names], meta)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "golden":
        write_golden(sys.argv[2] if len(sys.argv) > 2 else "tests/golden/ae_small.bin")
    else:
        print(__doc__)
        sys.exit(2)
