"""Condition maps in, uint8 frames out, with the copies between host and GPU out of the network's way.

On CUDA, frame t goes:

    host map --(pinned, copy stream)--> device uint8 --(compute stream: encode, generate, to uint8 HWC)-->
    device uint8 --(copy stream, after the compute event)--> pinned host frame --(writer thread)--> encoder

Only uint8 crosses the bus (the float encoding is 4 to 40 times larger). The compute stream waits for
the upload of its own map only, never for a download; the writer thread waits for the download of the
frame it writes only (an event, which releases the GIL), so the host queues frame t+1's kernels while
frame t is copied back and encoded. Each frame in flight has its own slot (pinned and device buffers,
events), used again `depth` frames later, when its frame has been written (see FramePipeline).
On the CPU there is nothing to copy: maps are encoded and generated in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from v2vcli.errors import V2VError
from v2vcli.inference.sequential import SequentialGenerator, to_uint8, to_uint8_device


class MapEncoder:
    """A condition type's own encoding (v2vcli.conditions: a uint8 map -> (C, H, W) float), on the host
    or on the GPU.

    On the GPU it is a lookup table made by the type's own `encode` of every uint8 value (per channel for
    RGB maps), so it is that definition, not a copy of it; the first map is encoded both ways and a type
    whose encoding is not a per-pixel lookup is encoded on the host for the whole run.
    """

    def __init__(self, condition_type, num_classes: int, device: torch.device):
        self.condition_type, self.num_classes = condition_type, num_classes
        self.rgb = condition_type.stored_channels == 3
        # Class ids at or above num_classes are refused by the type's encode: the table stops there.
        self.values = min(num_classes, 256) if condition_type.class_ids else 256
        probe = np.arange(self.values, dtype=np.uint8)[None]  # (1, V): a map of every value
        if self.rgb:
            probe = np.repeat(probe[..., None], 3, axis=-1)
        self.table = self.host(probe)[:, 0].to(device)  # (C, V): channel c of value v
        self.on_device: bool | None = None  # decided on the first map

    def host(self, condition_map: np.ndarray) -> torch.Tensor:
        """(H, W[, 3]) uint8 -> (C, H, W) float on the host, by the type's encode (BadInput for a bad map)."""
        return self.condition_type.encode(condition_map[None], self.num_classes)[0]

    def fits(self, condition_map: np.ndarray) -> bool:
        """Whether the table encodes this map: the first map is checked against `host`, every map's
        values against the table's range (an index beyond it would stop the GPU)."""
        if int(condition_map.max(initial=0)) >= self.values:
            return False
        if self.on_device is None:
            table = self.table.cpu()
            self.on_device = torch.equal(self.lookup(torch.from_numpy(condition_map), table), self.host(condition_map))
        return self.on_device

    def lookup(self, maps: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """(H, W[, 3]) uint8 on the table's device -> (C, H, W) float."""
        table = self.table if table is None else table
        if not self.rgb:
            return table[:, maps.long()]
        height, width = maps.shape[:2]
        return table.gather(1, maps.permute(2, 0, 1).reshape(3, -1).long()).view(-1, height, width)


@dataclass
class Slot:
    """The buffers and events of one frame in flight (CUDA)."""

    host_map: torch.Tensor  # pinned (H, W[, 3]) uint8
    device_map: torch.Tensor
    device_frame: torch.Tensor  # (H, W, 3) uint8
    host_frame: torch.Tensor  # pinned
    uploaded: torch.cuda.Event
    generated: torch.cuda.Event
    downloaded: torch.cuda.Event


class Frame:
    """A generated frame on its way to the host. `pixels()`: (H, W, 3) uint8, once its copy is done; on
    CUDA a view of a pinned buffer that is used again `depth` frames later."""

    def __init__(self, pixels: np.ndarray | torch.Tensor, downloaded: torch.cuda.Event | None = None):
        self._pixels, self._downloaded = pixels, downloaded

    def pixels(self) -> np.ndarray:
        if self._downloaded is not None:
            self._downloaded.synchronize()
        return self._pixels.numpy() if isinstance(self._pixels, torch.Tensor) else self._pixels


class FramePipeline:
    """`submit(map)` queues the generation of one frame and returns its Frame at once (on CUDA).

    `depth`: frames in flight at most, i.e. submitted but whose `pixels()` the consumer still reads; the
    caller guarantees it (the writer's bounded queue, plus the frame it is writing, plus one).
    """

    def __init__(self, sequential: SequentialGenerator, encoder: MapEncoder, depth: int):
        self.sequential, self.encoder, self.depth = sequential, encoder, depth
        self.device = sequential.device
        self.cuda = self.device.type == "cuda"
        self.copy_stream = torch.cuda.Stream(self.device) if self.cuda else None
        self.slots: list[Slot] = []
        self.submitted = 0

    @torch.inference_mode()
    def submit(self, condition_map: np.ndarray) -> Frame:
        """One condition map (H, W[, 3]) uint8 at the model's size -> its generated Frame."""
        if not self.cuda:
            return Frame(to_uint8(self.sequential.tensor(self.encoder.host(condition_map))))
        slot = self._slot(condition_map)
        self.submitted += 1
        compute = torch.cuda.current_stream(self.device)
        if self.encoder.fits(condition_map):
            slot.host_map.numpy()[...] = condition_map
            with torch.cuda.stream(self.copy_stream):
                slot.device_map.copy_(slot.host_map, non_blocking=True)
                slot.uploaded.record()
            compute.wait_event(slot.uploaded)
            labels = self.encoder.lookup(slot.device_map)
        else:
            labels = self.encoder.host(condition_map).to(self.device)
        slot.device_frame.copy_(to_uint8_device(self.sequential.tensor(labels)))
        slot.generated.record(compute)
        with torch.cuda.stream(self.copy_stream):
            self.copy_stream.wait_event(slot.generated)
            slot.host_frame.copy_(slot.device_frame, non_blocking=True)
            slot.downloaded.record()
        return Frame(slot.host_frame, slot.downloaded)

    def _slot(self, condition_map: np.ndarray) -> Slot:
        """The next slot in turn, made at the first frames' size."""
        if self.slots and tuple(self.slots[0].host_map.shape) != condition_map.shape:
            raise V2VError(f"condition map {condition_map.shape} differs from the first one's "
                           f"{tuple(self.slots[0].host_map.shape)}")
        if len(self.slots) < self.depth:
            frame_shape = (*condition_map.shape[:2], 3)
            self.slots.append(Slot(
                host_map=torch.empty(condition_map.shape, dtype=torch.uint8, pin_memory=True),
                device_map=torch.empty(condition_map.shape, dtype=torch.uint8, device=self.device),
                device_frame=torch.empty(frame_shape, dtype=torch.uint8, device=self.device),
                host_frame=torch.empty(frame_shape, dtype=torch.uint8, pin_memory=True),
                uploaded=torch.cuda.Event(), generated=torch.cuda.Event(), downloaded=torch.cuda.Event()))
        return self.slots[self.submitted % self.depth]
