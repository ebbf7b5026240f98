# Items with fewer than `ms` TRAIN interactions left out of wEASE (neither predictors nor
# targets, never recommended), with and without mainstream weighting δ; validation folds only.
exec(open('wb.py').read())
res={}
def add(k,v): res.setdefault(k,[]).append(v)
for sd in SEEDS5:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    for ms in [1,2,3,5]:
        keep=Xf.sum(0)>=ms   # mainstream z over the model's items, as the engine computes it
        for dl in [0,0.25]:
            add((ms,dl),ev(Xf,tf,scoresW(Xf,400,mainstream_w2(Xf,0.25,dl,keep=keep),0.2,ms))['ndcg'])
    print(sd,flush=True)
res=dict(sorted(res.items()))
report(res,(1,0),12)
