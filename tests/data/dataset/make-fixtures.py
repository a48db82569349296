#!/usr/bin/python3
# Generates the .npy/.npz fixtures of tests/test-dataset.c with NumPy. Run once
# from this folder (python3 make-fixtures.py); the outputs are committed, so the
# test itself needs no Python.
import numpy as np
from numpy.lib import format as npf

# x[i, j] = 3 i + j (minus 6 for signed types), y = [0, 1, 2, 1]
y = np.array([0, 1, 2, 1])
for dt in ['<f4', '<f8', '<i1', '|u1', '<i2', '<u2', '<i4', '<u4', '<i8', '<u8', '|b1']:
    tag = dt[1:]
    base = np.arange(12).reshape(4, 3)
    if dt[1] == 'i':
        base = base - 6
    if dt[1] == 'b':
        base = base % 2
    np.save('x-%s.npy' % tag, base.astype(dt))
    np.save('y-%s.npy' % tag, (y % 2 if dt[1] == 'b' else y).astype(dt))

x = np.arange(12, dtype='<f4').reshape(4, 3) / 4
for v in [(1, 0), (2, 0), (3, 0)]:
    with open('x-v%d.npy' % v[0], 'wb') as f:
        npf.write_array(f, x, version=v)

np.save('x-3d.npy', np.arange(5 * 2 * 3, dtype='<f4').reshape(5, 2, 3))
np.save('x-4d.npy', np.arange(5 * 3 * 2 * 2, dtype='<f4').reshape(5, 3, 2, 2))
np.save('y-5.npy', np.array([0, 1, 0, 1, 1], dtype='<i8'))
np.save('y-col.npy', y.reshape(4, 1).astype('<i4'))
# features and label in one array
np.save('xy.npy', np.array([[0.5, 1.5, 0], [2.5, 3.5, 1], [4.5, 5.5, 1]], dtype='<f8'))
np.save('big-endian.npy', x.astype('>f4'))
np.save('fortran.npy', np.asfortranarray(x))
np.save('y-float.npy', np.array([0, 1.5, 2, 1], dtype='<f4'))
np.save('y-negative.npy', np.array([0, -1, 2, 1], dtype='<i4'))
np.save('x-nan.npy', np.array([[0, 1, 2], [3, np.nan, 5], [6, 7, 8], [9, 10, 11]], dtype='<f4'))
np.save('x-unicode.npy', np.array(['a', 'b']))

np.savez('stored.npz', x=x, y=y.astype('<i8'))
np.savez_compressed('deflated.npz', X=np.arange(300, dtype='<f8').reshape(100, 3),
                    labels=(np.arange(100) % 3).astype('<i4'))
np.savez_compressed('data-target.npz', data=x, target=y.astype('<u1'))
np.savez('no-labels.npz', inputs=x, outputs=y)
