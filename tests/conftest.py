"""Test-wide settings: tests train tiny models, for which one thread is fastest and most repeatable."""

import torch

torch.set_num_threads(1)
