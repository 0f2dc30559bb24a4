"""The embedded dataset: scenes, rendering, captions, pixel features, the generated COCO-layout folder."""

import json
import os

import h5py
import numpy as np
import pytest
from PIL import Image

from core.data.scenes import generate, spec
from core.data.scenes.check import check_caption, parse_caption
from core.data.scenes.features import FEATURE_DIM, colour_classes, extract_features
from core.data.scenes.generate import ensure_embedded_dataset
from core.data.scenes.grammar import (
    CAPTION_LENGTH,
    CAPTION_WORDS,
    MAX_WORDS,
    build_vocab,
    describe_scene,
    encode_caption,
    tokenize,
)
from core.data.scenes.render import render_scene
from core.data.scenes.spec import Scene, SceneObject, random_scene, relation
from core.errors import CaptioningError, DataFileError, SceneError, ShapeError, VocabularyError

SMALL = {"N_TRAIN": 30, "N_VAL": 10}


@pytest.fixture
def small_home(tmp_path, monkeypatch):
    """A fresh data home and a tiny dataset size (30 train + 10 val images)."""
    monkeypatch.setenv("RNN_EXPLAINER_HOME", str(tmp_path))
    for name, value in SMALL.items():
        monkeypatch.setattr(generate, name, value)
    return tmp_path


def two_objects(ax=0.2, ay=0.5, bx=0.8, by=0.5):
    return Scene(
        objects=(
            SceneObject("circle", "red", "small", ax, ay),
            SceneObject("square", "blue", "large", bx, by),
        )
    )


# ---------------------------------------------------------------------------------------- scenes


