"""The machine a measurement names: the NVIDIA driver version read from /proc/driver/nvidia/version."""

from __future__ import annotations

import pytest

from designer.machine import driver_version

PROPRIETARY = (
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n"
    "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"
)
# the open kernel modules put "for x86_64" between the words and the version (seen on the lent H200, 2026-12-04,
# where the fingerprint read "driver for")
OPEN = (
    "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  "
    "(dvs-builder@U16-I1-N07-12-3)  Thu Jul 31 21:18:45 UTC 2025\n"
    "GCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)\n"
)


@pytest.mark.parametrize(("text", "version"), [(PROPRIETARY, "535.104.05"), (OPEN, "580.159.04")])
def test_the_driver_version_is_the_dotted_number_after_kernel_module(text: str, version: str) -> None:
    assert driver_version(text) == version


def test_a_text_without_a_kernel_module_version_names_none() -> None:
    # the GCC line's dotted number is not the driver's
    assert driver_version("NVRM version: NVIDIA UNIX Kernel Module\nGCC version:  gcc version 12.2.0\n") is None
    assert driver_version("") is None
