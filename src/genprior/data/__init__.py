"""Data sets in the project's ``.npz`` format (:mod:`genprior.data.io`).

Shapes / Shapes+ (:mod:`~genprior.data.shapes`), MNIST (:mod:`~genprior.data.mnist`),
image folders (:mod:`~genprior.data.images`), fastMRI knee HDF5 files
(:mod:`~genprior.data.fastmri`, h5py imported lazily) and random ellipses
(:mod:`~genprior.data.ellipses`).  Import the module you need; this package imports
nothing heavy.
"""
