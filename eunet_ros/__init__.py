# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""eunet_ros: EUnet semantic segmentation for Formula Student driverless cars."""

__version__ = '0.1.0'
