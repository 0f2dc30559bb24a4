"""The same captioning RNN (vanilla or LSTM) in PyTorch CPU autograd, for the benchmark only (torch is
optional: bench_iteration imports this module only where it is installed).

Written the way one would in PyTorch: the x Wx product hoisted out of the time loop, the loss
and every gradient from autograd, the update from torch.optim.Adam. The LSTM's gates are the engine's
columns of Wx, Wh and b in the course's order i, f, o, g. Both trainers get the minibatch without its
all-<NULL> trailing columns, as CaptioningSolver passes it to the engine, so that all run the same steps.

TorchLSTMModuleTrainer is the LSTM captioner with torch.nn.LSTM instead of the explicit loop: on the CPU
PyTorch runs it with oneDNN's fused LSTM kernels (aten::mkldnn_rnn_layer), a faster reference still.
"""

import numpy as np
import torch


class TorchTrainer:
    """Loss + gradients + Adam update, one call per iteration; params start from the NumPy ones."""

    def __init__(self, params, learning_rate=5e-3, cell_type="rnn"):
        self.cell_type = cell_type
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
        c = torch.zeros_like(h)
        for t in range(T):
            a = x_proj[:, t] + h @ p["Wh"]
            if self.cell_type == "lstm":
                i, f, o, g = a.chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            else:
                h = torch.tanh(a)
            hs.append(h)
        hidden = torch.stack(hs, dim=1)
        scores = hidden @ p["W_vocab"] + p["b_vocab"]
        token_loss = torch.nn.functional.cross_entropy(
            scores.reshape(N * T, -1), captions_out.reshape(N * T), reduction="none"
        )
        return (token_loss * mask.reshape(N * T)).sum() / N

    def iteration(self, features, captions):
        self.optimizer.zero_grad()  # PyTorch's default since 2.0: the gradients set to None, not zeroed
        loss = self.loss(features, without_trailing_padding(captions))
        loss.backward()
        self.optimizer.step()
        return loss.item()


class TorchLSTMModuleTrainer(TorchTrainer):
    """The LSTM captioner with torch.nn.LSTM (oneDNN on the CPU); params start from the NumPy ones.

    nn.LSTM keeps its gates in the order i, f, g, o as rows of weight_ih (4H, W) and weight_hh (4H, H), and
    has two biases: the engine's b goes to bias_ih, bias_hh starts at 0 (and is trained, one more (4H,)).
    """

    def __init__(self, params, learning_rate=5e-3):
        H = params["Wh"].shape[0]
        order = np.r_[0 : 2 * H, 3 * H : 4 * H, 2 * H : 3 * H]  # i, f, g, o from the engine's i, f, o, g
        self.lstm = torch.nn.LSTM(params["Wx"].shape[0], H, batch_first=True)
        with torch.no_grad():
            self.lstm.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(params["Wx"][:, order].T)))
            self.lstm.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(params["Wh"][:, order].T)))
            self.lstm.bias_ih_l0.copy_(torch.from_numpy(params["b"][order]))
            self.lstm.bias_hh_l0.zero_()
        self.cell_type = "lstm"
        self.params = {
            k: torch.tensor(np.asarray(params[k], dtype=np.float32), requires_grad=True)
            for k in ("W_proj", "b_proj", "W_embed", "W_vocab", "b_vocab")
        }
        trained = [*self.params.values(), *self.lstm.parameters()]
        self.optimizer = torch.optim.Adam(trained, lr=learning_rate, eps=1e-8)

    def loss(self, features, captions, null=0):
        p = self.params
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != null
        N, T = captions_in.shape
        h0 = (features @ p["W_proj"] + p["b_proj"])[None]
        hidden, _ = self.lstm(p["W_embed"][captions_in], (h0, torch.zeros_like(h0)))
        scores = hidden @ p["W_vocab"] + p["b_vocab"]
        token_loss = torch.nn.functional.cross_entropy(
            scores.reshape(N * T, -1), captions_out.reshape(N * T), reduction="none"
        )
        return (token_loss * mask.reshape(N * T)).sum() / N


def without_trailing_padding(captions, null=0):
    """captions (N, T + 1) without the columns after the longest caption (all <NULL>), at least 2."""
    has_word = (captions != null).any(dim=0).nonzero()
    return captions[:, : max(int(has_word[-1]) + 1, 2)]
