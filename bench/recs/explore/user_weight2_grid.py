exec(open('user_weight2.py').read().split('res={}')[0])
import itertools
res={}
def add(k,v): res.setdefault(k,[]).append(v)
for sd in SEEDS:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    n=Xf.sum(1); pop=Xf.sum(0); lg=np.log(np.maximum(pop,1))
    hp=(Xf*lg[None,:]).sum(1)/np.maximum(n,1); z=(hp-hp.mean())/hp.std()
    for gam,dl,beta,lam in [(0.25,0,0.2,400)]+list(itertools.product([0.25],[0.15,0.25,0.35],[0.1,0.2,0.3],[250,400,600]))+[(0.15,0.25,0.2,400),(0.35,0.25,0.2,400)]:
        w2=np.maximum(n,1)**(-2*gam)*np.exp(-dl*z); w2*=Xf.sum()/(w2*n).sum()
        add((gam,dl,beta,lam),ev(Xf,tf,scoresW(Xf,lam,w2,beta))['ndcg'])
    print(sd,flush=True)
base=np.array(res[(0.25,0,0.2,400)])
for k,v in sorted(res.items(),key=lambda kv:-np.mean(kv[1])):
    v=np.array(v); d=v-base
    print(f'{str(k):24s} mean {v.mean():.4f} d {d.mean():+.4f} min {d.min():+.4f} max {d.max():+.4f}')
