"""``homeops manuals …``: the manual library's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="The manual library.", no_args_is_help=True)
console = Console()


@app.command("import")
def manuals_import(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of PDF manuals")],
    manufacturer: Annotated[
        str | None,
        typer.Option(
            "--manufacturer",
            "--brand",
            help="Manufacturer of every manual (default: the folder name; --brand is a deprecated alias)",
        ),
    ] = None,
    model: Annotated[list[str] | None, typer.Option(help="Model number(s) the manuals cover")] = None,
    manual_type: Annotated[
        str, typer.Option("--type", help="user, troubleshooting, installation, service …")
    ] = "user",
    process: Annotated[bool, typer.Option("--process/--no-process", help="Process (index) them now")] = True,
) -> None:
    """Bulk-import a folder of PDFs with the same de-duplication as uploads; prints new / duplicate / failed."""
    import asyncio

    from homeops.bootstrap import prepare_database
    from homeops.core.config import get_settings
    from homeops.manuals.importer import import_directory

    settings = get_settings()
    urls = prepare_database(settings)
    try:
        summary = asyncio.run(
            import_directory(
                settings,
                urls.owner,
                directory,
                manufacturer=manufacturer or directory.name,
                models=model or [],
                manual_type=manual_type,
                process=process,
                console=console,
            )
        )
    finally:
        urls.stop()
    table = Table("result", "count", title=f"Imported {directory}")
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)
