"""A stand-in for the few parts of torch that the integration guide calls, on a machine with no GPU:
versions, device queries, and save/load of a state dict (pickled, as torch.save does at heart)."""

from __future__ import annotations

import pickle
from types import SimpleNamespace
from typing import Any, Dict

__version__ = "0.0.0+stand-in"
version = SimpleNamespace(cuda=None)


class _Cuda:
    @staticmethod
    def device_count() -> int:
        return 0

    @staticmethod
    def get_device_name(index: int) -> str:
        raise RuntimeError(f"no CUDA device {index} on this machine")


cuda = _Cuda()


def save(obj: Any, path: Any) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def load(path: Any) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)


class Module:
    """A model or an optimizer: a state dict of named lists of numbers."""

    def __init__(self, **state: Any) -> None:
        self._state: Dict[str, Any] = dict(state)

    def state_dict(self) -> Dict[str, Any]:
        return dict(self._state)

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self._state = dict(state)
