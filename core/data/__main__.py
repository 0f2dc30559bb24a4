"""``python -m core.data download [--dest DIR] [--url URL] [--keep-archive] [--force]``: fetch and unpack the
course's COCO captioning archive (about 1 GB)."""

import argparse
import sys

from core.data import download
from core.data.paths import COCO_DIR_ENV
from core.errors import CaptioningError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.data", description="COCO captioning data tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    dl = sub.add_parser(
        "download", help="download and unpack the CS231n COCO captioning archive (about 1 GB)"
    )
    dl.add_argument(
        "--dest", default=None, help=f"target folder (default: ${COCO_DIR_ENV} or the data folder)"
    )
    dl.add_argument("--url", default=None, help="archive URL (default: the course's coco_captioning.zip)")
    dl.add_argument("--keep-archive", action="store_true", help="keep the .zip after unpacking")
    dl.add_argument("--force", action="store_true", help="download again even if the folder is complete")
    args = parser.parse_args(argv)
    try:
        dest = download.download_coco(
            args.dest,
            url=args.url or download.COCO_URL,
            progress=download.TextProgress(sys.stderr),
            keep_archive=args.keep_archive,
            force=args.force,
        )
    except CaptioningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume the download.", file=sys.stderr)
        return 130
    print(f"COCO captioning data ready in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
