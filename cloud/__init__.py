"""The cloud tier: datasets, training, int8 conversion, evaluation and model publishing."""
