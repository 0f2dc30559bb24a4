"""The file layout of the course's COCO captioning folder (coco_captioning.zip), shared by the loader, the
download and the embedded dataset, which is written in the same layout."""

CAPTIONS_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"
SPECIAL_TOKENS = ("<NULL>", "<START>", "<END>", "<UNK>")
PCA_DIM = 512
FULL_DIM = 4096
SPLITS = ("train", "val")


def feature_file_name(split: str, pca_features: bool = True) -> str:
    """File name of a split's feature file, e.g. ``train2014_vgg16_fc7_pca.h5``."""
    return f"{split}2014_vgg16_fc7{'_pca' if pca_features else ''}.h5"


def url_file_name(split: str) -> str:
    """File name of a split's URL list, e.g. ``val2014_urls.txt``."""
    return f"{split}2014_urls.txt"


def coco_file_names(pca_features: bool = True) -> tuple[str, ...]:
    """The six files a COCO folder holds."""
    return (
        CAPTIONS_FILE,
        VOCAB_FILE,
        feature_file_name("train", pca_features),
        feature_file_name("val", pca_features),
        url_file_name("train"),
        url_file_name("val"),
    )
