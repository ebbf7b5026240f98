import sys,time,numpy as np
sys.path.insert(0,'.')
from common import *
pairs=load('../../../data/demo/ml-latest-small/ratings.csv')
users,items,iidx,X,test,trainraw=build(pairs)
print(X.shape, X.sum(), sum(map(len,test)))
Xv,testv=validation(users,items,iidx,trainraw)
np.save('X.npy',X); np.save('Xv.npy',Xv)
import pickle; pickle.dump((test,testv,users,items,trainraw,iidx),open('meta.pkl','wb'))
