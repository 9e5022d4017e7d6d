"""Where foundation models run, and in what precision, unless settings say otherwise."""
import torch


def pick_device(requested: str = "auto") -> torch.device:
    if requested and requested != "auto":
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(device: torch.device) -> torch.dtype:
    # Half precision halves memory and doubles throughput on GPUs; CPUs have
    # poor fp16 kernels, so they keep fp32.
    return torch.float16 if device.type == "cuda" else torch.float32
