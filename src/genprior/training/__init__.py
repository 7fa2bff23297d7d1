"""Training: one loop for AE, VAE and WGAN-GP (single process or torchrun), resumable state, recipes."""
