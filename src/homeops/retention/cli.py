"""``homeops retention …``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Data retention (seeds 000 and 003).", no_args_is_help=True)
console = Console()


@app.command("run")
def retention_run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would change; change nothing.")
    ] = False,
) -> None:
    """Apply the retention rules now (the worker also runs them daily) and print each count."""
    import asyncio

    from homeops.bootstrap import prepare_database
    from homeops.core.config import get_settings
    from homeops.retention.repository import RULES
    from homeops.retention.runner import run_from_cli

    rule_windows = {name: window for name, (window, _model, _condition) in RULES.items()}

    settings = get_settings()
    urls = prepare_database(settings)
    try:
        report = asyncio.run(run_from_cli(settings, urls.owner, dry_run=dry_run))
    finally:
        urls.stop()
    table = Table(
        "rule",
        "window (days)",
        "would change" if dry_run else "changed",
        title="Retention (dry run: nothing changed)" if dry_run else "Retention applied",
    )
    for name, count in report.counts.items():
        window = rule_windows.get(name)
        days = str(report.windows[window]) if window in report.windows else "per table (004)"
        table.add_row(name, days, str(count))
    console.print(table)
