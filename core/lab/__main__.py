"""``python -m core.lab``: train (or read from the store) every trained-model recipe on the active dataset
and print each one's val BLEU-4 and scene accuracy."""

import time

from core.data.coco_utils import load_coco_data
from core.lab.metrics import val_score
from core.lab.trained_models import RECIPES, trained_model


def main() -> None:
    data = load_coco_data()
    print(
        f"dataset: {data.get('source')} ({len(data['train_captions'])} train captions, "
        f"{len(data['val_features'])} val images)"
    )
    for recipe in RECIPES:
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
