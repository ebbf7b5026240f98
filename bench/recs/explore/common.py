import numpy as np
M64 = (1 << 64) - 1
def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)
def key(seed, u, i):
    return splitmix64(splitmix64(splitmix64(seed) ^ (u & M64)) ^ (i & M64))
def load(path, min_rating=4.0):
    rows=[]
    with open(path) as f:
        next(f)
        for line in f:
            p=line.strip().split(',')
            if float(p[2])>=min_rating: rows.append((int(p[0]),int(p[1])))
    return sorted(set(rows))
def split_user(seed,u,items):
    s=sorted(items,key=lambda i:(key(seed,u,i),i)); k=(len(s)+2)//5
    return s[:k], s[k:]
def build(pairs):
    per={}
    for u,i in pairs: per.setdefault(u,[]).append(i)
    per={u:l for u,l in per.items() if len(l)>=5}
    users=sorted(per); items=sorted({i for l in per.values() for i in l})
    iidx={i:k for k,i in enumerate(items)}
    X=np.zeros((len(users),len(items)),dtype=np.float64); test=[]
    trainraw={}
    for du,u in enumerate(users):
        te,tr=split_user(42,u,per[u])
        for i in tr: X[du,iidx[i]]=1
        test.append(sorted(iidx[i] for i in te)); trainraw[u]=tr
    return users,items,iidx,X,test,trainraw
def validation(users,items,iidx,trainraw,seed=4242):
    X=np.zeros((len(users),len(items))); test=[]
    for du,u in enumerate(users):
        raw=trainraw[u]
        if len(raw)>=5: te,tr=split_user(seed,u,raw)
        else: te,tr=[],raw
        for i in tr: X[du,iidx[i]]=1
        test.append(sorted(iidx[i] for i in te))
    return X,test
LOG=1/np.log2(np.arange(2,22))
def evaluate(X,test,S):
    """S: users x items scores. returns dict of metrics averaged over users with test."""
    cat=X.sum(0)>0
    S=np.where(cat[None,:]&(X==0),S,-np.inf)
    n=S.shape[1]; res=[]
    for u in range(S.shape[0]):
        t=test[u]
        if not t: continue
        s=S[u]
        # top 20 by (score desc, id asc): argsort stable on -s
        top=np.argsort(-s,kind='stable')[:20]
        top=top[np.isfinite(s[top])]
        ts=set(t); hits=np.array([1.0 if i in ts else 0.0 for i in top]+[0.0]*(20-len(top)))
        p10=hits[:10].sum()/10; nr=hits.sum()/min(20,len(t))
        ndcg=(hits[:10]*LOG[:10]).sum()/LOG[:min(10,len(t))].sum()
        res.append((p10,nr,ndcg))
    r=np.array(res).mean(0)
    return dict(p10=r[0],nr20=r[1],ndcg=r[2])
def evaluate(X,test,S):
    cat=X.sum(0)>0
    S=np.where(cat[None,:]&(X==0),S,-np.inf)
    # stable: score desc then id asc. use lexsort on top-40 candidates via argpartition
    k=40
    part=np.argpartition(-S,k,axis=1)[:,:k]
    res=[]
    for u in range(S.shape[0]):
        t=test[u]
        if not t: continue
        s=S[u]; c=part[u]
        # ensure ties at boundary handled: include all items with score >= 20th best
        o=c[np.lexsort((c,-s[c]))][:20]
        thr=s[o[-1]]
        if np.sum(s>=thr)>k:  # rare: ties beyond partition
            o=np.argsort(-s,kind='stable')[:20]
        o=o[np.isfinite(s[o])]
        ts=set(t); hits=np.array([1.0 if i in ts else 0.0 for i in o]+[0.0]*(20-len(o)))
        p10=hits[:10].sum()/10; nr=hits.sum()/min(20,len(t))
        ndcg=(hits[:10]*LOG[:10]).sum()/LOG[:min(10,len(t))].sum()
        res.append((p10,nr,ndcg))
    r=np.array(res).mean(0)
    return dict(p10=r[0],nr20=r[1],ndcg=r[2])
