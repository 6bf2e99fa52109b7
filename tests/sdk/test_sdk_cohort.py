"""assign_cohort: deterministic from sha256, stable across processes, share close to ai_share."""

from __future__ import annotations

import subprocess
import sys

import aikpi
import pytest
from aikpi import Cohort

# First 8 bytes of sha256(salt + unit_id), computed outside Python with coreutils:
#   printf '%s' "$salt$id" | sha256sum | cut -c1-16
SHA256_PREFIXES = [
    ("", "user-1", "c6c289e49e9c05b2"),
    ("exp2", "user-1", "ccd13613017dc942"),
    ("", "user-2", "d92b69cfb82cecab"),
    ("exp2", "user-2", "45003ce7b44210d5"),
    ("", "user-3", "92303aa084836e18"),
    ("exp2", "user-3", "82b6a765fa4772fc"),
    ("", "team-a", "96c2886c51d1dfb4"),
    ("exp2", "team-a", "717eab63b5e502f0"),
    ("", "12345", "5994471abb01112a"),
    ("exp2", "12345", "67c6179f1febf9fe"),
    ("", "ticket-queue-7", "fd907123ec5a2690"),
    ("exp2", "ticket-queue-7", "e15ce6ef73467198"),
]


@pytest.mark.parametrize(("salt", "unit", "prefix"), SHA256_PREFIXES)
@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 0.8, 1.0])
def test_matches_sha256_reference(salt, unit, prefix, share):
    position = int(prefix, 16) / 2**64
    expected = Cohort.AI_ASSISTED if position < share else Cohort.BASELINE
    assert aikpi.assign_cohort(unit, ai_share=share, salt=salt) is expected


def test_some_fixed_answers():
    assert aikpi.assign_cohort("user-1") is Cohort.BASELINE  # position 0.776
    assert aikpi.assign_cohort("12345") is Cohort.AI_ASSISTED  # position 0.350
    assert aikpi.assign_cohort(12345) is Cohort.AI_ASSISTED  # integers as their decimal text
    assert aikpi.assign_cohort("user-2", salt="exp2") is Cohort.AI_ASSISTED  # 0.270
    assert aikpi.assign_cohort("user-2") == "baseline"  # a StrEnum: plain strings compare


def test_stable_in_another_process_with_other_hash_seed():
    ids = [f"unit-{i}" for i in range(200)]
    here = [aikpi.assign_cohort(i, ai_share=0.3).value for i in ids]
    code = (
        "import aikpi, sys\n"
        "ids = [f'unit-{i}' for i in range(200)]\n"
        "print(','.join(aikpi.assign_cohort(i, ai_share=0.3).value for i in ids))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert out.split(",") == here


@pytest.mark.parametrize("share", [0.1, 0.5, 0.75])
def test_share_is_close_to_ai_share(share):
    n = 10_000
    ai = sum(
        aikpi.assign_cohort(f"user-{i}", ai_share=share) is Cohort.AI_ASSISTED for i in range(n)
    )
    # binomial standard deviation is at most 50 for n=10k; allow 4 sigma
    assert abs(ai / n - share) < 0.02


def test_salt_reshuffles():
    ids = [f"user-{i}" for i in range(1000)]
    a = [aikpi.assign_cohort(i) for i in ids]
    b = [aikpi.assign_cohort(i, salt="experiment-2") for i in ids]
    changed = sum(x is not y for x, y in zip(a, b, strict=True))
    assert 350 < changed < 650  # independent halves: about half change arm


def test_bad_unit_ids():
    for bad in ("", None, 1.5, True):
        with pytest.raises(ValueError, match="unit_id"):
            aikpi.assign_cohort(bad)  # type: ignore[arg-type]
