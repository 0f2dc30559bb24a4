"""What the caption gallery keeps between reruns, shared read-only by every session: the val scores of
the trained models and the embedded dataset's scenes."""

import streamlit as st

from core.lab.captioning import scenes_by_row
from core.lab.metrics import val_score

# COCO has 40k val images; scoring greedy captions of the first thousand keeps the first load short.
MAX_VAL_IMAGES = 1000


@st.cache_resource(show_spinner=False, max_entries=8)
def scores_of(recipe: str, source: str, _model, _data):
    """core.lab.metrics.val_score of a trained model, once per recipe and dataset (read-only ValScore)."""
    return val_score(_model, _data, max_images=MAX_VAL_IMAGES)


@st.cache_resource(show_spinner=False, max_entries=4)
def scenes_of(split: str, base_dir: str, _data):
    """{feature row: Scene} of the embedded dataset's split (None for COCO), shared read-only."""
    return scenes_by_row(_data, split)
