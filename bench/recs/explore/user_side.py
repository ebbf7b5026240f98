exec(open('wb.py').read())
Xw,g=prep(Xv,0.25); XP,dP,Lam=core(Xv,Xw,g,400,0)
S0=scores(Xv,XP,dP,Lam,g,0.2)
def norm(S,X):
    cat=(X.sum(0)>0)[None,:]&(X==0)
    m=np.where(cat,np.abs(S),0).max(1,keepdims=True); return S/np.maximum(m,1e-12)
base=ev(Xv,testv,S0)['ndcg']; print('base',base)
N0=norm(S0,Xv)
# user-EASE
K=Xv@Xv.T
for mu in [10,30,100,300]:
    Q=np.linalg.inv(K+mu*np.eye(K.shape[0])); A=-Q/np.diag(Q)[None,:]; np.fill_diagonal(A,0)
    Su=A@Xv
    r=[ev(Xv,testv,Su)['ndcg']]+[ev(Xv,testv,(1-w)*N0+w*norm(Su,Xv))['ndcg'] for w in [0.1,0.2,0.3,0.5]]
    print('uEASE mu',mu,' '.join('%.4f'%v for v in r),flush=True)
# NTK (ReLU, 1 hidden layer) user kernel, ∞-AE style
def ntk(X):
    n=np.sqrt((X**2).sum(1)); n=np.maximum(n,1e-12)
    D=X@X.T; c=np.clip(D/np.outer(n,n),-1,1); th=np.arccos(c)
    s1=np.outer(n,n)/(2*np.pi)*(np.sin(th)+(np.pi-th)*c)
    sd=(np.pi-th)/(2*np.pi)
    return D*sd+s1
Kn=ntk(Xv)
for lam in [1,10,100,1000]:
    al=np.linalg.solve(Kn+lam*np.eye(Kn.shape[0]),Xv)
    Sn=Kn@al
    r=[ev(Xv,testv,Sn)['ndcg']]+[ev(Xv,testv,(1-w)*N0+w*norm(Sn,Xv))['ndcg'] for w in [0.1,0.2,0.3]]
    print('ntk lam',lam,' '.join('%.4f'%v for v in r),flush=True)
