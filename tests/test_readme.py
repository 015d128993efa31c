"""The README's Python example runs as written and gives what the API gives."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README must carry a Python example"
    namespace: dict = {}
    exec(blocks[0], namespace)
    assert namespace["ev"].terms.shape == (namespace["ev"].order + 1,)
    assert namespace["pr"].mean.shape == (2,)


GUIDE = README.parent / "docs" / "guide.md"


def test_guide_python_example_runs():
    (block,) = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    namespace: dict = {}
    exec(block.replace("samples=100_000", "samples=2_000"), namespace)  # same code, a shorter Monte Carlo
    assert namespace["ev"].terms.shape == (namespace["ev"].order + 1,)
    assert namespace["pr"].var.shape == namespace["mc"].var.shape == namespace["ex"].var.shape == (2,)


def test_guide_verify_transcripts_say_what_perturbo_says(capsys):
    """Each ``$ perturbo verify ...`` line of the guide, run now, opens with the verdict printed below it."""
    import shlex

    from perturbo.cli import main

    transcripts = re.findall(r"\$ (perturbo verify [^\n#]*?)\s*(?:#[^\n]*)?\n(HOLDS|DOES NOT HOLD)", GUIDE.read_text())
    assert len(transcripts) >= 4
    for command, verdict in transcripts:
        status = main(shlex.split(command)[1:])
        out = capsys.readouterr().out
        assert out.startswith(verdict + ":") and status == (0 if verdict == "HOLDS" else 1), command


def test_every_citation_of_the_design_resolves_inside_the_repository():
    """Citations read "docs/design.md section N" and N is a heading of that file; nothing cites the team's external
    DESIGN.md or the background documents outside the repository."""
    root = README.parent
    headings = set(re.findall(r"^## (\d+)\. ", (root / "docs" / "design.md").read_text(), re.M))
    files = [README, root / "pyproject.toml"] + [
        path for folder in ("perturbo", "tests", "docs", "derivations", "benchmarks")
        for pattern in ("*.py", "*.md") for path in (root / folder).rglob(pattern) if path != Path(__file__).resolve()]
    cited = []
    for path in files:
        text = path.read_text(errors="replace")
        outside = re.search(r"DESIGN(\.md)? (section|§)|\.\./shared/", text)
        assert not outside, f"{path} cites a document outside the repository: {outside.group()}"
        cited += [(path, n) for n in re.findall(r"design\.md,? section (\d+)", text)]
    assert len(cited) >= 20
    unresolved = [(str(path.relative_to(root)), n) for path, n in cited if n not in headings]
    assert not unresolved, f"citations of sections docs/design.md does not have: {unresolved}"
