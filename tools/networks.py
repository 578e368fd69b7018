"""The network menu's encoders beyond Tianshou's MLP: convolutions over the images inside a flat
observation, the rest through the MLP beside them (one multi-input body); and a recurrent layer
(GRU or LSTM) over the observation history.

The flat observation a learner reads is ``history`` frames of ``frame_dim`` values each (the frame
stack of ``MDPDesign.history``), each frame holding the images an ``ImageSlice`` locates. Every image
is cut out of every frame, the frames' copies stacked as channels (the DQN way of giving a CNN
memory), and read by a conv stack sized from the image: a small stack (3×3 kernels, one stride 2)
for grid-sized images such as MiniGrid's 7×7×3 or MinAtar's 10×10×C, and the Nature DQN stack
(8/4, 4/2, 3/1) from 32 pixels on. Everything else in the frames (and ``extra_dim`` trailing values:
a critic's action) joins the conv features before the hidden layers.
"""

from __future__ import annotations

import torch
from tianshou.utils.net.common import MLP, ModuleWithVectorOutput
from torch import nn

from tools.schemas import ImageSlice

LARGE_IMAGE_SIDE = 32
RECURRENT_CELLS: dict[str, type[nn.RNNBase]] = {"gru": nn.GRU, "lstm": nn.LSTM}


def conv_stack(image: ImageSlice, in_channels: int) -> tuple[nn.Module, int]:
    """A conv stack for ``image`` with ``in_channels`` channels, and its output size."""
    if min(image.height, image.width) >= LARGE_IMAGE_SIDE:
        net = nn.Sequential(
            nn.Conv2d(in_channels, 32, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
    else:
        stride = 2 if min(image.height, image.width) >= 8 else 1
        net = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=stride, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
    with torch.no_grad():
        size = int(net(torch.zeros(1, in_channels, image.height, image.width)).shape[1])
    return net, size


class ImageVectorEncoder(ModuleWithVectorOutput):
    def __init__(
        self,
        frame_dim: int,
        history: int,
        images: list[ImageSlice],
        hidden_sizes: list[int],
        activation: type[nn.Module],
        norm_layer: type[nn.Module] | None = None,
        extra_dim: int = 0,
    ):
        if not images:
            raise ValueError("an image encoder needs at least one image in the observation")
        for im in images:
            if im.offset + im.size > frame_dim:
                raise ValueError(f"image at {im.offset} of {im.size} values does not fit a {frame_dim}-value frame")
        self.frame_dim, self.history, self.images, self.extra_dim = frame_dim, history, images, extra_dim
        convs, conv_out = [], 0
        for im in images:
            net, size = conv_stack(im, im.channels * history)
            convs.append(net)
            conv_out += size
        rest = torch.ones(frame_dim, dtype=torch.bool)
        for im in images:
            rest[im.offset : im.offset + im.size] = False
        rest_dim = int(rest.sum()) * history + extra_dim
        mlp = MLP(
            input_dim=conv_out + rest_dim, hidden_sizes=hidden_sizes, activation=activation, norm_layer=norm_layer
        )
        super().__init__(mlp.output_dim)
        self.convs = nn.ModuleList(convs)
        self.mlp = mlp
        self.register_buffer("rest", rest, persistent=False)

    def _image(self, frames: torch.Tensor, im: ImageSlice) -> torch.Tensor:
        n = frames.shape[0]
        raw = frames[:, :, im.offset : im.offset + im.size]
        if im.channels_first:
            x = raw.reshape(n, self.history, im.channels, im.height, im.width)
        else:
            x = raw.reshape(n, self.history, im.height, im.width, im.channels).permute(0, 1, 4, 2, 3)
        return x.reshape(n, self.history * im.channels, im.height, im.width)

    def forward(self, obs, state=None, info=None):
        x = torch.as_tensor(obs, dtype=torch.float32, device=next(self.parameters()).device)
        x = x.reshape(x.shape[0], -1)
        n, stacked = x.shape[0], self.frame_dim * self.history
        frames = x[:, :stacked].reshape(n, self.history, self.frame_dim)
        feats = [conv(self._image(frames, im)) for conv, im in zip(self.convs, self.images, strict=True)]
        feats.append(frames[:, :, self.rest].reshape(n, -1))
        if self.extra_dim:
            feats.append(x[:, stacked:])
        return self.mlp(torch.cat(feats, dim=1)), state


class HistoryRecurrentEncoder(ModuleWithVectorOutput):
    """A recurrent layer (``cell``: ``"gru"`` or ``"lstm"``) reading the ``history`` frames of a flat
    observation in order, each frame first embedded by a linear layer; its last output (and
    ``extra_dim`` trailing values: a critic's action) goes through the hidden layers.

    The recurrent state starts from zero at every step and runs over the frames the observation
    holds (``MDPDesign.history``, the frame stack), the way Tianshou trains its own recurrent
    networks on ``stack_num`` windows. Acting and learning read the same window, so nothing is
    carried between steps: collection, tests, export, ``play`` and resume need no recurrent state,
    and what happened before the window is not remembered.
    """

    def __init__(
        self,
        frame_dim: int,
        history: int,
        cell: str,
        hidden_sizes: list[int],
        activation: type[nn.Module],
        norm_layer: type[nn.Module] | None = None,
        extra_dim: int = 0,
    ):
        if cell not in RECURRENT_CELLS:
            raise ValueError(f"recurrent cell must be one of {sorted(RECURRENT_CELLS)}, got {cell!r}")
        width = hidden_sizes[0]
        mlp = MLP(input_dim=width + extra_dim, hidden_sizes=hidden_sizes, activation=activation, norm_layer=norm_layer)
        super().__init__(mlp.output_dim)
        self.frame_dim, self.history, self.extra_dim = frame_dim, history, extra_dim
        self.embed = nn.Sequential(nn.Linear(frame_dim, width), activation())
        self.rnn = RECURRENT_CELLS[cell](width, width, batch_first=True)
        self.mlp = mlp

    def forward(self, obs, state=None, info=None):
        x = torch.as_tensor(obs, dtype=torch.float32, device=next(self.parameters()).device)
        x = x.reshape(x.shape[0], -1)
        stacked = self.frame_dim * self.history
        frames = x[:, :stacked].reshape(x.shape[0], self.history, self.frame_dim)
        out, _ = self.rnn(self.embed(frames))
        feats = out[:, -1]
        if self.extra_dim:
            feats = torch.cat([feats, x[:, stacked:]], dim=1)
        return self.mlp(feats), state
