exec(open('wb.py').read())
FOLDS=[]
for sd in [4242,4243,4244]:
    FOLDS.append(validation(users,items,iidx,trainraw,sd))
