"""The data: the course's COCO captioning files (coco_utils, coco_files), their download (download, and
`python -m core.data download`), images by URL or path (image_utils), where files live (paths), and the
embedded offline dataset of shape scenes (scenes)."""
