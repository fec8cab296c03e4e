"""Model definitions, the preprocessing shared by training and the edge, and released models.

``models.preprocessing`` is numpy/scipy only: the edge imports it, so training and serving run the
exact same code. Keras appears only inside definition modules that the edge never imports.
"""
