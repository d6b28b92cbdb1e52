"""The distillation loop of `edgeport distill` on the digits CNN, in PyTorch, for the speed
comparison of bench/distill_speed.sh: the same student (weights loaded from
tests/fixtures/distill/digits_student_init.onnx), teacher logits computed once (onnxruntime),
KL with temperature 4 (T² scaled), Adam lr 3e-3, batch 32, seeded shuffling.

Pinned: torch 2.15.0, onnx 1.22.0, onnxruntime 1.32.0 (/work/cache/venv-torch).
Usage: python distill_torch.py STEPS [THREADS]   -> prints a JSON line with steps_per_sec
"""
import json
import os
import sys
import time
import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
from onnx import numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
fx = os.path.join(here, "..", "tests", "fixtures")
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
if len(sys.argv) > 2:
    torch.set_num_threads(int(sys.argv[2]))
x = np.load(os.path.join(fx, "distill", "digits_unlabeled.npz"))["image"]
teacher = ort.InferenceSession(os.path.join(fx, "quant", "digits_cnn.onnx"))
t_logits = torch.from_numpy(teacher.run(None, {"image": x})[0])


class Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.c1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.c2(x)), 2)
        return self.fc(x.flatten(1))


m = onnx.load(os.path.join(fx, "distill", "digits_student_init.onnx"))
w = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
net = Student()
with torch.no_grad():
    net.c1.weight.copy_(w["c1.weight"]); net.c1.bias.copy_(w["c1.bias"])
    net.c2.weight.copy_(w["c2.weight"]); net.c2.bias.copy_(w["c2.bias"])
    net.fc.weight.copy_(w["fc.weight"]); net.fc.bias.copy_(w["fc.bias"])
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
xt = torch.from_numpy(x)
T = 4.0
g = torch.Generator().manual_seed(0)
perm = torch.randperm(len(xt), generator=g)
pos = 0
start = time.perf_counter()
for step in range(steps):
    if pos + 32 > len(xt):
        perm = torch.randperm(len(xt), generator=g)
        pos = 0
    idx = perm[pos:pos + 32]
    pos += 32
    opt.zero_grad()
    s = net(xt[idx]) / T
    t = t_logits[idx] / T
    loss = nn.functional.kl_div(nn.functional.log_softmax(s, 1), nn.functional.log_softmax(t, 1),
                                log_target=True, reduction="batchmean") * T * T
    loss.backward()
    opt.step()
secs = time.perf_counter() - start
print(json.dumps({"steps": steps, "seconds": secs, "steps_per_sec": steps / secs, "threads": torch.get_num_threads(),
                  "final_loss": float(loss)}))
