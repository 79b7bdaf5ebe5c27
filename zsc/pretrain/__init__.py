"""Stage: pretraining the offline zoo (tier 2 encoders) on the Fashion-MNIST train split.

``recipes`` (what each member is trained with), ``augment`` (batch augmentations), ``methods``
(objectives), ``trainer`` (the resumable training loop and learning curve), ``cards`` (model
cards and the zoo README), ``release`` (splits, test-split kNN evaluation, running a member end
to end) and ``cli`` (``zsc zoo ...``; ``python -m zsc.pretrain ...``).

This stage depends on ``zsc.encoders`` (the backbones and the registry), ``zsc.data``,
``zsc.embed`` and ``zsc.metrics``; nothing in ``zsc.encoders`` imports it. Importing the package
imports nothing heavy.
"""
