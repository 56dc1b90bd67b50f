#!/usr/bin/python3
"""Golden values for lib/attention (scaled dot-product attention, RoPE, GQA/MHA/MQA, MLA).

Run with Debian's Python, which has PyTorch 1.13 (CPU):

    /usr/bin/python3 scripts/golden/attention_golden.py

It writes tests/golden/attention.json. Inputs and weights are float32 numbers (drawn with
numpy's RandomState), the computation is PyTorch in float64, and every value is stored at full
float64 precision.

The attention core is PyTorch's own scaled dot-product attention. PyTorch 1.13 ships it as
`torch.nn.functional._scaled_dot_product_attention(q, k, v, attn_mask, dropout_p,
need_attn_weights, is_causal)`, the private predecessor of PyTorch 2.0's public
`F.scaled_dot_product_attention`; both compute softmax(q kᵀ / √E + mask) v. The script checks it
against that formula written out, then uses it for:

  - sdpa_causal: q, k, v [2, 3, 5, 8], is_causal=True (a full pass);
  - sdpa_decode: q [2, 3, 2, 8] for the last 2 of 6 positions, k, v [2, 3, 6, 8], with a boolean
    mask that lets query i see keys 0..4+i (the cached-decoding case; `is_causal` would align the
    mask top-left);
  - gqa: a grouped-query attention layer (d = 16, n_h = 4, n_g = 2, d_h = 4) with RoPE in the
    rotate-half layout, written out below; x [2, 6, 16];
  - mha, mqa: the same layer with n_g = 4 and n_g = 1;
  - mla: multi-head latent attention after DeepSeek-V2 §2.1 eqs. (9)-(19), naive form, written
    out below (d = 16, n_h = 4, d_h = 4, d'_c = 12, d_c = 8, d_h^R = 4); x [2, 6, 16].

Weights are stored as [in, out] matrices (y = x W), in the order of the tfjs layer's getWeights():
GQA wq, wk, wv, wo; MLA wDQ, wUQ, wQR, wDKV, wUK, wUV, wKR, wO.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'golden', 'attention.json')
ROPE_BASE = 10000.0


def f32(rs, *shape, scale=1.0):
    return (rs.standard_normal(shape) * scale).astype(np.float32)


def as_list(a):
    if isinstance(a, torch.Tensor):
        a = a.detach().numpy()
    return [float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def t64(a):
    return torch.tensor(a.astype(np.float64))


def sdpa(q, k, v, mask=None, causal=False):
    out, _ = F._scaled_dot_product_attention(q, k, v, mask, 0.0, False, causal)
    return out


def sdpa_written_out(q, k, v, mask):
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~mask, float('-inf'))
    return torch.softmax(s, -1) @ v


def rope(x, start):
    """Rotate-half RoPE over the last axis of x [..., t, d] for positions start..start+t-1."""
    d = x.shape[-1]
    t = x.shape[-2]
    half = d // 2
    pos = torch.arange(start, start + t, dtype=torch.float64)[:, None]
    inv = ROPE_BASE ** (-2.0 * torch.arange(half, dtype=torch.float64) / d)
    ang = pos * inv[None, :]
    cos, sin = torch.cos(ang), torch.sin(ang)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)


def heads(x, h):
    b, t, hd = x.shape
    return x.reshape(b, t, h, hd // h).transpose(1, 2)  # [b, t, h·dh] -> [b, h, t, dh]


def merge(x):
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)


def gqa_layer(x, w, h, g):
    wq, wk, wv, wo = w
    q = rope(heads(x @ wq, h), 0)
    k = rope(heads(x @ wk, g), 0)
    v = heads(x @ wv, g)
    r = h // g
    k = k.repeat_interleave(r, dim=1)  # query head i uses key/value head i // r
    v = v.repeat_interleave(r, dim=1)
    return merge(sdpa(q, k, v, causal=True)) @ wo


def mla_layer(x, w, h, dhr):
    wDQ, wUQ, wQR, wDKV, wUK, wUV, wKR, wO = w
    cQ = x @ wDQ                                  # (12) c^Q
    qC = heads(cQ @ wUQ, h)                       # (13) q^C
    qR = rope(heads(cQ @ wQR, h), 0)              # (14) q^R
    cKV = x @ wDKV                                # (9)  c^KV
    kC = heads(cKV @ wUK, h)                      # (10) k^C
    vC = heads(cKV @ wUV, h)                      # (11) v^C
    kR = rope((x @ wKR)[:, None, :, :], 0)        # (15) k^R, one head shared
    q = torch.cat([qC, qR], -1)                   # (16)
    k = torch.cat([kC, kR.expand(-1, h, -1, -1)], -1)  # (17)
    o = sdpa(q, k, vC, causal=True)               # (18) scale 1/sqrt(d_h + d_h^R) = 1/sqrt(E)
    return merge(o) @ wO                          # (19)


def main():
    rs = np.random.RandomState(2024)
    out = {'rope_base': ROPE_BASE}

    # Scaled dot-product attention, full causal pass.
    q, k, v = f32(rs, 2, 3, 5, 8), f32(rs, 2, 3, 5, 8), f32(rs, 2, 3, 5, 8)
    y = sdpa(t64(q), t64(k), t64(v), causal=True)
    tril = torch.ones(5, 5, dtype=torch.bool).tril()
    assert torch.allclose(y, sdpa_written_out(t64(q), t64(k), t64(v), tril), atol=1e-12)
    out['sdpa_causal'] = {'q': as_list(q), 'k': as_list(k), 'v': as_list(v), 'shape_q': [2, 3, 5, 8], 'shape_kv': [2, 3, 5, 8], 'y': as_list(y)}

    # Decoding: the last 2 of 6 positions attend to all keys up to their own position.
    q, k, v = f32(rs, 2, 3, 2, 8), f32(rs, 2, 3, 6, 8), f32(rs, 2, 3, 6, 8)
    mask = torch.ones(6, 6, dtype=torch.bool).tril()[4:, :]  # [2, 6]: query i sees keys 0..4+i
    y = sdpa(t64(q), t64(k), t64(v), mask=mask)
    assert torch.allclose(y, sdpa_written_out(t64(q), t64(k), t64(v), mask), atol=1e-12)
    out['sdpa_decode'] = {'q': as_list(q), 'k': as_list(k), 'v': as_list(v), 'shape_q': [2, 3, 2, 8], 'shape_kv': [2, 3, 6, 8], 'y': as_list(y)}

    d, h, dh, t, b = 16, 4, 4, 6, 2
    for name, g in [('mha', 4), ('gqa', 2), ('mqa', 1)]:
        x = f32(rs, b, t, d)
        w = [f32(rs, d, h * dh, scale=d ** -0.5), f32(rs, d, g * dh, scale=d ** -0.5), f32(rs, d, g * dh, scale=d ** -0.5), f32(rs, h * dh, d, scale=(h * dh) ** -0.5)]
        y = gqa_layer(t64(x), [t64(a) for a in w], h, g)
        out[name] = {'dModel': d, 'nHeads': h, 'nKvHeads': g, 'x': as_list(x), 'shape_x': [b, t, d], 'weights': [as_list(a) for a in w], 'weight_shapes': [list(a.shape) for a in w], 'y': as_list(y)}

    dq, dc, dhr = 12, 8, 4
    x = f32(rs, b, t, d)
    shapes = [(d, dq), (dq, h * dh), (dq, h * dhr), (d, dc), (dc, h * dh), (dc, h * dh), (d, dhr), (h * dh, d)]
    w = [f32(rs, *s, scale=s[0] ** -0.5) for s in shapes]
    y = mla_layer(t64(x), [t64(a) for a in w], h, dhr)
    out['mla'] = {'dModel': d, 'nHeads': h, 'qLatent': dq, 'kvLatent': dc, 'ropeHeadDim': dhr, 'x': as_list(x), 'shape_x': [b, t, d], 'weights': [as_list(a) for a in w], 'weight_shapes': [list(s) for s in shapes], 'y': as_list(y)}

    out['torch_version'] = torch.__version__
    tmp = OUT + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(out, f)
    os.replace(tmp, OUT)
    print('wrote', os.path.relpath(OUT))


if __name__ == '__main__':
    main()
