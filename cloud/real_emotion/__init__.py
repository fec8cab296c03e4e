"""Real EDA, PPG and ECG recordings for the emotion model's evaluation: sources, loaders, evaluation.

No real source found has stress or emotion labels (see ``shared/REAL_DATA.md``), so real recordings
check what can be checked without them: that the output does not depend on units, that the
probabilities are not saturated, and how the outputs are distributed (:mod:`cloud.real_emotion.evaluate`).
"""
