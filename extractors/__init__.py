"""Feature extractors: video decoding, 3D CNN backbones, ROI pooling, the dialog encoder."""
