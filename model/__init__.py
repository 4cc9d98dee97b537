"""The paper's networks, losses, training, evaluation and result tables."""
