import json
from pathlib import Path

import pytest

VECTORS = json.loads((Path(__file__).parents[2] / "conformance" / "vectors.json").read_text())


@pytest.fixture(scope="session")
def vectors() -> dict:
    return VECTORS
