"""PyTorch baseline for `stitch train --model cnn`: the small CNN of `fmnist_cnn_step`, 2 epochs,
Adam 1e-3, batch 64, pixels normalised with mean 0.286 and std 0.353, shuffled every epoch,
2 threads; prints the test accuracy and the wall time of the training.

Usage: /tmp/venv/bin/python scripts/torch_fmnist_cnn.py [--seed N] [--data DIR]
(DIR defaults to Debian's dataset-fashion-mnist location).
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn as nn


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def tensors(directory, split):
    images = idx(f"{directory}/{split}-images-idx3-ubyte.gz").astype(np.float32) / 255
    labels = idx(f"{directory}/{split}-labels-idx1-ubyte.gz").astype(np.int64)
    x = (torch.from_numpy(images).unsqueeze(1) - 0.286) / 0.353
    return x, torch.from_numpy(labels)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    (x, y), (tx, ty) = tensors(args.data, "train"), tensors(args.data, "t10k")
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(2):
        model.train()
        for batch in torch.randperm(len(x)).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        correct = sum((model(tx[i:i + 1000]).argmax(1) == ty[i:i + 1000]).sum().item() for i in range(0, len(tx), 1000))
    print(f"seed {args.seed}: test accuracy {correct / len(tx):.4f}, training {seconds:.1f} s")


if __name__ == "__main__":
    main()
