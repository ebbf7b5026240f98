exec(open('wb.py').read())
import time
t=time.time()
Xw,g=prep(Xv,0.25); XP,dP,Lam=core(Xv,Xw,g,400,0)
S=scores(Xv,XP,dP,Lam,g,0.2); print(ev(Xv,testv,S),time.time()-t)
