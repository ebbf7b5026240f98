# History re-weighting by how typical each history item is for the user (its leave-one-out wEASE
# score), and a power on B's entries; validation folds only.
exec(open('wb.py').read())
import time
res={}
def add(k,v): res.setdefault(k,[]).append(v)
for sd in SEEDS5:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    t=time.time()
    B,g=fullB(Xf,400,0.25,0.0)     # beta applied after (column scale)
    gs=np.maximum(g,1e-30); cs=gs**-0.2
    L0=Xf@B                          # LOO score of each history item (diag(B)=0), no beta
    S0=L0*cs[None,:]
    add('base',ev(Xf,tf,S0)['ndcg'])
    # typicality: LOO score of history item h, standardised within the user's history
    H=Xf>0
    m=np.where(H,L0,np.nan)
    mu=np.nanmean(m,1,keepdims=True); sdv=np.nanstd(m,1,keepdims=True)+1e-9
    zz=np.where(H,(L0-mu)/sdv,0)
    for c in [-0.3,-0.15,0.15,0.3]:
        W=np.where(H,np.clip(1+c*zz,0.05,None),0)
        add(f'attn z c={c}',ev(Xf,tf,(W@B)*cs[None,:])['ndcg'])
    # rank-within-history power
    pos=np.where(H,np.maximum(L0,1e-6),0)
    for p in [-0.25,0.25,0.5]:
        W=np.where(H,(pos/np.nanmean(np.where(H,pos,np.nan),1,keepdims=True))**p,0)
        add(f'attn pow p={p}',ev(Xf,tf,(W@B)*cs[None,:])['ndcg'])
    for p in [0.8,0.9,1.15,1.3]:
        Bp=np.sign(B)*np.abs(B)**p
        add(f'Bpow {p}',ev(Xf,tf,(Xf@Bp)*cs[None,:])['ndcg'])
    print(sd,time.time()-t,flush=True)
report(res,'base')
