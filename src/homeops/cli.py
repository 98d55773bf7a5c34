"""The ``homeops`` command."""

from __future__ import annotations

import os
import signal
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from homeops import domains
from homeops.core.config import Settings, get_settings

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

app = typer.Typer(help="HomeOps: maintenance platform for homes and equipment.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
users_app = typer.Typer(help="User administration.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(demo_app, name="demo")
for _name, _commands in domains.commands():  # each domain's own commands (``homeops manuals …`` …)
    app.add_typer(_commands, name=_name)

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

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
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="API processes (default: the number of CPU cores).")
    ] = None,
) -> None:
    """Start the database (embedded unless HOMEOPS_DATABASE_URL is set), migrate, and serve the API.

    The API runs in ``--workers`` processes; the background worker runs once, in this process."""
    import uvicorn

    from homeops.bootstrap import prepare_database
    from homeops.core.logging import configure_logging
    from homeops.demo import DEMO_PASSWORD, DEMO_USERS, load_demo

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    processes = workers or os.cpu_count() or 1
    with console.status(f"Starting {_describe(settings)} and migrating…"):
        urls = prepare_database(settings)
    try:
        if demo:
            with console.status("Loading demo data…"):
                created = load_demo(urls.owner, settings.bcrypt_rounds)
            console.print(f"[green]Demo data ready[/green] (created: {created})")
        base = f"http://{host}:{port}"
        console.print(
            f"[bold]HomeOps[/bold] on {base}  ·  API docs {base}/docs  ·  database: {_describe(settings)}"
            f"  ·  {processes} API process(es)"
        )
        if demo:
            table = Table("email", "role", "password", title="Demo logins")
            for u in DEMO_USERS:
                table.add_row(u.email, u.role, DEMO_PASSWORD)
            console.print(table)
        console.print("Press Ctrl-C to stop.")
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal: make SIGTERM end the
        # process through SystemExit (as SIGINT does through KeyboardInterrupt) so PostgreSQL is stopped below.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        if processes == 1:
            from homeops.app import create_app

            worker_url = urls.worker if settings.run_worker else None
            # proxy_headers off: HomeOps itself believes X-Forwarded-* only from HOMEOPS_TRUSTED_PROXIES.
            uvicorn.run(
                create_app(settings, urls.app, worker_url=worker_url),
                host=host,
                port=port,
                log_config=None,
                proxy_headers=False,
            )
        else:
            # The API processes connect to the server started here (they inherit its URLs); the background
            # worker stays in this process, so there is exactly one.
            os.environ["HOMEOPS_DATABASE_URL"] = urls.owner.render_as_string(hide_password=False)
            os.environ["HOMEOPS_APP_DATABASE_URL"] = urls.app.render_as_string(hide_password=False)
            stop_worker = _background_worker(settings, urls.worker) if settings.run_worker else None
            try:
                uvicorn.run(
                    "homeops.app:app_from_environment",
                    factory=True,
                    host=host,
                    port=port,
                    workers=processes,
                    log_config=None,
                    proxy_headers=False,
                )
            finally:
                if stop_worker is not None:
                    stop_worker()
    finally:
        urls.stop()
        console.print("Stopped.")


def _background_worker(settings: Settings, owner: URL) -> Callable[[], None]:
    """Runs the job worker on its own event loop in a thread of this process; returns its stop function."""
    import asyncio
    import threading

    from homeops.audit.repository import write_audit
    from homeops.core.jobs import Worker, registry

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        domains.load_tasks()
        worker = Worker(
            owner,
            registry,
            runtime=domains.build_runtime(settings),
            bus=domains.event_bus(),
            audit_writer=write_audit,
        )
        loop.run_until_complete(worker.run(stop))

    thread = threading.Thread(target=run, name="homeops-worker", daemon=True)
    thread.start()

    def halt() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)

    return halt


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run the ready jobs, then exit.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=32)] = 1,
) -> None:
    """Run background jobs (manual processing, …) apart from the API; PostgreSQL is the broker."""
    import asyncio

    from homeops.audit.repository import write_audit
    from homeops.bootstrap import prepare_database
    from homeops.core.jobs import Worker, registry
    from homeops.core.logging import configure_logging

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    urls = prepare_database(settings)
    domains.load_tasks()
    runtime = domains.build_runtime(settings)

    async def main() -> int:
        async with Worker(
            urls.worker,
            registry,
            concurrency=concurrency,
            runtime=runtime,
            bus=domains.event_bus(),
            audit_writer=write_audit,
        ) as w:
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
        upgrade(urls.owner, urls.app, revision, worker=urls.worker)
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
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, envvar="HOMEOPS_ADMIN_PASSWORD"),
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
        console.print(
            f"[green]Demo data ready[/green] (created: {created}); password for every demo user: "
            f"{DEMO_PASSWORD}"
        )
    finally:
        urls.stop()


def main() -> None:  # pragma: no cover
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    app()
