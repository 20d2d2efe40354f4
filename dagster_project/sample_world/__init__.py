"""The seeded, deterministic sample world: landing files for every source plus ground truth.

    from dagster_project.sample_world import WorldConfig, generate_world
    summary = generate_world(WorldConfig(people=5000, seed=42, out=Path("data")))
"""

from .config import WorldConfig, WorldSummary
from .generate import generate_world

__all__ = ["WorldConfig", "WorldSummary", "generate_world"]
