"""Where the tests find the project and the shared COCO sample (beside the project root, present in CI)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COCO_SAMPLE = REPO.parent / "shared" / "coco_sample"
