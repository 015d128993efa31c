"""The README's Python example runs as written and gives what the API gives."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README must carry a Python example"
    namespace: dict = {}
    exec(blocks[0], namespace)
    assert abs(namespace["ev"].terms.sum() - namespace["ev"].log_evidence) < 1e-12
    assert namespace["pr"].mean.shape == (2,)
