"""The hand-computed study used across the analysis tests.

Three neurons (layer1#0, layer1#1, layer2#0), two raters who each rated every
neuron, three methods per response: 6 responses x 3 methods = 18 rows.

response  rater neuron     alpha  beta  shuffled-control  best              valid?
R1        r1    layer1#0   5      3     1                 alpha             yes
R2        r2    layer1#0   4      4     2                 beta (tie at 4)   yes
R3        r1    layer1#1   3      5     2                 beta              yes
R4        r2    layer1#1   4      2     3                 shuffled-control  no: 3 < 4
R5        r1    layer2#0   5      4     1                 alpha             yes
R6        r2    layer2#0   2      3     3                 shuffled-control  yes (tie at 3)
"""
import pandas as pd

METHODS = ["alpha", "beta", "shuffled-control"]
RESPONSES = [
    # response_id, rater, layer, unit, ratings (alpha, beta, control), best, positions shown (alpha, beta, control)
    ("R1", "r1", "layer1", 0, (5, 3, 1), "alpha", (0, 1, 2)),
    ("R2", "r2", "layer1", 0, (4, 4, 2), "beta", (2, 0, 1)),
    ("R3", "r1", "layer1", 1, (3, 5, 2), "beta", (1, 2, 0)),
    ("R4", "r2", "layer1", 1, (4, 2, 3), "shuffled-control", (0, 2, 1)),
    ("R5", "r1", "layer2", 0, (5, 4, 1), "alpha", (2, 1, 0)),
    ("R6", "r2", "layer2", 0, (2, 3, 3), "shuffled-control", (1, 0, 2)),
]
INVALID = {"R4": "best pick is not among the highest rated"}
FLAGGED_UNINTERPRETABLE = {"R6"}


def hand_frame() -> pd.DataFrame:
    rows = []
    for minute, (response_id, rater, layer, unit, ratings, best, positions) in enumerate(RESPONSES):
        for method, rating, position in zip(METHODS, ratings, positions):
            rows.append(
                {
                    "response_id": response_id, "rater": rater, "network": "toy-net", "layer": layer, "unit": unit,
                    "method": method, "rating": rating, "best": method == best,
                    "uninterpretable": response_id in FLAGGED_UNINTERPRETABLE, "none_fit": False,
                    "position": position, "submitted_at": pd.Timestamp(f"2026-01-01T10:0{minute}:00Z"),
                    "source": "local", "is_valid": response_id not in INVALID,
                    "invalid_reason": INVALID.get(response_id, ""), "text": f"{method} says {layer}#{unit}",
                }
            )
    frame = pd.DataFrame(rows)
    frame["best"] = frame["best"].astype("boolean")
    frame["position"] = frame["position"].astype("Int64")
    frame.attrs = {"methods": list(METHODS), "layers": ["layer1", "layer2"], "ask_best": True}
    return frame
