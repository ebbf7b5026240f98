# Robust re-weighting of users (one IRLS-like step): fit wEASE (with δ), score each user's fit by the
# mean leave-one-out score of their history items, standardise (t_u), refit with an extra weight
# exp(-η t_u); validation folds only.
exec(open('wb.py').read())
res={}
def add(k,v): res.setdefault(k,[]).append(v)
for sd in SEEDS5:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    n=Xf.sum(1)
    w2=mainstream_w2(Xf,0.25,0.25)
    S0=scoresW(Xf,400,w2,0.0)       # unscaled (β 0) leave-one-out scores, for the fit measure
    loo=np.where(Xf>0,S0,0).sum(1)/np.maximum(n,1)
    t=(loo-loo.mean())/loo.std()
    add('delta .25',ev(Xf,tf,scoresW(Xf,400,w2,0.2))['ndcg'])
    for eta in [-0.3,-0.15,0.15,0.3]:
        add(f'eta {eta}',ev(Xf,tf,scoresW(Xf,400,mainstream_w2(Xf,0.25,0.25,extra=np.exp(-eta*t)),0.2))['ndcg'])
    print(sd,flush=True)
report(res,'delta .25',12)
