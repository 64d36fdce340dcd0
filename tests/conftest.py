import torch

# The tests train tiny networks: one thread is as fast, and immune to a busy second core.
torch.set_num_threads(1)
