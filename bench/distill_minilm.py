"""MiniLM (all-MiniLM-L6-v2) pruning + distillation figure (issue 7): cosine of the sentence
embeddings of pruned/distilled students to the original model's, on held-out text.

Runs every model in onnxruntime 1.32 (1 thread). The sentence embedding is the model card's:
mean of last_hidden_state over the attention mask, L2-normalised. Also reports the token-level
cosine (per non-padding token) and the max abs diff of last_hidden_state on real tokens.

Run: /work/cache/venv/bin/python bench/distill_minilm.py ORIGINAL.onnx HELDOUT.npz STUDENT.onnx [...]

Reproducing the issue-7 figure (MLP pruned 25%, then distilled; session 6, release binary,
F=/work/cache/fixtures from tests/fixtures/quant/make_minilm.py and
tests/fixtures/distill/make_minilm_distill.py; figures in tests/fixtures/distill/RESULTS.md):

  # 1. prune every MLP 1536 -> 1152, ranked on 2048 training sequences (real tokens only, from
  #    the attention_mask input), output projections refitted by least squares (~14 min at load 6)
  edgeport prune $F/minilm.onnx -o obs2048.onnx --structured 0.25 --heads 0 \
      --calibration $F/minilm_distill_train.npz --calibration-samples 2048
  # 2. distil on the first N training sequences (N = 512 / 1024: python -c "import numpy as np;
  #    d=np.load('$F/minilm_distill_train.npz'); np.savez('trainN.npz', **{k: v[:N] for k, v in d.items()})"),
  #    MSE over real tokens (--token-mask auto picks attention_mask)
  edgeport distill --teacher $F/minilm.onnx --student obs2048.onnx --data train512.npz \
      -o obs2048_distilled.onnx --loss mse --lr 3e-5 --schedule cosine --batch 4 --steps 240
  edgeport distill --teacher $F/minilm.onnx --student obs2048.onnx --data train1024.npz \
      -o obs2048_distilled600.onnx --loss mse --lr 3e-5 --schedule cosine --batch 4 --steps 600
  # 3. score on the 256 held-out sequences (disjoint modules, never in the training data)
  python bench/distill_minilm.py $F/minilm.onnx $F/minilm_distill_heldout.npz \
      obs2048.onnx obs2048_distilled.onnx obs2048_distilled600.onnx
"""
import sys
import numpy as np
import onnxruntime as ort


def run(path, ids, mask):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    return np.stack([s.run(None, {"input_ids": ids[i], "attention_mask": mask[i]})[0][0] for i in range(len(ids))])


def pooled(h, m):
    m = m[:, 0, :, None].astype(np.float32)
    e = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


orig, held = sys.argv[1], np.load(sys.argv[2])
ids, mask = held["input_ids"], held["attention_mask"]
ref = run(orig, ids, mask)
pr = pooled(ref, mask)
print(f"held-out: {len(ids)} sequences from {sys.argv[2]}")
print(f"{'model':60s} {'emb cos mean':>12s} {'min':>7s} {'token cos':>10s} {'max|d|':>8s}")
for p in sys.argv[3:]:
    h = run(p, ids, mask)
    cos = (pooled(h, mask) * pr).sum(1)
    keep = mask[:, 0, :].astype(bool)
    a, b = h[keep], ref[keep]
    tc = ((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).mean()
    print(f"{p[-60:]:60s} {cos.mean():12.4f} {cos.min():7.4f} {tc:10.4f} {np.abs(a - b).max():8.3f}")
