# Per-user popularity debiasing and multi-scale ensembles on top of wEASE, validation folds only.
exec(open('wb.py').read())
import time,sys
SEEDS=[4242,4243,4244,4245,4246]
FOLDS=[validation(users,items,iidx,trainraw,sd) for sd in SEEDS]
def fullB(Xtr,lam,gamma):
    Xw,g=prep(Xtr,gamma)
    idx=np.where(g>0)[0]
    A=Xw[:,idx]/lam
    K=np.eye(Xw.shape[0])+A@Xw[:,idx].T
    L=np.linalg.cholesky(K); Z=np.linalg.solve(L,A)
    P=np.eye(len(idx))/lam-Z.T@Z
    d=np.diag(P).copy()
    Bs=-P/d[None,:]; np.fill_diagonal(Bs,0)
    B=np.zeros((Xtr.shape[1],)*2); B[np.ix_(idx,idx)]=Bs
    return B,g
def nrm(S): return S/np.maximum(np.abs(S).max(1,keepdims=True),1e-12)
res={}
def add(k,v): res.setdefault(k,[]).append(v)
for f,(Xf,tf) in enumerate(FOLDS):
    t=time.time()
    B,g=fullB(Xf,400,0.25); S0=Xf@B
    gs=np.maximum(g,1e-30)
    lg=np.log(gs)
    n=Xf.sum(1)
    hp=(Xf*lg[None,:]).sum(1)/np.maximum(n,1)   # mean log-pop of history
    z=(hp-hp.mean())/hp.std()
    base=ev(Xf,tf,S0*gs[None,:]**-0.2)['ndcg']; add('base',base)
    for b1 in [-0.1,-0.05,0.05,0.1]:
        bu=0.2+b1*z
        add(f'ubeta pop b1={b1}',ev(Xf,tf,S0*np.exp(-bu[:,None]*lg[None,:]))['ndcg'])
    zn=(np.log(n)-np.log(n).mean())/np.log(n).std()
    for b1 in [-0.1,-0.05,0.05,0.1]:
        bu=0.2+b1*zn
        add(f'ubeta len b1={b1}',ev(Xf,tf,S0*np.exp(-bu[:,None]*lg[None,:]))['ndcg'])
    # multi-scale ensemble
    Sb=S0*gs[None,:]**-0.2
    for lam2 in [100,1600]:
        B2,_=fullB(Xf,lam2,0.25); S2=(Xf@B2)*gs[None,:]**-0.2
        for w in [0.25,0.5]:
            add(f'ens lam{lam2} w{w}',ev(Xf,tf,(1-w)*nrm(Sb)+w*nrm(S2))['ndcg'])
    for gam2 in [0.0,0.5]:
        B2,g2=fullB(Xf,400,gam2); S2=(Xf@B2)*gs[None,:]**-0.2
        for w in [0.25,0.5]:
            add(f'ens gam{gam2} w{w}',ev(Xf,tf,(1-w)*nrm(Sb)+w*nrm(S2))['ndcg'])
    print(f,time.time()-t,flush=True)
base=np.array(res['base'])
for k,v in res.items():
    v=np.array(v); d=v-base
    print(f'{k:20s} mean {v.mean():.4f} d {d.mean():+.4f} min {d.min():+.4f} max {d.max():+.4f}')
