exec(open('folds.py').read())
def coreL(X,Xw,Lam):
    A=Xw/Lam[None,:]
    K=np.eye(Xw.shape[0])+A@Xw.T
    L=np.linalg.cholesky(K); Z=np.linalg.solve(L,A)
    dP=1/Lam-(Z**2).sum(0)
    XP=X/Lam[None,:]-(X@Z.T)@Z
    return XP,dP
for f,(Xf,tf) in enumerate(FOLDS):
    Xw,g=prep(Xf,0.25)
    gm=np.exp(np.log(g[g>0]).mean())
    out=[]
    for kappa in [-0.5,-0.25,0,0.25,0.5]:
        for lam in [200,400,800]:
            Lam=lam*(np.maximum(g,1e-9)/gm)**kappa
            XP,dP=coreL(Xf,Xw,Lam)
            S=-(XP-Xf*dP[None,:])*(np.maximum(g,1e-30)**-0.2/dP)[None,:]
            out.append((kappa,lam,ev(Xf,tf,S)['ndcg']))
    print(f,' '.join('k%.2f/l%d:%.4f'%o for o in out),flush=True)
