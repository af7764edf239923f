"""The vid2vid networks (generator, discriminators), their losses and the warping they share."""

from v2vcli.models.discriminators import Discriminators
from v2vcli.models.generator import Generator, count_parameters
from v2vcli.models.vgg import VGG19Features, load_vgg19
from v2vcli.models.warp import compose_flow, resample, resize_flow

__all__ = [
    "Discriminators",
    "Generator",
    "VGG19Features",
    "compose_flow",
    "count_parameters",
    "load_vgg19",
    "resample",
    "resize_flow",
]
