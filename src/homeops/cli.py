"""The ``homeops`` command."""

from __future__ import annotations

import os
import signal
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from homeops.core.config import Settings, get_settings

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

app = typer.Typer(help="HomeOps: maintenance platform for homes and equipment.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
users_app = typer.Typer(help="User administration.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(demo_app, name="demo")
manuals_app = typer.Typer(help="The manual library.", no_args_is_help=True)
app.add_typer(manuals_app, name="manuals")
retention_app = typer.Typer(help="Data retention (seeds 000 and 003).", no_args_is_help=True)
app.add_typer(retention_app, name="retention")

console = Console()


def _settings() -> Settings:
    return get_settings()


def _describe(settings: Settings) -> str:
    if settings.database_url:
        return "external PostgreSQL (HOMEOPS_DATABASE_URL)"
    return f"embedded PostgreSQL in {settings.data_path / 'pgdata'}"


@app.command()
def serve(
    demo: Annotated[bool, typer.Option("--demo", help="Load demo users and homes (idempotent).")] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Start the database (embedded unless HOMEOPS_DATABASE_URL is set), migrate, and serve the API."""
    import uvicorn

    from homeops.app import create_app
    from homeops.bootstrap import prepare_database
    from homeops.core.logging import configure_logging
    from homeops.demo import DEMO_PASSWORD, DEMO_USERS, load_demo

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    with console.status(f"Starting {_describe(settings)} and migrating…"):
        urls = prepare_database(settings)
    try:
        if demo:
            with console.status("Loading demo data…"):
                created = load_demo(urls.owner, settings.bcrypt_rounds)
            console.print(f"[green]Demo data ready[/green] (created: {created})")
        base = f"http://{host}:{port}"
        console.print(f"[bold]HomeOps[/bold] on {base}  ·  API docs {base}/docs  ·  database: {_describe(settings)}")
        if demo:
            table = Table("email", "role", "password", title="Demo logins")
            for u in DEMO_USERS:
                table.add_row(u.email, u.role, DEMO_PASSWORD)
            console.print(table)
        console.print("Press Ctrl-C to stop.")
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal: make SIGTERM end the
        # process through SystemExit (as SIGINT does through KeyboardInterrupt) so PostgreSQL is stopped below.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        worker_url = urls.owner if settings.run_worker else None
        uvicorn.run(create_app(settings, urls.app, worker_url=worker_url), host=host, port=port, log_config=None)
    finally:
        urls.stop()
        console.print("Stopped.")


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run the ready jobs, then exit.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=32)] = 1,
) -> None:
    """Run background jobs (manual processing, …) apart from the API; PostgreSQL is the broker."""
    import asyncio

    import homeops.app  # noqa: F401  (imports every module that registers tasks)
    from homeops.bootstrap import prepare_database
    from homeops.core.jobs import Worker, registry
    from homeops.core.logging import configure_logging
    from homeops.core.storage import build_storage
    from homeops.manuals import tasks as manual_tasks
    from homeops.manuals.embeddings import load_embedder

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    urls = prepare_database(settings)
    manual_tasks.configure(build_storage(settings), load_embedder(settings.embedder))
    from homeops.notifications import tasks as notification_tasks

    notification_tasks.configure(settings)
    if settings.transcriber:
        from homeops.assistant import transcription

        transcription.install(transcription.load_transcriber(settings.transcriber))

    async def main() -> int:
        async with Worker(urls.owner, registry, concurrency=concurrency) as w:
            if once:
                return await w.drain()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await w.run(stop)
            return 0

    try:
        ran = asyncio.run(main())
        if once:
            console.print(f"Ran {ran} job(s).")
    finally:
        urls.stop()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations (as the database owner)."""
    from homeops.bootstrap import ensure_partitions
    from homeops.core.database import resolve_urls, upgrade

    urls = resolve_urls(_settings())
    try:
        upgrade(urls.owner, urls.app, revision)
        ensure_partitions(urls)
        console.print(f"[green]Upgraded to {revision}[/green]")
    finally:
        urls.stop()


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Revert migrations (default: one step)."""
    from alembic import command

    from homeops.core.database import alembic_config, resolve_urls

    urls = resolve_urls(_settings())
    try:
        command.downgrade(alembic_config(urls.owner), revision)
        console.print(f"[yellow]Downgraded to {revision}[/yellow]")
    finally:
        urls.stop()


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision."""
    from alembic import command

    from homeops.core.database import alembic_config, resolve_urls

    urls = resolve_urls(_settings())
    try:
        command.current(alembic_config(urls.owner), verbose=False)
    finally:
        urls.stop()


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("-m", "--message")],
    autogenerate: Annotated[bool, typer.Option("--autogenerate/--empty")] = True,
) -> None:
    """Create a new migration (autogenerated from the models by default)."""
    from alembic import command

    from homeops.core.database import alembic_config, resolve_urls

    urls = resolve_urls(_settings())
    try:
        command.revision(alembic_config(urls.owner), message=message, autogenerate=autogenerate)
    finally:
        urls.stop()


@users_app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True)],
    full_name: Annotated[str, typer.Option(prompt=True)] = "Administrator",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, envvar="HOMEOPS_ADMIN_PASSWORD")
    ] = "",
) -> None:
    """Create (or promote) an administrator."""
    from homeops.bootstrap import prepare_database
    from homeops.demo import create_user
    from homeops.identity.schemas import MIN_PASSWORD_LENGTH

    if len(password) < MIN_PASSWORD_LENGTH:
        console.print(f"[red]The password needs at least {MIN_PASSWORD_LENGTH} characters.[/red]")
        raise typer.Exit(2)
    settings = _settings()
    urls = prepare_database(settings)
    try:
        user_id = create_user(urls.owner, email, full_name, password, "admin", settings.bcrypt_rounds)
        console.print(f"[green]Admin ready:[/green] {email} ({user_id})")
    finally:
        urls.stop()


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo users, homes, members and rooms (idempotent)."""
    from homeops.bootstrap import prepare_database
    from homeops.demo import DEMO_PASSWORD, load_demo

    settings = _settings()
    urls = prepare_database(settings)
    try:
        created = load_demo(urls.owner, settings.bcrypt_rounds)
        console.print(f"[green]Demo data ready[/green] (created: {created}); password for every demo user: "
                      f"{DEMO_PASSWORD}")
    finally:
        urls.stop()


@manuals_app.command("import")
def manuals_import(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of PDF manuals")],
    brand: Annotated[str | None, typer.Option(help="Brand of every manual (default: the folder name)")] = None,
    model: Annotated[list[str] | None, typer.Option(help="Model number(s) the manuals cover")] = None,
    manual_type: Annotated[str, typer.Option("--type", help="user, troubleshooting, installation, service …")] = "user",
    process: Annotated[bool, typer.Option("--process/--no-process", help="Process (index) them now")] = True,
) -> None:
    """Bulk-import a folder of PDFs with the same de-duplication as uploads; prints new / duplicate / failed."""
    import asyncio

    from homeops.manuals.importer import import_directory

    settings = _settings()
    from homeops.bootstrap import prepare_database

    urls = prepare_database(settings)
    try:
        summary = asyncio.run(
            import_directory(settings, urls.owner, directory, brand=brand or directory.name, models=model or [],
                             manual_type=manual_type, process=process, console=console)
        )
    finally:
        urls.stop()
    table = Table("result", "count", title=f"Imported {directory}")
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would change; change nothing.")] = False,
) -> None:
    """Apply the retention rules now (the worker also runs them daily) and print each count."""
    import asyncio

    from homeops.bootstrap import prepare_database
    from homeops.retention.runner import run_from_cli

    settings = _settings()
    urls = prepare_database(settings)
    try:
        report = asyncio.run(run_from_cli(settings, urls.owner, dry_run=dry_run))
    finally:
        urls.stop()
    table = Table("rule", "window (days)", "would change" if dry_run else "changed",
                  title="Retention (dry run: nothing changed)" if dry_run else "Retention applied")
    windows = list(report.windows.values())
    for (name, count), days in zip(report.counts.items(), windows, strict=True):
        table.add_row(name, str(days), str(count))
    console.print(table)


def main() -> None:  # pragma: no cover
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    app()
