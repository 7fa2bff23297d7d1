"""Parameter choice, one layer above the methods: grid search for the best PSNR
(:mod:`genprior.choice.tuning`) and the discrepancy principle, for a whole data set or
image by image (:mod:`genprior.choice.discrepancy`)."""
