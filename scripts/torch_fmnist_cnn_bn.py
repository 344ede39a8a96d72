"""PyTorch baseline for the README's main job, `stitch train` with its defaults (model `cnn-bn`):
four conv–BatchNorm–ReLU layers (32, 32, pool, 64, 64, pool) and a dropout classifier (3136 → 256
with BatchNorm1d, 256 → 10), 4 epochs of AdamW (lr 3e-3, weight decay 5e-4) under a one-cycle
schedule stepped per batch, batch 64 (the last partial batch dropped), random crop (padding 2) and
horizontal flip, pixels normalised with mean 0.286 and std 0.353; 5,000 of the 60,000 training
images held out and evaluated after each epoch, the test set at the end; one worker process
preparing batches, 2 threads. Prints the validation accuracy per epoch, the test accuracy and the
wall time from the start of training to the end of the test pass (what `stitch train` reports).

Usage: /tmp/venv/bin/python scripts/torch_fmnist_cnn_bn.py [--seed N] [--data DIR] [--epochs N]
(DIR defaults to Debian's dataset-fashion-mnist location).
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, random_split

from torch_fmnist_cnn import idx


class Images(Dataset):
    """Fashion-MNIST as uint8 images, normalised (and augmented) one example at a time."""

    def __init__(self, directory, split, augment):
        self.x = torch.from_numpy(idx(f"{directory}/{split}-images-idx3-ubyte.gz").copy()).unsqueeze(1)
        self.y = torch.from_numpy(idx(f"{directory}/{split}-labels-idx1-ubyte.gz").astype("int64"))
        self.augment = augment

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        x = (self.x[i].float() / 255 - 0.286) / 0.353
        if self.augment:
            # RandomCrop(28, padding=2) with zero padding (torchvision pads the image, before Normalize) and RandomHorizontalFlip.
            x = F.pad(x, (2, 2, 2, 2), value=(0 - 0.286) / 0.353)
            top, left = torch.randint(0, 5, (2,)).tolist()
            x = x[:, top:top + 28, left:left + 28]
            if torch.rand(()) < 0.5:
                x = x.flip(-1)
        return x, self.y[i]


def model():
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 7 * 7, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(),
                         nn.Dropout(0.25), nn.Linear(256, 10))


def accuracy(net, loader):
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (net(x).argmax(1) == y).sum().item()
            total += len(y)
    return correct / total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    train_aug, train_plain = Images(args.data, "train", True), Images(args.data, "train", False)
    test = Images(args.data, "t10k", False)
    split = torch.Generator().manual_seed(args.seed)
    train_part, held_part = random_split(range(len(train_aug)), [55_000, 5_000], generator=split)
    train = torch.utils.data.Subset(train_aug, list(train_part))
    held = torch.utils.data.Subset(train_plain, list(held_part))
    loader = DataLoader(train, batch_size=64, shuffle=True, drop_last=True, num_workers=1, persistent_workers=True)
    held_loader = DataLoader(held, batch_size=500, num_workers=1)
    test_loader = DataLoader(test, batch_size=500, num_workers=1)
    net = model()
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=args.epochs * len(loader))
    start = time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(net(x), y).backward()
            optimizer.step()
            scheduler.step()
        print(f"epoch {epoch + 1}: validation accuracy {accuracy(net, held_loader):.4f} ({time.perf_counter() - start:.1f} s)", flush=True)
    test_accuracy = accuracy(net, test_loader)
    seconds = time.perf_counter() - start
    print(f"seed {args.seed}: test accuracy {test_accuracy:.4f}, training and test {seconds:.1f} s")


if __name__ == "__main__":
    main()
