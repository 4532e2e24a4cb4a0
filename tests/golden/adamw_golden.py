#!/usr/bin/env python3
"""Golden values for tests/test_optim.c: torch.optim.AdamW on a small fixed problem.

Loss = sum_i w_i (p_i - t_i)^2, so grad_i = 2 w_i (p_i - t_i) in float32, recomputed each step.
Prints the parameters after each of 5 steps, for two settings, as C initialisers.
Run offline (needs PyTorch): /usr/bin/python3 tests/golden/adamw_golden.py
"""
import torch

P0 = [0.5, -1.25, 2.0, 0.0, -0.3, 3.5]
T = [1.0, 1.0, -1.0, 0.25, -0.3, 0.0]
W = [1.0, 0.5, 2.0, 10.0, 1.0, 0.01]
STEPS = 5


def run(lr, **kw):
    p = torch.tensor(P0, dtype=torch.float32, requires_grad=True)
    t = torch.tensor(T, dtype=torch.float32)
    w = torch.tensor(W, dtype=torch.float32)
    opt = torch.optim.AdamW([p], lr=lr, **kw)
    rows = []
    for _ in range(STEPS):
        opt.zero_grad()
        with torch.no_grad():
            p.grad = 2.0 * w * (p - t)
        opt.step()
        rows.append([float(x) for x in p.detach()])
    return rows


def show(name, rows):
    print("/* %s */" % name)
    for r in rows:
        print("    {" + ", ".join("%.9gf" % x for x in r) + "},")


show("lr 0.1, torch defaults (betas 0.9/0.999, eps 1e-8, weight_decay 0.01)", run(0.1))
show("lr 0.05, betas 0.8/0.99, eps 1e-3, weight_decay 0.5", run(0.05, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.5))
