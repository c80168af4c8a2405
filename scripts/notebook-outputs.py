#!/usr/bin/env python3
"""Committed notebooks carry no outputs: stale outputs mislead, and the book shows the same
figures built fresh. `--check` fails (naming notebook and cell) if any notebook has outputs;
`--clear` removes them (run it before committing a notebook you executed in Jupyter).

usage: notebook-outputs.py --check|--clear [NB.ipynb ...]   (default: notebooks/*.ipynb)
"""
import json, pathlib, sys

mode = sys.argv[1] if len(sys.argv) > 1 else ""
if mode not in ("--check", "--clear"):
    sys.exit(__doc__)
root = pathlib.Path(__file__).resolve().parent.parent
paths = [pathlib.Path(p) for p in sys.argv[2:]] or sorted((root / "notebooks").glob("*.ipynb"))
dirty = 0
for path in paths:
    nb = json.loads(path.read_text())
    changed = False
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            if mode == "--check":
                print(f"{path}: cell {i} has outputs (run scripts/notebook-outputs.py --clear)")
                dirty += 1
            cell["outputs"], cell["execution_count"] = [], None
            changed = True
    if mode == "--clear" and changed:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        print(f"cleared {path}")
sys.exit(1 if dirty else 0)
