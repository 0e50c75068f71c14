"""The interfaces the engines work through: the PSA and the RMM, with neutral models and errors."""
