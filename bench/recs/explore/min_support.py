# Items with fewer than `ms` TRAIN interactions left out of wEASE (neither predictors nor
# targets, never recommended), with and without mainstream weighting δ; validation folds only.
exec(open('user_weight2.py').read().split('res={}')[0])
def scoresMS(X,lam,w2,beta,ms):
    Xw=X*np.sqrt(w2)[:,None]; g=(Xw**2).sum(0); cnt=X.sum(0)
    idx=np.where(cnt>=ms)[0]
    A=Xw[:,idx]/lam
    K=np.eye(X.shape[0])+A@Xw[:,idx].T
    L=np.linalg.cholesky(K); Z=np.linalg.solve(L,A)
    P=np.eye(len(idx))/lam-Z.T@Z
    d=np.diag(P).copy()
    Bs=-P*((g[idx]**-beta)/d)[None,:]; np.fill_diagonal(Bs,0)
    S=np.full(X.shape,-1e9); S[:,idx]=X[:,idx]@Bs
    return S
res={}
def add(k,v): res.setdefault(k,[]).append(v)
for sd in SEEDS:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    n=Xf.sum(1); pop=Xf.sum(0); lg=np.log(np.maximum(pop,1))
    for ms in [1,2,3,5]:
        for dl in [0,0.25]:
            # mainstream z over the model's items (as the engine computes it)
            keep=pop>=ms; nk=(Xf[:,keep]).sum(1)
            hp=(Xf[:,keep]*lg[keep][None,:]).sum(1)/np.maximum(nk,1); z=(hp-hp.mean())/hp.std()
            w2=np.maximum(nk,1)**(-0.5)*np.exp(-dl*z); w2*=Xf[:,keep].sum()/(w2*nk).sum()
            add((ms,dl),ev(Xf,tf,scoresMS(Xf,400,w2,0.2,ms))['ndcg'])
    print(sd,flush=True)
base=np.array(res[(1,0)])
for k,v in sorted(res.items()):
    v=np.array(v); d=v-base
    print(f'{str(k):12s} mean {v.mean():.4f} d {d.mean():+.4f} min {d.min():+.4f} max {d.max():+.4f}')
