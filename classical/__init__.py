"""qhybrid's classical side: the PyTorch training stack."""
