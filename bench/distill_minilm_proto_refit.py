"""Prototype (numpy + onnxruntime) of data-aware MLP pruning on all-MiniLM-L6-v2 (issue 7): how
the ranking of hidden neurons and the least-squares refit of the output projection were chosen
before they were written in Rust (passes/src/prune/refit.rs). Prunes 1536 -> 1152 in every
block from the activations of NCAL training sequences (real tokens only) and prints the held-out
sentence-embedding cosine to the original. Figures: tests/fixtures/distill/RESULTS.md.

Criteria: l1 (weight norms), act (mean |a| x ||w_out row||), rms (RMS a x ||w_out row||), obs
(||w_out row||^2 / [H^-1]_jj). MODE indep: refit each block on the original's activations; seq:
refit on the pruned model's activations, targets corrected for the upstream drift.

Pinned: onnx 1.22.0, onnxruntime 1.32.0, numpy (/work/cache/venv).
Run: python bench/distill_minilm_proto_refit.py NCAL indep|seq RIDGE l1,act,rms,obs
"""
import sys, numpy as np, onnx, onnxruntime as ort
from onnx import numpy_helper, helper
M='/work/cache/fixtures/minilm.onnx'
tr=np.load('/work/cache/fixtures/minilm_distill_train.npz'); he=np.load('/work/cache/fixtures/minilm_distill_heldout.npz')
NCAL=int(sys.argv[1]) if len(sys.argv)>1 else 256
MODE=sys.argv[2] if len(sys.argv)>2 else 'indep'
LAM=float(sys.argv[3]) if len(sys.argv)>3 else 1e-3
m=onnx.load(M); g=m.graph
inits={i.name:i for i in g.initializer}
L=6
def nm(k,s): return f'/m/encoder/layer.{k}/{s}'
taps=[]
for k in range(L):
    taps+= [nm(k,'intermediate/intermediate_act_fn/Mul_1_output_0'), nm(k,'output/dense/Add_output_0'), nm(k,'attention/output/LayerNorm/LayerNormalization_output_0')]
def w_of(k):
    n1=[n for n in g.node if n.name==nm(k,'intermediate/dense/MatMul')][0]
    a1=[n for n in g.node if n.name==nm(k,'intermediate/dense/Add')][0]
    n2=[n for n in g.node if n.name==nm(k,'output/dense/MatMul')][0]
    a2=[n for n in g.node if n.name==nm(k,'output/dense/Add')][0]
    return n1.input[1], a1.input[0], n2.input[1], a2.input[0]
def session(model, extra):
    mm=onnx.ModelProto(); mm.CopyFrom(model)
    for t in extra: mm.graph.output.append(helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    o=ort.SessionOptions(); o.intra_op_num_threads=1
    return ort.InferenceSession(mm.SerializeToString(), o, providers=['CPUExecutionProvider'])
def collect(model, data, n, extra):
    s=session(model, extra); outs=[[] for _ in range(len(extra)+1)]
    for i in range(n):
        r=s.run(None, {'input_ids':data['input_ids'][i], 'attention_mask':data['attention_mask'][i]})
        keep=data['attention_mask'][i][0].astype(bool)
        for j,x in enumerate(r): outs[j].append(x[0][keep])
    return [np.concatenate(o) for o in outs]
def pooled_run(model, data):
    s=session(model, [])
    h=np.stack([s.run(None,{'input_ids':data['input_ids'][i],'attention_mask':data['attention_mask'][i]})[0][0] for i in range(len(data['input_ids']))])
    mk=data['attention_mask'][:,0,:,None].astype(np.float32)
    e=(h*mk).sum(1)/mk.sum(1); return e/np.linalg.norm(e,axis=1,keepdims=True)
ref=pooled_run(m, he)
def setw(model,name,arr):
    for i in model.graph.initializer:
        if i.name==name: i.CopyFrom(numpy_helper.from_array(arr.astype(np.float32), name))
def prune(crit, refit):
    pm=onnx.ModelProto(); pm.CopyFrom(m)
    orig=collect(m, tr, NCAL, taps)
    cur=orig
    for k in range(L):
        w1n,b1n,w2n,b2n=w_of(k)
        W1=numpy_helper.to_array(inits[w1n]); b1=numpy_helper.to_array(inits[b1n]); W2=numpy_helper.to_array(inits[w2n]).astype(np.float64); b2=numpy_helper.to_array(inits[b2n]).astype(np.float64)
        if MODE=='seq' and k>0: cur=collect(pm, tr, NCAL, taps)
        H=orig[1+3*k].astype(np.float64)
        if crit=='l1': sc=np.abs(W1).sum(0)/np.abs(W1).sum(0).max()+np.abs(W2).sum(1)/np.abs(W2).sum(1).max()
        elif crit=='obs':
            Z=np.hstack([H,np.ones((len(H),1))]); G=Z.T@Z; G[np.arange(len(G)),np.arange(len(G))]+=LAM*np.trace(G)/len(G)
            Hi=np.linalg.inv(G); sc=(W2**2).sum(1)/np.diag(Hi)[:-1]
        elif crit=='rms': sc=np.sqrt((H*H).mean(0))*np.linalg.norm(W2,axis=1)
        else: sc=np.abs(H).mean(0)*np.linalg.norm(W2,axis=1)
        keep=np.sort(np.argsort(-sc)[:1152])
        Y=orig[2+3*k].astype(np.float64)  # original mlp output
        if MODE=='seq':
            Hc=cur[1+3*k].astype(np.float64)[:,keep]
            Y=Y+orig[3+3*k]-cur[3+3*k]   # also correct the residual input drift
        else: Hc=H[:,keep]
        if refit:
            X=np.hstack([Hc,np.ones((len(Hc),1))]); A=X.T@X; lam=LAM*np.trace(A)/A.shape[0]
            A[np.arange(len(keep)),np.arange(len(keep))]+=lam
            Wb=np.linalg.solve(A, X.T@Y); W2n=Wb[:-1]; b2n_=Wb[-1]
        else: W2n=W2[keep]; b2n_=b2
        setw(pm,w1n,W1[:,keep]); setw(pm,b1n,b1[keep]); setw(pm,w2n,W2n); setw(pm,b2n,b2n_)
    return pm
for crit,refit in [(c,True) for c in sys.argv[4].split(',')]:
    pm=prune(crit,refit)
    c=(pooled_run(pm,he)*ref).sum(1)
    print(MODE,NCAL,LAM,crit,'refit' if refit else 'norefit', f'cos mean {c.mean():.4f} min {c.min():.4f}', flush=True)
    if crit=='act' and refit: pass
