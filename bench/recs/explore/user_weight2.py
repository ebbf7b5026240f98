# User weights in wEASE's Gram beyond history length: w_u = n_u^-2γ · exp(-δ·z_u), z_u = standardised
# mean log-popularity of the user's history (mainstream users positive); validation folds only.
exec(open('wb.py').read())
import time
SEEDS=[4242,4243,4244,4245,4246]
def scoresW(X,lam,w2,beta):
    Xw=X*np.sqrt(w2)[:,None]; g=(Xw**2).sum(0)
    idx=np.where(g>0)[0]
    A=Xw[:,idx]/lam
    K=np.eye(X.shape[0])+A@Xw[:,idx].T
    L=np.linalg.cholesky(K); Z=np.linalg.solve(L,A)
    P=np.eye(len(idx))/lam-Z.T@Z
    d=np.diag(P).copy()
    Bs=-P*((g[idx]**-beta)/d)[None,:]; np.fill_diagonal(Bs,0)
    S=np.zeros(X.shape); S[:,idx]=X[:,idx]@Bs
    return S
res={}
def add(k,v): res.setdefault(k,[]).append(v)
for sd in SEEDS:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    t=time.time()
    n=Xf.sum(1); pop=Xf.sum(0); lg=np.log(np.maximum(pop,1))
    hp=(Xf*lg[None,:]).sum(1)/np.maximum(n,1); z=(hp-hp.mean())/hp.std()
    for dl in [0,-0.5,-0.25,0.25,0.5]:
        w2=np.maximum(n,1)**(-0.5)*np.exp(-dl*z); w2*=Xf.sum()/(w2*n).sum()
        add(f'delta {dl}',ev(Xf,tf,scoresW(Xf,400,w2,0.2))['ndcg'])
    print(sd,time.time()-t,flush=True)
base=np.array(res['delta 0'])
for k,v in res.items():
    v=np.array(v); d=v-base
    print(f'{k:20s} mean {v.mean():.4f} d {d.mean():+.4f} min {d.min():+.4f} max {d.max():+.4f}')
