"""README's "Where things are" names every package and module of the library."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_map() -> dict[str, set[str]]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Where things are", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    entries: dict[str, set[str]] = {}
    for line in block.splitlines():
        head = re.match(r"^(\w+)/\s", line)
        if head:
            package = head.group(1)
            entries[package] = set()
        entries[package] |= set(re.findall(r"\w+", line))
    return entries


def test_readme_map_matches_the_library_tree():
    library = ROOT / "scripts" / "bloodsig"
    packages = {p.name: {m.stem for m in p.glob("*.py")} - {"__init__", "__main__"}
                for p in library.iterdir() if (p / "__init__.py").exists()}
    entries = readme_map()
    assert set(entries) == set(packages)
    for package, modules in packages.items():
        assert modules <= entries[package], f"{package}/: {sorted(modules - entries[package])}"
    assert not list(library.glob("[!_]*.py")), "library modules belong in a package"
