# Per-user popularity debiasing and multi-scale ensembles on top of wEASE, validation folds only.
exec(open('wb.py').read())
import time
res={}
def add(k,v): res.setdefault(k,[]).append(v)
for sd in SEEDS5:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    t=time.time()
    B,g=fullB(Xf,400,0.25,0); S0=Xf@B
    gs=np.maximum(g,1e-30)
    lg=np.log(gs)
    n=Xf.sum(1)
    hp=(Xf*lg[None,:]).sum(1)/np.maximum(n,1)   # mean log-pop of history
    z=(hp-hp.mean())/hp.std()
    base=ev(Xf,tf,S0*gs[None,:]**-0.2)['ndcg']; add('base',base)
    for b1 in [-0.1,-0.05,0.05,0.1]:
        bu=0.2+b1*z
        add(f'ubeta pop b1={b1}',ev(Xf,tf,S0*np.exp(-bu[:,None]*lg[None,:]))['ndcg'])
    zn=(np.log(n)-np.log(n).mean())/np.log(n).std()
    for b1 in [-0.1,-0.05,0.05,0.1]:
        bu=0.2+b1*zn
        add(f'ubeta len b1={b1}',ev(Xf,tf,S0*np.exp(-bu[:,None]*lg[None,:]))['ndcg'])
    # multi-scale ensemble
    Sb=S0*gs[None,:]**-0.2
    for lam2 in [100,1600]:
        B2,_=fullB(Xf,lam2,0.25,0); S2=(Xf@B2)*gs[None,:]**-0.2
        for w in [0.25,0.5]:
            add(f'ens lam{lam2} w{w}',ev(Xf,tf,(1-w)*nrm(Sb)+w*nrm(S2))['ndcg'])
    for gam2 in [0.0,0.5]:
        B2,g2=fullB(Xf,400,gam2,0); S2=(Xf@B2)*gs[None,:]**-0.2
        for w in [0.25,0.5]:
            add(f'ens gam{gam2} w{w}',ev(Xf,tf,(1-w)*nrm(Sb)+w*nrm(S2))['ndcg'])
    print(sd,time.time()-t,flush=True)
report(res,'base')
