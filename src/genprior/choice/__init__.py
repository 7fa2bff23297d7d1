"""Parameter choice, one layer above the methods: the grids themselves
(:mod:`genprior.choice.grids`), grid search for the best PSNR (:mod:`genprior.choice.tuning`),
the discrepancy principle, for a whole data set or image by image
(:mod:`genprior.choice.discrepancy`), and the per-image best PSNR (the paper's oracle,
:mod:`genprior.choice.oracle`)."""
