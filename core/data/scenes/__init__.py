"""The embedded offline dataset of shape scenes, in the course's COCO layout.

spec (the world and the Scene), render (its image), grammar (its captions), check (a caption against a
scene), features (512-d pixel features in the role of VGG-16 fc7 + PCA), generate (the dataset on disk).
"""
