"""zsc — zero-shot clustering of unseen datasets with pretrained encoders (arXiv 2406.02465).

Stages flow one way: data -> encoders -> embed -> reduce -> cluster -> metrics -> results ->
analysis; profiles -> profile_results -> batch -> report -> cli compose them.
"""

from ._version import __version__
from .errors import ZscError


def recommended(*args, **kwargs):  # noqa: D103 — documented in zsc.recipe
    from .recipe import recommended as _recommended

    return _recommended(*args, **kwargs)


recommended.__doc__ = "The paper's recommended recipe (UMAP -> AC ward); see zsc.recipe.recommended."



def cluster_images(*args, **kwargs):  # noqa: D103 — documented in zsc.explore
    from .explore import cluster_images as _cluster_images

    return _cluster_images(*args, **kwargs)


cluster_images.__doc__ = ("Cluster a folder of your own images and write a report (`zsc cluster`); "
                          "see zsc.explore.cluster_images.")

__all__ = ["ZscError", "__version__", "cluster_images", "recommended"]
