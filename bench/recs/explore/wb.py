import sys,pickle,numpy as np
sys.path.insert(0,'.')
from common import *
X=np.load('X.npy'); Xv=np.load('Xv.npy')
test,testv,users,items,trainraw,iidx=pickle.load(open('meta.pkl','rb'))
def prep(X,gamma):
    n=X.sum(1); w2=np.where(n>0,np.maximum(n,1)**(-2*gamma),0); w2*=X.sum()/(w2*n).sum()
    Xw=X*np.sqrt(w2)[:,None]
    g=(Xw**2).sum(0)
    return Xw,g
def core(X,Xw,g,lam,rho):
    """returns XP (users x m) and diag(P) via Woodbury, restricted to catalog items (others -inf later)"""
    Lam=lam+rho*g
    A=Xw/Lam[None,:]            # Xw Λ^-1
    K=np.eye(Xw.shape[0])+A@Xw.T  # I + Xw Λ^-1 Xw^T
    L=np.linalg.cholesky(K)
    Z=np.linalg.solve(L,A)       # L^-1 Xw Λ^-1
    dP=1/Lam-(Z**2).sum(0)
    XP=X/Lam[None,:]-(X@Z.T)@Z
    return XP,dP,Lam
def scores(X,XP,dP,Lam,g,beta=0.,xi=None):
    sc=1/dP if xi is None else np.maximum(Lam,(1-xi)/dP)
    sc=sc*np.maximum(g,1e-30)**(-beta)
    # B=-P diag(sc), zero diag: S = -(XP - X*dP) * sc   (remove diagonal term X_uj P_jj)
    S=-(XP-X*dP[None,:])*sc[None,:]
    return S
def ev(X,test,S):
    return evaluate(X,test,S)
