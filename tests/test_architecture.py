"""The design's boundaries, checked on the source: the engine never imports the simulator."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "eros"
# Only these may use the simulator: the demo wiring, the CLI that calls it, the backtest package
# (its harness runs the closed loop, its oracle reads the ground truth), the simulator itself.
ALLOWED = {"demo.py", "cli.py", "backtest"}


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_no_engine_module_imports_the_simulator() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "simulate" not in path.relative_to(PACKAGE).parts
        and not ALLOWED & set(path.relative_to(PACKAGE).parts)
        and any(module.startswith("eros.simulate") for module in imported_modules(path))
    ]
    assert offenders == []


def test_the_check_would_see_a_simulator_import(tmp_path: Path) -> None:
    sample = tmp_path / "stage.py"
    sample.write_text("from eros.simulate import build_world\n")
    assert "eros.simulate" in imported_modules(sample)


def test_only_clock_asks_the_system_time() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "clock.py" or "simulate" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "datetime.now(" in text or "time.time(" in text or "date.today(" in text:
            offenders.append(path.name)
    assert offenders == []
