exec(open('folds.py').read())
import time
for f,(Xf,tf) in enumerate(FOLDS):
    t=time.time()
    B,g=fullB(Xf,400,0.25,0.2)
    S=Xf@B
    base=ev(Xf,tf,S)['ndcg']
    S2=S@B
    def nrm(S):
        return S/np.maximum(np.abs(S).max(1,keepdims=True),1e-12)
    r=[ev(Xf,tf,S+c*S2)['ndcg'] for c in [0.05,0.1,0.2,0.4]]
    r2=[ev(Xf,tf,nrm(S)+c*nrm(S2))['ndcg'] for c in [0.1,0.2,0.4]]
    print(f,'base %.4f'%base,'2hop',' '.join('%.4f'%v for v in r),'| norm',' '.join('%.4f'%v for v in r2),time.time()-t,flush=True)
