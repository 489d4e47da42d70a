"""Labs: experiments on real tensors and optimizers (BatchNorm statistics, feature maps,
learning-rate schedules, training). Unlike :mod:`vizapp.analysis`, which never runs real
arithmetic, a lab builds real weights and runs them — always on its own copy of a model."""