def test_random_scene_and_render_are_deterministic():
    a = [random_scene(np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    img0, img1 = render_scene(a[0]), render_scene(a[1])
    assert img0.shape == (128, 128, 3) and img0.dtype == np.uint8
    assert img0.tobytes() == img1.tobytes()
    assert render_scene(a[0], size=160).shape == (160, 160, 3)


def test_random_scenes_are_valid_and_varied():
    rng = np.random.default_rng(0)
    many = [random_scene(rng) for _ in range(300)]
    assert {len(s.objects) for s in many} == {1, 2, 3}
    assert {o.shape for s in many for o in s.objects} == set(spec.SHAPES)
    assert {o.colour for s in many for o in s.objects} == set(spec.COLOURS)
    for s in many:
        pairs = [(o.colour, o.shape) for o in s.objects]
        assert len(set(pairs)) == len(pairs)
        for i, a in enumerate(s.objects):
            for b in s.objects[i + 1 :]:  # no overlap
                assert np.hypot(a.x - b.x, a.y - b.y) > a.r + b.r


def test_scene_round_trips_through_dict():
    s = random_scene(np.random.default_rng(3))
    assert Scene.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_bad_scene_specs_raise_scene_error():
    with pytest.raises(SceneError, match="hexagon"):
        SceneObject("hexagon", "red", "small", 0.5, 0.5)
    with pytest.raises(SceneError, match="colour"):
        SceneObject("circle", "pink", "small", 0.5, 0.5)
    with pytest.raises(SceneError, match="x=1.5"):
        SceneObject("circle", "red", "small", 1.5, 0.5)
    with pytest.raises(SceneError, match="radius"):
        SceneObject("circle", "red", "small", 0.5, 0.5, radius=0.18)
    with pytest.raises(SceneError, match="1 to 3"):
        Scene(objects=())
    assert issubclass(SceneError, CaptioningError)


def test_rendered_colours_and_sizes_are_where_the_scene_says():
    s = two_objects()
    cls = colour_classes(render_scene(s)[None])[0]
    red, blue = list(spec.COLOURS).index("red"), list(spec.COLOURS).index("blue")
    assert cls[64, int(0.2 * 128)] == red and cls[64, int(0.8 * 128)] == blue
    assert (cls == blue).sum() > 3 * (cls == red).sum()  # large square vs small circle


# ---------------------------------------------------------------------------------------- captions


def test_captions_are_five_distinct_true_and_in_vocabulary():
    rng = np.random.default_rng(1)
    _, word_to_idx = build_vocab()
    for _ in range(300):
        s = random_scene(rng)
        caps = describe_scene(s, rng)
        assert len(caps) == 5 and len(set(caps)) == 5
        for c in caps:
            words = tokenize(c)
            assert 1 <= len(words) <= CAPTION_WORDS <= MAX_WORDS
            assert all(w in word_to_idx for w in words), c
            result = check_caption(c, s)
            assert result.ok, (c, s, result.problems)


def test_captions_are_deterministic():
    s = random_scene(np.random.default_rng(5))
    assert describe_scene(s, np.random.default_rng(9)) == describe_scene(s, np.random.default_rng(9))


def test_relations_follow_the_geometry():
    s = two_objects()
    red, blue = s.objects
    assert relation(red, blue) == "left" and relation(blue, red) == "right"
    vertical = two_objects(0.5, 0.2, 0.5, 0.8)
    assert relation(*vertical.objects) == "above"
    assert relation(*two_objects(0.3, 0.3, 0.7, 0.7).objects) is None  # diagonal: no clear relation
    assert check_caption("a red circle to the left of a blue square", s).ok
    assert check_caption("a blue square to the right of a small red circle", s).ok
    assert check_caption("a red circle next to a blue square", s).ok
    wrong = check_caption("a red circle to the right of a blue square", s)
    assert wrong.problems == ["says the red circle is right of the blue square, which is not true"]
    assert not check_caption("a red circle above a blue square", s).ok
    assert check_caption("a red circle above a blue square", vertical).ok
    assert check_caption("a blue square under a red circle", vertical).ok
    # every relation a generated caption states is true
    rng = np.random.default_rng(2)
    for cap in describe_scene(s, rng) + describe_scene(vertical, rng):
        for _i, rel, _j in parse_caption(cap).relations:
            assert rel in ("left", "right", "above", "below", "beside")


def test_check_caption_on_hand_made_captions():
    s = two_objects()
    good = [
        "two shapes: a red circle and a blue square",
        "a small red circle and a large blue square",
        "a red circle on the left and a blue square on the right",
        "a picture of a blue square and a red circle",
    ]
    for c in good:
        assert check_caption(c, s).ok, c
    bad = {
        "a red circle": "does not name the blue square",
        "a red circle and a green square": "green square",
        "three shapes: a red circle and a blue square": "says 3",
        "a red square and a blue square": "red square",
        "a red circle and a red circle and a blue square": "twice",
        "a red circle on the right and a blue square on the left": "not true",
        "a circle and a blue square": "names a circle without its colour",
        "a orange circle and a blue square": "names an orange circle, which is not in the image",
        "a red one and a blue square": "names the colour red without a shape",
        "a small one and a blue square": "mentions a shape without its colour or shape",
    }
    for c, problem in bad.items():
        result = check_caption(c, s)
        assert not result.ok and any(problem in p for p in result.problems), (c, result.problems)
    # A wrong size is a false caption: the gallery marked "a small orange triangle and a big yellow square"
    # true of a large triangle and a small square.
    wrong_size = check_caption("a large red circle and a large blue square", s)
    assert not wrong_size.ok and wrong_size.problems == ["calls the small red circle large"]


def test_parser_handles_grouped_paraphrases():
    circles = Scene(
        objects=(
            SceneObject("circle", "red", "small", 0.2, 0.5),
            SceneObject("circle", "blue", "small", 0.8, 0.5),
        )
    )
    assert check_caption("two circles: a red one and a blue one", circles).ok
    assert not check_caption("two circles: a red one and a green one", circles).ok
    reds = Scene(
        objects=(
            SceneObject("star", "red", "small", 0.2, 0.5),
            SceneObject("cross", "red", "large", 0.7, 0.5),
        )
    )
    assert check_caption("two red shapes: a star and a cross", reds).ok
    three = Scene(
        objects=(
            SceneObject("star", "red", "small", 0.15, 0.5),
            SceneObject("cross", "green", "small", 0.5, 0.2),
            SceneObject("circle", "yellow", "small", 0.85, 0.8),
        )
    )
    assert check_caption("from left to right: a red star, a green cross and a yellow circle", three).ok
    assert not check_caption("from left to right: a green cross, a red star and a yellow circle", three).ok
    parsed = parse_caption(["<START>", "a", "red", "star", "<END>", "<NULL>"])
    assert [(m.colour, m.shape) for m in parsed.mentions] == [("red", "star")]


def test_token_layout():
    idx_to_word, word_to_idx = build_vocab()
    assert idx_to_word[:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    assert all(word_to_idx[w] == i for i, w in enumerate(idx_to_word))
    ids = encode_caption("two shapes: a red circle and a blue square", word_to_idx)
    assert ids.shape == (CAPTION_LENGTH,) == (17,) and ids.dtype == np.int32
    assert ids[0] == 1 and ids[10] == 2 and (ids[11:] == 0).all()
    assert [idx_to_word[i] for i in ids[1:10]] == "two shapes a red circle and a blue square".split()
    assert encode_caption("a zebra", word_to_idx)[2] == word_to_idx["<UNK>"]
    full = encode_caption(" ".join(["a"] * 15), word_to_idx)
    assert full[16] == 2
    with pytest.raises(VocabularyError, match="16 words"):
        encode_caption(" ".join(["a"] * 16), word_to_idx)


# ---------------------------------------------------------------------------------------- features


def test_features_come_from_pixels_deterministically():
    rng = np.random.default_rng(11)
    imgs = np.stack([render_scene(random_scene(rng)) for _ in range(6)])
    f = extract_features(imgs)
    assert f.shape == (6, FEATURE_DIM) and f.dtype == np.float32 and np.isfinite(f).all()
    assert extract_features(imgs).tobytes() == f.tobytes()
    assert extract_features(imgs[2]).tobytes() == f[2:3].tobytes()  # alone or in a batch: same bytes
    assert np.abs(f[:, None] - f[None]).sum(-1)[~np.eye(6, dtype=bool)].min() > 0.5  # different scenes differ


def test_features_see_colour_shape_and_position():
    base = two_objects()
    variants = [
        Scene(objects=(SceneObject("circle", "green", "small", 0.2, 0.5), base.objects[1])),
        Scene(objects=(SceneObject("star", "red", "small", 0.2, 0.5), base.objects[1])),
        Scene(objects=(SceneObject("circle", "red", "small", 0.2, 0.2), base.objects[1])),
    ]
    f = extract_features(np.stack([render_scene(s) for s in [base, *variants]]))
    for k in range(1, 4):
        assert np.linalg.norm(f[k] - f[0]) > 0.5
    # the features depend on the pixels only: the same pixels from a PNG round trip give the same bytes
    img = render_scene(base)
    again = np.asarray(Image.fromarray(img).copy())
    assert extract_features(again).tobytes() == extract_features(img).tobytes()


def test_feature_scale_resembles_pca_features():
    rng = np.random.default_rng(123)
    f = extract_features(np.stack([render_scene(random_scene(rng)) for _ in range(200)]))
    assert abs(float(f.mean())) < 0.05
    assert 0.8 < float(f.std()) < 1.2


def test_features_accept_other_sizes_and_reject_bad_input():
    s = two_objects()
    assert extract_features(render_scene(s, size=160)).shape == (1, FEATURE_DIM)
    with pytest.raises(ShapeError, match="uint8"):
        extract_features(render_scene(s).astype(np.float32))
    with pytest.raises(ShapeError, match=r"\(N, H, W, 3\)"):
        extract_features(np.zeros((2, 128, 128), np.uint8))


# ---------------------------------------------------------------------------------------- dataset folder


def test_generated_folder_is_loadable(small_home):
    fractions = []
    folder = ensure_embedded_dataset(progress=lambda f, m: fractions.append((f, m)))
    assert folder == (small_home / "embedded_scenes").resolve()
    assert fractions[-1][0] == 1.0 and all(0 <= f <= 1 for f, _ in fractions)
    assert [f for f, _ in fractions] == sorted(f for f, _ in fractions)

    vocab = json.loads((folder / "coco2014_vocab.json").read_text())
    assert vocab["idx_to_word"][:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    V = len(vocab["idx_to_word"])
    with h5py.File(folder / "coco2014_captions.h5") as f:
        for split, n in (("train", 30), ("val", 10)):
            caps, idxs = f[f"{split}_captions"][()], f[f"{split}_image_idxs"][()]
            assert caps.shape == (5 * n, 17) and caps.dtype == np.int32
            assert idxs.shape == (5 * n,) and idxs.dtype == np.int32 and set(idxs) == set(range(n))
            assert (caps[:, 0] == 1).all() and (caps < V).all() and (caps >= 0).all()
            assert ((caps == 2).sum(1) == 1).all()
            assert not (caps == 3).any()  # no <UNK>
    scenes_by_split = {split: generate.load_scenes(folder, split) for split in ("train", "val")}
    for split, n in (("train", 30), ("val", 10)):
        with h5py.File(folder / f"{split}2014_vgg16_fc7_pca.h5") as f:
            feats = f["features"][()]
        assert feats.shape == (n, 512) and feats.dtype == np.float32
        urls = (folder / f"{split}2014_urls.txt").read_text().splitlines()
        assert len(urls) == n and all(os.path.isabs(u) for u in urls)
        img = np.asarray(Image.open(urls[3]).convert("RGB"))
        assert img.shape == (128, 128, 3)
        assert extract_features(img).tobytes() == feats[3:4].tobytes()  # row i = image i
        assert img.tobytes() == render_scene(scenes_by_split[split][3]).tobytes()
    # captions are true to the stored scenes
    idx_to_word = vocab["idx_to_word"]
    with h5py.File(folder / "coco2014_captions.h5") as f:
        caps, idxs = f["val_captions"][()], f["val_image_idxs"][()]
    for row, i in zip(caps, idxs, strict=True):
        assert check_caption([idx_to_word[t] for t in row], scenes_by_split["val"][i]).ok
    info = json.loads((folder / "dataset.json").read_text())
    assert info["generator_version"] == generate.GENERATOR_VERSION
    assert info["counts"] == {"train_images": 30, "val_images": 10, "train_captions": 150, "val_captions": 50}


def test_second_call_reuses_the_folder(small_home):
    folder = ensure_embedded_dataset()
    stamp = (folder / "dataset.json").stat().st_mtime_ns
    calls = []
    assert ensure_embedded_dataset(progress=lambda f, m: calls.append(f)) == folder
    assert (folder / "dataset.json").stat().st_mtime_ns == stamp and calls == [1.0]


def test_generation_is_byte_for_byte_deterministic(tmp_path):
    a = generate.generate_dataset(tmp_path / "a", final=tmp_path / "same", n_train=8, n_val=4)
    b = generate.generate_dataset(tmp_path / "b", final=tmp_path / "same", n_train=8, n_val=4)
    for name in sorted(p.name for p in a.iterdir() if p.is_file() and p.suffix != ".h5"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for name in ("coco2014_captions.h5", "train2014_vgg16_fc7_pca.h5", "val2014_vgg16_fc7_pca.h5"):
        with h5py.File(a / name) as fa, h5py.File(b / name) as fb:
            for key in fa:
                assert fa[key][()].tobytes() == fb[key][()].tobytes()
    assert sorted(p.name for p in (a / "images").iterdir()) == sorted(
        p.name for p in (b / "images").iterdir()
    )
    for p in (a / "images").iterdir():
        assert p.read_bytes() == (b / "images" / p.name).read_bytes()


def test_stale_folder_is_replaced_and_no_temporary_folder_is_left(small_home):
    stale = small_home / "embedded_scenes"
    stale.mkdir()
    (stale / "dataset.json").write_text(json.dumps({"generator_version": -1}))
    folder = ensure_embedded_dataset()
    assert (
        json.loads((folder / "dataset.json").read_text())["generator_version"] == generate.GENERATOR_VERSION
    )
    assert sorted(p.name for p in small_home.iterdir()) == ["embedded_scenes"]


def test_failed_generation_leaves_nothing_half_written(small_home):
    def boom(fraction, message):
        if fraction > 0.3:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        ensure_embedded_dataset(progress=boom)
    assert list(small_home.iterdir()) == []
    assert generate.is_complete(ensure_embedded_dataset())


def test_race_loser_uses_the_winners_folder(small_home, monkeypatch):
    real_generate = generate.generate_dataset

    def generate_while_another_process_wins(folder, final=None, **kwargs):
        real_generate(final.parent / "winner", final=final, **kwargs)
        os.rename(final.parent / "winner", final)  # the other process installs its folder first
        (final / "winner.txt").write_text("first")
        return real_generate(folder, final=final, **kwargs)

    monkeypatch.setattr(generate, "generate_dataset", generate_while_another_process_wins)
    folder = ensure_embedded_dataset()
    assert (folder / "winner.txt").read_text() == "first"
    assert sorted(p.name for p in small_home.iterdir()) == ["embedded_scenes"]


def test_unwritable_home_raises_data_file_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RNN_EXPLAINER_HOME", str(blocker))
    with pytest.raises(DataFileError, match="RNN_EXPLAINER_HOME"):
        ensure_embedded_dataset()


def test_generation_in_a_subprocess_relays_progress_and_leaves_nothing_in_the_caller(tmp_path, monkeypatch):
    """The server's way (ui.get_dataset): the full dataset, generated by another process."""
    monkeypatch.setenv("RNN_EXPLAINER_HOME", str(tmp_path))

    def not_here(*args, **kwargs):
        raise AssertionError("generated in the calling process")

    monkeypatch.setattr(generate, "generate_dataset", not_here)
    fractions = []
    folder = generate.ensure_embedded_dataset_in_subprocess(lambda f, m: fractions.append((f, m)))
    assert folder == (tmp_path / "embedded_scenes").resolve() and generate.is_complete(folder)
    assert fractions[0][1].startswith("Generating the embedded dataset") and fractions[-1][0] == 1.0
    assert [f for f, _ in fractions] == sorted(f for f, _ in fractions) and len(fractions) > 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["embedded_scenes"]
    calls = []
    assert generate.ensure_embedded_dataset_in_subprocess(lambda f, m: calls.append(f)) == folder
    assert calls == [1.0]  # already there: no process started


def test_generation_in_a_subprocess_raises_the_childs_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RNN_EXPLAINER_HOME", str(blocker))
    with pytest.raises(DataFileError, match="Cannot create the embedded dataset under .*RNN_EXPLAINER_HOME"):
        generate.ensure_embedded_dataset_in_subprocess()


def test_generation_in_a_subprocess_stops_when_the_caller_gives_up(tmp_path, monkeypatch):
    monkeypatch.setenv("RNN_EXPLAINER_HOME", str(tmp_path))

    def give_up(fraction, message):
        raise RuntimeError("the learner left")

    with pytest.raises(RuntimeError, match="the learner left"):
        generate.ensure_embedded_dataset_in_subprocess(give_up)
    children = [
        pid
        for pid in os.listdir("/proc")
        if pid.isdigit() and b"generate_reporting_to_stdout" in _command_line(pid) and int(pid) != os.getpid()
    ]
    assert children == [], "the generating process was left running"
    assert not generate.is_complete(tmp_path / "embedded_scenes")


def _command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:  # it ended meanwhile
        return b""


def test_load_scenes_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="scenes.json"):
        generate.load_scenes(tmp_path, "val")
