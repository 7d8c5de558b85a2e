"""Independent references used by several one-class tests."""

import numpy as np


def brute_force_scores(test, inliers, radius, k, metric):
    """The paper's score by explicit loops over points and branches (float64)."""
    test, inliers = np.asarray(test, np.float64), np.asarray(inliers, np.float64)
    w = test.shape[1] // k
    out = np.zeros(len(test), int)
    for a in range(len(test)):
        for br in range(k):
            t = test[a, br * w : (br + 1) * w]
            for y in inliers[:, br * w : (br + 1) * w]:
                diff = np.abs(t - y)
                d = {"l1": diff.sum(), "l2": np.sqrt((diff**2).sum()), "linf": diff.max()}[metric]
                out[a] += d <= radius
    return out
