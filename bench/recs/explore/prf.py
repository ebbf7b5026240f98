# Pseudo-relevance feedback (query expansion) on top of wEASE, validation folds only.
exec(open('wb.py').read())
import time
def topk_mask(S,X,k):
    S=np.where(X>0,-np.inf,S)
    part=np.argpartition(-S,k,axis=1)[:,:k]
    M=np.zeros_like(S); np.put_along_axis(M,part,1.0,axis=1)
    return M
res={}
def add(k,v): res.setdefault(k,[]).append(v)
for sd in SEEDS5:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    t=time.time()
    B,_=fullB(Xf,400,0.25,0.2)
    S=Xf@B
    add('base',ev(Xf,tf,S)['ndcg'])
    for k in [5,10,20,40]:
        S2=topk_mask(S,Xf,k)@B
        for w in [0.1,0.2,0.3,0.5]:
            add(f'prf k{k} w{w}',ev(Xf,tf,S+w*S2)['ndcg'])
    print(sd,time.time()-t,flush=True)
report(res,'base',16)
