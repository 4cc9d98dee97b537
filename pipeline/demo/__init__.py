"""The synthetic demo dataset, written in the on-disk layout of the MovieGraphs release."""
