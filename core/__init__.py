"""The NumPy engine of the RNN captioning explainer (CS231n-compatible names)."""

from core.activations import ACTIVATIONS
from core.errors import (
    ActivationError,
    CaptioningError,
    DataFileError,
    DownloadError,
    HyperparameterError,
    ImageLoadError,
    NonFiniteError,
    ShapeError,
    VocabularyError,
)
from core.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from core.layers import (
    affine_backward,
    affine_forward,
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
from core.model import CaptioningRNN
from core.optim import adam, rmsprop, sgd, sgd_momentum
from core.solver import CaptioningSolver
from core.trace import ExampleTrace, spectral_radius, trace_example

__all__ = [
    "ACTIVATIONS",
    "ActivationError",
    "CaptioningError",
    "CaptioningRNN",
    "CaptioningSolver",
    "DataFileError",
    "DownloadError",
    "ExampleTrace",
    "HyperparameterError",
    "ImageLoadError",
    "NonFiniteError",
    "ShapeError",
    "VocabularyError",
    "adam",
    "affine_backward",
    "affine_forward",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "rel_error",
    "rmsprop",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "sgd",
    "sgd_momentum",
    "spectral_radius",
    "temporal_affine_backward",
    "temporal_affine_forward",
    "temporal_softmax_loss",
    "trace_example",
    "word_embedding_backward",
    "word_embedding_forward",
]
