# User weights in wEASE's Gram beyond history length: w_u = n_u^-2γ · exp(-δ·z_u), z_u = standardised
# mean log-popularity of the user's history (mainstream users positive); validation folds only.
exec(open('wb.py').read())
res={}
def add(k,v): res.setdefault(k,[]).append(v)
for sd in SEEDS5:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    for dl in [0,-0.5,-0.25,0.25,0.5]:
        add(f'delta {dl}',ev(Xf,tf,scoresW(Xf,400,mainstream_w2(Xf,0.25,dl),0.2))['ndcg'])
    print(sd,flush=True)
report(res,'delta 0')
