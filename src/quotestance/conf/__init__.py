"""The Hydra configs (YAML), shipped as package data so that a wheel install finds them."""
