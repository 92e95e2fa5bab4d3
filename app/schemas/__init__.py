"""Request and response models: the public /v1 contract, separate from the tables."""
