import pytest
import torch

# One thread: the suite's tensors are small, where OpenMP's fork-join costs more than it gains (a
# 200-step tiny-model run measured 8 s on one thread, 39 s on two, on the 2-core CI machine).
torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
