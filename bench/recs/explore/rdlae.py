exec(open('wb.py').read())
import itertools
Xw,g=prep(Xv,0.25)
for lam in [200,400,800]:
  for rho in [0,0.1,0.25,0.5,1.0]:
    XP,dP,Lam=core(Xv,Xw,g,lam,rho)
    for beta in [0.1,0.2]:
      out=[]
      for xi in [None,0.1,0.2,0.3,0.5]:
        out.append(ev(Xv,testv,scores(Xv,XP,dP,Lam,g,beta,xi))['ndcg'])
      print(lam,rho,beta,' '.join('%.4f'%v for v in out),flush=True)
