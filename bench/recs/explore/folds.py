exec(open('wb.py').read())
FOLDS=[]
for sd in [4242,4243,4244]:
    FOLDS.append(validation(users,items,iidx,trainraw,sd))
def fullB(Xtr,lam,gamma,beta,rho=0.):
    Xw,g=prep(Xtr,gamma)
    cat=g>0; idx=np.where(cat)[0]
    Lam=lam+rho*g[idx]
    A=Xw[:,idx]/Lam[None,:]
    K=np.eye(Xw.shape[0])+A@Xw[:,idx].T
    L=np.linalg.cholesky(K); Z=np.linalg.solve(L,A)
    P=np.diag(1/Lam)-Z.T@Z
    d=np.diag(P).copy()
    Bs=-P*((g[idx]**-beta)/d)[None,:]; np.fill_diagonal(Bs,0)
    B=np.zeros((Xtr.shape[1],)*2); B[np.ix_(idx,idx)]=Bs
    return B,g
