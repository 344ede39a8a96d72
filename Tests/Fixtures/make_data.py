"""torch.utils.data's rules for the data utilities (DatasetTests, DataLoaderTests):
random_split's sizes from fractions (floor, then the remainder round-robin), random_split's
subsets (disjoint, covering, in permutation runs) and ConcatDataset's index mapping (bisect_right,
empty datasets passed over).

    /tmp/venv/bin/python Tests/Fixtures/make_data.py
"""
import warnings

import torch
from torch.utils.data import ConcatDataset, random_split

from fixture_util import save

warnings.simplefilter("ignore")  # "Length of split at index i is 0"
out = {}

split_cases = [
    (10, [0.3, 0.3, 0.4]),
    (10, [0.1, 0.2, 0.7]),
    (7, [0.25, 0.25, 0.25, 0.25]),
    (5, [0.1, 0.1, 0.8]),
    (3, [0.5, 0.5, 0.0]),
    (11, [0.5, 0.5]),
    (1, [0.5, 0.5]),
    (0, [0.6, 0.4]),
    (60000, [11 / 12, 1 / 12]),
    (101, [0.7, 0.2, 0.1]),
    (13, [1 / 3, 1 / 3, 1 / 3]),
]
for i, (n, fractions) in enumerate(split_cases):
    parts = random_split(range(n), fractions, generator=torch.Generator().manual_seed(i))
    out[f"split{i}.count"] = [n]
    out[f"split{i}.fractions"] = fractions
    out[f"split{i}.sizes"] = [len(p) for p in parts]

concat_sizes = [3, 0, 2, 0, 4, 1]
concat = ConcatDataset([list(range(s)) for s in concat_sizes])
located = []
for j in range(len(concat)):
    d = next(k for k, c in enumerate(concat.cumulative_sizes) if c > j)  # the dataset bisect_right picks
    local = j if d == 0 else j - concat.cumulative_sizes[d - 1]
    assert concat[j] == local
    located.append([d, local])
out["concat.sizes"] = concat_sizes
out["concat.cumulative"] = concat.cumulative_sizes
out["concat.locations"] = located

save("data", out)
