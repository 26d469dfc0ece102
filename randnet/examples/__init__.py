"""Example user normalizations for ``--norm package.module:function`` (see :mod:`randnet.plugins`)."""
