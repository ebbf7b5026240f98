# Confidence-weighted EASE (iALS-style entry weights 1 + alpha * x_uj in EASE's loss), validation only.
# Column j: ridge of x_j on X_{-j} with row weights d_u = w_u (1 + alpha x_uj), in kernel form:
#   v_j = (K_j + lam D_j^-1)^-1 x_j, K_j = X X^T - x_j x_j^T;  scores S[:, j] = K_j v_j (* g_j^-beta)
exec(open('wb.py').read())
import time,sys
SEEDS=[int(s) for s in sys.argv[1].split(',')]
ALPHAS=[float(a) for a in sys.argv[2].split(',')]
LAMS=[float(a) for a in sys.argv[3].split(',')] if len(sys.argv)>3 else [400]
GAMMA=0.25; BETA=0.2
def conf_scores(X,lam,alpha,gamma=GAMMA,beta=BETA,chunk=48):
    w2=mainstream_w2(X,gamma,0.0)
    g=(X*w2[:,None]).sum(0)
    K=(X@X.T).astype(np.float64)
    idx=np.where(g>0)[0]
    S=np.full(X.shape,0.0)
    U=X.shape[0]
    for s in range(0,len(idx),chunk):
        J=idx[s:s+chunk]
        xj=X[:,J].T                      # c x U
        Kj=K[None,:,:]-xj[:,:,None]*xj[:,None,:]
        dinv=lam/(np.maximum(w2,1e-30)[None,:]*(1+alpha*xj))   # c x U
        A=Kj.copy(); A[:,np.arange(U),np.arange(U)]+=dinv
        v=np.linalg.solve(A,xj[:,:,None])[:,:,0]
        S[:,J]=np.einsum('cuv,cv->uc',Kj,v)
    S*= np.maximum(g,1e-30)[None,:]**-beta
    return S
for sd in SEEDS:
    Xf,tf=validation(users,items,iidx,trainraw,sd)
    for lam in LAMS:
      for a in ALPHAS:
        t=time.time(); S=conf_scores(Xf,lam,a)
        print(sd,'lam',lam,'alpha',a,'%.4f'%ev(Xf,tf,S)['ndcg'],'%.1fs'%(time.time()-t),flush=True)
