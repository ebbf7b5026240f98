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
# --- shared by the session-5 prototypes ---
SEEDS5=[4242,4243,4244,4245,4246]
def fullB(Xtr,lam,gamma,beta,rho=0.):
    """Dense wEASE B (items x items; zero rows/columns outside the catalog) and the weighted
    popularity g, from the Woodbury form of wb.core."""
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
def mainstream_w2(X,gamma,delta,keep=None,extra=None):
    """Squared user weights n^-2γ·exp(-δ z)·extra, z = standardised mean log-popularity of the
    history over the items in `keep` (all by default), normalised to the number of interactions."""
    Xk=X if keep is None else X[:,keep]
    n=Xk.sum(1); lg=np.log(np.maximum(X.sum(0),1)); lg=lg if keep is None else lg[keep]
    hp=(Xk*lg[None,:]).sum(1)/np.maximum(n,1); z=(hp-hp.mean())/hp.std()
    w2=np.maximum(n,1)**(-2*gamma)*np.exp(-delta*z)
    if extra is not None: w2=w2*extra
    return w2*Xk.sum()/(w2*n).sum()
def scoresW(X,lam,w2,beta,ms=1):
    """Scores X·B of wEASE with explicit squared user weights w2; items with fewer than `ms`
    TRAIN interactions are left out of the model and never recommended."""
    Xw=X*np.sqrt(w2)[:,None]; g=(Xw**2).sum(0)
    idx=np.where(X.sum(0)>=max(ms,1))[0]
    A=Xw[:,idx]/lam
    K=np.eye(X.shape[0])+A@Xw[:,idx].T
    L=np.linalg.cholesky(K); Z=np.linalg.solve(L,A)
    P=np.eye(len(idx))/lam-Z.T@Z
    d=np.diag(P).copy()
    Bs=-P*((g[idx]**-beta)/d)[None,:]; np.fill_diagonal(Bs,0)
    S=np.full(X.shape,-1e9); S[:,idx]=X[:,idx]@Bs
    return S
def nrm(S): return S/np.maximum(np.abs(S).max(1,keepdims=True),1e-12)
def report(res,base,width=20):
    """Per configuration: mean validation NDCG@10, and the mean/min/max change vs `base` per seed."""
    b=np.array(res[base])
    for k,v in res.items():
        v=np.array(v); d=v-b
        print(f'{str(k):{width}s} mean {v.mean():.4f} d {d.mean():+.4f} min {d.min():+.4f} max {d.max():+.4f}')
