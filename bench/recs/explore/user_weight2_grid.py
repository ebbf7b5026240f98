# δ x β x λ grid around the tuned point (γ 0.25), plus γ 0.15/0.35 at δ 0.25; validation folds only.
exec(open('wb.py').read())
import itertools
res={}
def add(k,v): res.setdefault(k,[]).append(v)
GRID=[(0.25,0,0.2,400)]+list(itertools.product([0.25],[0.15,0.25,0.35],[0.1,0.2,0.3],[250,400,600]))+[(0.15,0.25,0.2,400),(0.35,0.25,0.2,400)]
for sd in SEEDS5:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    for gam,dl,beta,lam in GRID:
        add((gam,dl,beta,lam),ev(Xf,tf,scoresW(Xf,lam,mainstream_w2(Xf,gam,dl),beta))['ndcg'])
    print(sd,flush=True)
res=dict(sorted(res.items(),key=lambda kv:-np.mean(kv[1])))
report(res,(0.25,0,0.2,400),24)
