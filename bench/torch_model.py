"""The same captioning RNN in PyTorch CPU autograd, for the benchmark only (torch is optional).

Written the way one would in PyTorch: the x Wx product hoisted out of the time loop, the loss
and every gradient from autograd, the update from torch.optim.Adam.
"""

import numpy as np

try:
    import torch
except ImportError:
    torch = None


def available():
    return torch is not None


class TorchTrainer:
    """Loss + gradients + Adam update, one call per iteration; params start from the NumPy ones."""

    def __init__(self, params, learning_rate=5e-3):
        self.params = {
            k: torch.tensor(np.asarray(v, dtype=np.float32), requires_grad=True) for k, v in params.items()
        }
        self.optimizer = torch.optim.Adam(self.params.values(), lr=learning_rate, eps=1e-8)

    def loss(self, features, captions, null=0):
        """features: (N, D) tensor, captions: (N, T + 1) int64 tensor -> scalar loss tensor."""
        p = self.params
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != null
        N, T = captions_in.shape
        h = features @ p["W_proj"] + p["b_proj"]
        x = p["W_embed"][captions_in]
        x_proj = (x.reshape(N * T, -1) @ p["Wx"] + p["b"]).reshape(N, T, -1)
        hs = []
        for t in range(T):
            h = torch.tanh(x_proj[:, t] + h @ p["Wh"])
            hs.append(h)
        hidden = torch.stack(hs, dim=1)
        scores = hidden @ p["W_vocab"] + p["b_vocab"]
        token_loss = torch.nn.functional.cross_entropy(
            scores.reshape(N * T, -1), captions_out.reshape(N * T), reduction="none"
        )
        return (token_loss * mask.reshape(N * T)).sum() / N

    def iteration(self, features, captions):
        self.optimizer.zero_grad(set_to_none=False)
        loss = self.loss(features, captions)
        loss.backward()
        self.optimizer.step()
        return loss.item()
