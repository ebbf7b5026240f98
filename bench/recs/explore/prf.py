# Pseudo-relevance feedback (query expansion) on top of wEASE, validation folds only.
exec(open('wb.py').read())
import time,sys
SEEDS=[int(s) for s in sys.argv[1].split(',')] if len(sys.argv)>1 else [4242,4243,4244,4245,4246]
FOLDS=[validation(users,items,iidx,trainraw,sd) for sd in SEEDS]
def fullB(Xtr,lam,gamma,beta):
    Xw,g=prep(Xtr,gamma)
    cat=g>0; idx=np.where(cat)[0]
    A=Xw[:,idx]/lam
    K=np.eye(Xw.shape[0])+A@Xw[:,idx].T
    L=np.linalg.cholesky(K); Z=np.linalg.solve(L,A)
    P=np.eye(len(idx))/lam-Z.T@Z
    d=np.diag(P).copy()
    Bs=-P*((g[idx]**-beta)/d)[None,:]; np.fill_diagonal(Bs,0)
    B=np.zeros((Xtr.shape[1],)*2); B[np.ix_(idx,idx)]=Bs
    return B
def topk_mask(S,X,k):
    S=np.where(X>0,-np.inf,S)
    part=np.argpartition(-S,k,axis=1)[:,:k]
    M=np.zeros_like(S); np.put_along_axis(M,part,1.0,axis=1)
    return M
res={}
for f,(Xf,tf) in enumerate(FOLDS):
    t=time.time()
    B=fullB(Xf,400,0.25,0.2)
    S=Xf@B
    res.setdefault('base',[]).append(ev(Xf,tf,S)['ndcg'])
    for k in [5,10,20,40]:
        M=topk_mask(S,Xf,k)
        S2=M@B
        for w in [0.1,0.2,0.3,0.5]:
            res.setdefault(f'prf k{k} w{w}',[]).append(ev(Xf,tf,S+w*S2)['ndcg'])
    print(f,time.time()-t,flush=True)
base=np.array(res['base'])
for k,v in res.items():
    v=np.array(v); d=v-base
    print(f'{k:16s} mean {v.mean():.4f} d {d.mean():+.4f} min {d.min():+.4f} max {d.max():+.4f}')
