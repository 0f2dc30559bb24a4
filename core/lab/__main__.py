"""``python -m core.lab [recipe ...]``: train (or read from the store) the trained-model recipes (every one by
default) on the active dataset, as the server does, and print each one's val BLEU-4 and scene accuracy."""

import argparse
import time

from core import runtime
from core.data.coco_utils import load_coco_data
from core.lab.metrics import val_score
from core.lab.trained_models import RECIPES, trained_model


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m core.lab", description=__doc__.split("``: ", 1)[1])
    parser.add_argument("recipes", nargs="*", choices=list(RECIPES), help="the recipes (default: every one)")
    recipes = parser.parse_args(argv).recipes or list(RECIPES)
    # As the server runs (one BLAS thread): a model trained on more threads sums in another order and scores
    # a few hundredths differently from the figures quoted in core.lab.trained_models.
    runtime.configure()
    data = load_coco_data()
    print(
        f"dataset: {data.get('source')} ({len(data['train_captions'])} train captions, "
        f"{len(data['val_features'])} val images)"
    )
    for recipe in recipes:
        start = time.perf_counter()
        model = trained_model(data, recipe)
        seconds = time.perf_counter() - start
        score = val_score(model, data)
        accuracy = "n/a" if score.scene_accuracy is None else f"{score.scene_accuracy:.3f}"
        print(
            f"{recipe}: BLEU-4 {score.bleu4:.3f}, scene accuracy {accuracy} on {score.n_images} val images "
            f"(trained or read in {seconds:.1f} s)"
        )


if __name__ == "__main__":
    main()
