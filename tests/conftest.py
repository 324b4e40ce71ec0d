"""Test-wide settings: under CI, hypothesis draws the same examples every run (derandomised), so a green
run on a developer's machine with CI=true is the run CI makes."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
