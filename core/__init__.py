"""The NumPy engine, data and lab of the RNN captioning explainer.

- core.engine: the layers, the model, the optimizers, the solver and the gradient checks;
- core.data: the COCO files, their download, images and the embedded offline dataset;
- core.lab: what the pages show: traces, the activation race, the gradient-check lab, trained models.

The course's names are re-exported here, so `from core import rnn_forward, lstm_forward, CaptioningRNN`
works like the imports of the RNN_Captioning and LSTM_Captioning notebooks. The data names are imported on
first use: importing the engine stays free of h5py, Pillow and requests.
"""

import importlib

from core.engine.captioning_solver import CaptioningSolver
from core.engine.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from core.engine.layers import affine_backward, affine_forward
from core.engine.optim import adam, rmsprop, sgd, sgd_momentum
from core.engine.rnn import CaptioningRNN
from core.engine.rnn_layers import (
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)

_DATA_NAMES = {
    "load_coco_data": "core.data.coco_utils",
    "sample_coco_minibatch": "core.data.coco_utils",
    "decode_captions": "core.data.coco_utils",
    "image_from_url": "core.data.image_utils",
}

__all__ = [
    "CaptioningRNN",
    "CaptioningSolver",
    "adam",
    "affine_backward",
    "affine_forward",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "rel_error",
    "rmsprop",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "sgd",
    "sgd_momentum",
    "temporal_affine_backward",
    "temporal_affine_forward",
    "temporal_softmax_loss",
    "word_embedding_backward",
    "word_embedding_forward",
    *_DATA_NAMES,
]


def __getattr__(name):
    if name in _DATA_NAMES:
        return getattr(importlib.import_module(_DATA_NAMES[name]), name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")
