# Robust re-weighting of users (one IRLS-like step): fit wEASE (with δ), score each user's fit by the
# mean leave-one-out score of their history items, standardise (t_u), refit with an extra weight
# exp(-η t_u); validation folds only.
exec(open('user_weight2.py').read().split('res={}')[0])
res={}
def add(k,v): res.setdefault(k,[]).append(v)
def weights(Xf,dl,extra=None):
    n=Xf.sum(1); pop=Xf.sum(0); lg=np.log(np.maximum(pop,1))
    hp=(Xf*lg[None,:]).sum(1)/np.maximum(n,1); z=(hp-hp.mean())/hp.std()
    w2=np.maximum(n,1)**(-0.5)*np.exp(-dl*z)
    if extra is not None: w2=w2*extra
    return w2*Xf.sum()/(w2*n).sum()
for sd in SEEDS:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    n=Xf.sum(1)
    w2=weights(Xf,0.25)
    # unscaled LOO scores (beta 0) for the fit measure
    S0=scoresW(Xf,400,w2,0.0)
    H=Xf>0
    loo=np.where(H,S0,0).sum(1)/np.maximum(n,1)
    t=(loo-loo.mean())/loo.std()
    add('delta .25',ev(Xf,tf,scoresW(Xf,400,w2,0.2))['ndcg'])
    for eta in [-0.3,-0.15,0.15,0.3]:
        add(f'eta {eta}',ev(Xf,tf,scoresW(Xf,400,weights(Xf,0.25,np.exp(-eta*t)),0.2))['ndcg'])
    print(sd,flush=True)
base=np.array(res['delta .25'])
for k,v in res.items():
    v=np.array(v); d=v-base
    print(f'{k:12s} mean {v.mean():.4f} d {d.mean():+.4f} min {d.min():+.4f} max {d.max():+.4f}')
