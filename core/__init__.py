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

# COCO data, download and images (issue 3).
from core.data import decode_captions, load_coco_data, sample_coco_minibatch  # noqa: E402
from core.download import download_coco  # noqa: E402
from core.images import image_from_url  # noqa: E402

__all__ += ["decode_captions", "download_coco", "image_from_url", "load_coco_data", "sample_coco_minibatch"]

# `python -m core.data download` runs core/data.py as __main__ after this package imported it for the
# re-exports above; runpy's RuntimeWarning about that is harmless here (main() holds no module state).
import warnings as _warnings  # noqa: E402

_warnings.filterwarnings(
    "ignore", message=r"'core\.(data|download)' found in sys\.modules", category=RuntimeWarning
)

# The embedded offline dataset of shape scenes (issue 3).
from core.scene_features import extract_features  # noqa: E402
from core.scenes import (  # noqa: E402
    Scene,
    SceneError,
    SceneObject,
    check_caption,
    describe_scene,
    ensure_embedded_dataset,
    parse_caption,
    random_scene,
    render_scene,
)

__all__ += [
    "Scene",
    "SceneError",
    "SceneObject",
    "check_caption",
    "describe_scene",
    "ensure_embedded_dataset",
    "extract_features",
    "parse_caption",
    "random_scene",
    "render_scene",
]

# Caption measures and cached trained models (issue 3).
from core.metrics import corpus_bleu, scene_accuracy  # noqa: E402
from core.pretrained import ValScore, trained_model, val_score  # noqa: E402

__all__ += ["ValScore", "corpus_bleu", "scene_accuracy", "trained_model", "val_score"]
_warnings.filterwarnings("ignore", message=r"'core\.pretrained' found in sys\.modules", category=RuntimeWarning)
