#!/usr/bin/python3
"""Golden values for the distillation part of the lib (lib/distill, lib/optim/lamb.ts).

Run with Debian's Python, which has PyTorch (CPU):

    /usr/bin/python3 scripts/golden/distill_golden.py

It writes tests/golden/distill.json. Every expected value is computed in float64 by PyTorch from
inputs that are exactly representable in float32 (the tfjs tests feed the same float32 numbers),
and stored at full float64 precision (Python's repr).

What is stored, per case (shape [batch, classes]) and temperature T:
  - softmax(student / T) and log_softmax(student / T)           (first `rows` rows only)
  - entropy of softmax(teacher / T), natural log, per row         (all rows)
  - KL(teacher_T || student_T) with reduction 'batchmean':
        F.kl_div(log_softmax(s/T), log_softmax(t/T), log_target=True, reduction='batchmean')
  - the distillation loss  alpha * CE(student, labels) + (1 - alpha) * T^2 * KL
    for alpha in {0, 0.5, 1}, and its gradient w.r.t. the student logits for alpha = 0.5
    (first `rows` rows only: both softmax and this gradient are row-wise, so a row checks the
    whole computation of that row while keeping the file small).

And a LAMB reference (You et al. 2019, "Large Batch Optimization for Deep Learning: Training BERT
in 76 minutes", Algorithm 2), written out below in PyTorch: a few steps on a small quadratic with
two parameter tensors, one of them starting at zero (trust ratio 1 by convention).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'golden', 'distill.json')

TEMPERATURES = [0.5, 1.0, 2.0, 4.0, 10.0]
ALPHAS = [0.0, 0.5, 1.0]
GRAD_ALPHA = 0.5
# (name, batch, classes, logit scale, rows stored for the row-wise arrays, seed)
CASES = [
    ('b1_c3', 1, 3, 2.0, 1, 1),
    ('b4_c10', 4, 10, 3.0, 4, 2),
    ('b64_c10', 64, 10, 3.0, 64, 3),
    ('b8_c1000', 8, 1000, 3.0, 1, 4),
]


def f32_list(a):
    """float32 array -> list of Python floats that parse back to the same float32 values."""
    out = [float(str(v)) for v in a.reshape(-1)]
    back = np.array(out, dtype=np.float32)
    assert np.array_equal(back, a.reshape(-1)), 'float32 round trip failed'
    return out


def f64_list(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def distillation_loss(student, teacher, labels, alpha, T):
    ce = F.cross_entropy(student, labels)  # mean over the batch
    kl = F.kl_div(F.log_softmax(student / T, dim=-1), F.log_softmax(teacher / T, dim=-1),
                  log_target=True, reduction='batchmean')
    return alpha * ce + (1.0 - alpha) * T * T * kl


def make_case(name, batch, classes, scale, rows, seed):
    rs = np.random.RandomState(seed)
    s32 = (rs.standard_normal((batch, classes)) * scale).astype(np.float32)
    t32 = (rs.standard_normal((batch, classes)) * scale).astype(np.float32)
    labels = rs.randint(0, classes, size=batch).astype(np.int64)
    s = torch.tensor(s32.astype(np.float64))
    t = torch.tensor(t32.astype(np.float64))
    y = torch.tensor(labels)
    temps = []
    for T in TEMPERATURES:
        entry = {
            'T': T,
            'softmax_student': f64_list(F.softmax(s / T, dim=-1)[:rows]),
            'log_softmax_student': f64_list(F.log_softmax(s / T, dim=-1)[:rows]),
        }
        pt = F.softmax(t / T, dim=-1)
        entry['entropy_teacher'] = f64_list(-(pt * F.log_softmax(t / T, dim=-1)).sum(-1))
        entry['kl_batchmean'] = float(F.kl_div(F.log_softmax(s / T, dim=-1), F.log_softmax(t / T, dim=-1),
                                               log_target=True, reduction='batchmean'))
        entry['loss'] = {str(a): float(distillation_loss(s, t, y, a, T)) for a in ALPHAS}
        sg = s.clone().requires_grad_(True)
        distillation_loss(sg, t, y, GRAD_ALPHA, T).backward()
        entry['grad_student'] = f64_list(sg.grad[:rows])
        temps.append(entry)
    return {
        'name': name, 'shape': [batch, classes], 'rows': rows,
        'student': f32_list(s32), 'teacher': f32_list(t32), 'labels': [int(v) for v in labels],
        'temperatures': temps,
    }


def lamb_reference():
    """LAMB, Algorithm 2 of You et al. (2019), per parameter tensor ("layer"), phi = identity:

        m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t)
        r = m_hat / (sqrt(v_hat) + eps)
        u = r + wd * w
        ratio = ||w|| / ||u||   (1 when either norm is 0)
        w = w - lr * ratio * u
    """
    cfg = {'lr': 0.1, 'beta1': 0.9, 'beta2': 0.999, 'epsilon': 1e-6, 'weight_decay': 0.01, 'steps': 5}
    w1_0 = np.array([0.5, -1.0], dtype=np.float32)
    w2_0 = np.zeros(3, dtype=np.float32)
    a = torch.tensor([1.0, 3.0])
    c = torch.tensor([2.0, 1.0])
    b = torch.tensor([0.5, -1.0, 2.0])

    def loss_fn(w1, w2):
        # sum(a * (w1 - c)^2) + sum((w2 - b)^2) + w1[0] * w2[1]
        return (a * (w1 - c) ** 2).sum() + ((w2 - b) ** 2).sum() + w1[0] * w2[1]

    params = [torch.tensor(w1_0.astype(np.float64), requires_grad=True),
              torch.tensor(w2_0.astype(np.float64), requires_grad=True)]
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    history = []
    for t in range(1, cfg['steps'] + 1):
        for p in params:
            p.grad = None
        loss_fn(*params).backward()
        with torch.no_grad():
            ratios = []
            for i, p in enumerate(params):
                g = p.grad
                m[i] = cfg['beta1'] * m[i] + (1 - cfg['beta1']) * g
                v[i] = cfg['beta2'] * v[i] + (1 - cfg['beta2']) * g * g
                m_hat = m[i] / (1 - cfg['beta1'] ** t)
                v_hat = v[i] / (1 - cfg['beta2'] ** t)
                u = m_hat / (v_hat.sqrt() + cfg['epsilon']) + cfg['weight_decay'] * p
                wn, un = p.norm(), u.norm()
                ratio = float(wn / un) if wn > 0 and un > 0 else 1.0
                ratios.append(ratio)
                p -= cfg['lr'] * ratio * u
        history.append({'step': t, 'w1': f64_list(params[0]), 'w2': f64_list(params[1]), 'trust_ratios': ratios})
    return {
        'config': cfg,
        'loss': 'sum(a * (w1 - c)^2) + sum((w2 - b)^2) + w1[0] * w2[1]',
        'a': f64_list(a), 'c': f64_list(c), 'b': f64_list(b),
        'w1_0': f32_list(w1_0), 'w2_0': f32_list(w2_0),
        'history': history,
    }


def main():
    data = {
        'generated_by': 'scripts/golden/distill_golden.py',
        'torch_version': torch.__version__,
        'numpy_version': np.__version__,
        'python_version': sys.version.split()[0],
        'dtype': 'float64 (inputs are float32-exact)',
        'grad_alpha': GRAD_ALPHA,
        'cases': [make_case(*c) for c in CASES],
        'lamb': lamb_reference(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(data, f, indent=None, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)')


if __name__ == '__main__':
    main()
